"""Bounces and complaints sent to the bounce address over SMTP (issue 9 item 17, issue 7)."""

from __future__ import annotations

from datetime import timedelta

import aiosmtplib
import pytest
from sqlalchemy import func, select

from service.bounces.inbound import start_bounce_server
from service.bounces.process import apply_report
from service.db.models import Bounce, PressContact
from service.delivery.worker import Worker
from service.runtime import build_runtime
from subscribers.models import Subscriber, Suppression
from tests.conftest import make_settings
from tests.integration import _delivery as h
from tests.integration._reports import arf, dsn

BOUNCE = "bounces@budbringer.example"


@pytest.fixture(autouse=True)
def renderers():
    saved = h.install()
    yield
    h.uninstall(saved)


@pytest.fixture
async def runtime(db_url, tmp_path, clock, smtp_server):
    settings = make_settings(db_url, tmp_path, smtp_server.port, mail={"bounce_address": BOUNCE},
                             delivery={"soft_bounce_threshold": 3, "soft_bounce_decay_days": 30})
    rt = build_runtime(settings, clock=clock)
    yield rt
    await rt.close()


@pytest.fixture
async def endpoint(runtime):
    server = await start_bounce_server(runtime, host="127.0.0.1", port=0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def send_to(port: int, rcpt: str, raw: bytes) -> None:
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=5) as client:
        await client.sendmail("", [rcpt], raw)


async def sent_message(runtime, smtp_server, email: str, **kw):
    sub_id = kw.pop("subscriber_id", None)
    if sub_id is None and kw.get("press_contact_id") is None:
        sub_id = await h.add_subscriber(runtime, email)
    [delivery_id] = await h.queue(runtime, [email], subscriber_id=sub_id, prefix=email, **kw)
    await Worker(runtime).drain()
    [got] = smtp_server.to(email)
    return delivery_id, sub_id, got


async def state(runtime, sub_id):
    async with runtime.db.reader() as s:
        sub = await s.get(Subscriber, sub_id) if sub_id else None
        return (
            sub,
            await s.scalar(select(func.count()).select_from(Suppression)),
            list((await s.scalars(select(Bounce))).all()),
        )


async def test_item17_hard_bounce_sent_to_the_bounce_address_suppresses(runtime, smtp_server, endpoint, db_kind):
    delivery_id, sub_id, got = await sent_message(runtime, smtp_server, "vaek@example.dk")
    assert got.mail_from.startswith("bounces+") and got.mail_from.endswith("@budbringer.example")
    report = dsn(got.data, recipient="vaek@example.dk", to=got.mail_from)
    await send_to(endpoint, got.mail_from, report)
    sub, suppressed, bounces = await state(runtime, sub_id)
    assert sub.status == "unsubscribed" and suppressed == 1
    [b] = bounces
    assert (b.email, b.kind, b.delivery_id) == ("vaek@example.dk", "hard", delivery_id)
    assert "5.1.1" in b.diagnostic
    # The next message to that address is never sent.
    [later] = await h.queue(runtime, ["vaek@example.dk"], prefix="later")
    await Worker(runtime).drain()
    assert (await h.deliveries(runtime))[later].status == "cancelled"


async def test_item17_forged_bounce_changes_nothing(runtime, smtp_server, endpoint, db_kind):
    _, sub_id, got = await sent_message(runtime, smtp_server, "offer@example.dk")
    wrong = "bounces+aaaaaaaaaaaaaaaa@budbringer.example"
    # To the plain address, to a wrong tag, and a tag copied from another message.
    await send_to(endpoint, BOUNCE, dsn(got.data, recipient="offer@example.dk", to=BOUNCE))
    await send_to(endpoint, wrong, dsn(got.data, recipient="offer@example.dk", to=wrong))
    _, _, other = await sent_message(runtime, smtp_server, "anden@example.dk")
    await send_to(endpoint, other.mail_from, dsn(got.data, recipient="offer@example.dk", to=other.mail_from))
    sub, suppressed, bounces = await state(runtime, sub_id)
    assert sub.status == "active" and suppressed == 0 and bounces == []
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await send_to(endpoint, "postmaster@budbringer.example", b"Subject: x\r\n\r\nx\r\n")


async def test_item17_arf_complaint_suppresses(runtime, smtp_server, endpoint, db_kind):
    delivery_id, sub_id, got = await sent_message(runtime, smtp_server, "klager@example.dk")
    await send_to(endpoint, BOUNCE, arf(got.data, recipient="klager@example.dk", return_path=got.mail_from))
    sub, suppressed, bounces = await state(runtime, sub_id)
    assert sub.status == "unsubscribed" and suppressed == 1
    assert [(b.kind, b.delivery_id) for b in bounces] == [("complaint", delivery_id)]


async def test_item17_soft_bounces_count_to_the_threshold_and_decay(runtime, smtp_server, clock, db_kind):
    sub_id = await h.add_subscriber(runtime, "fuld@example.dk")

    async def soft(n: int):
        [d] = await h.queue(runtime, ["fuld@example.dk"], subscriber_id=sub_id, prefix=f"s{n}")
        await Worker(runtime).drain()
        got = smtp_server.to("fuld@example.dk")[-1]
        return await apply_report(runtime, dsn(got.data, recipient="fuld@example.dk", to=got.mail_from,
                                               status="4.2.2", action="delayed"), envelope_to=got.mail_from)

    assert (await soft(1)).kind == "soft"
    await soft(2)
    clock.advance(days=31)  # the count decays: this is the first again
    await soft(3)
    sub, suppressed, _ = await state(runtime, sub_id)
    assert (sub.status, sub.soft_bounces, suppressed) == ("active", 1, 0)
    await soft(4)
    result = await soft(5)
    sub, suppressed, bounces = await state(runtime, sub_id)
    assert result.suppressed == ["fuld@example.dk"]
    assert sub.status == "unsubscribed" and suppressed == 1 and len(bounces) == 5


async def test_press_contact_hard_bounce_marks_the_contact_bounced(runtime, smtp_server, clock, db_kind):
    now = clock.now()
    async with runtime.db.transaction() as s:
        pc = PressContact(email="redaktion@avis.example.dk", name="Avis", created_at=now, updated_at=now)
        s.add(pc)
        await s.flush()
        pc_id = pc.id
    _, _, got = await sent_message(runtime, smtp_server, "redaktion@avis.example.dk", press_contact_id=pc_id)
    result = await apply_report(runtime, dsn(got.data, recipient="redaktion@avis.example.dk", to=got.mail_from))
    assert result.status == "applied"
    async with runtime.db.reader() as s:
        assert (await s.get(PressContact, pc_id)).status == "bounced"


async def test_item17_forged_complaint_changes_nothing(runtime, smtp_server, endpoint, db_kind):
    """An ARF complaint about a real message of ours, but whose quoted return address is not
    that message's signed one (made up, the plain address, or another message's tag), and
    one about an address we never wrote to: nobody is suppressed or unsubscribed."""
    _, sub_id, got = await sent_message(runtime, smtp_server, "offer@example.dk")
    _, _, other = await sent_message(runtime, smtp_server, "anden@example.dk")
    for return_path in ("bounces+aaaaaaaaaaaaaaaa@budbringer.example", BOUNCE, other.mail_from):
        await send_to(endpoint, BOUNCE, arf(got.data, recipient="offer@example.dk", return_path=return_path))
    invented = b"From: nyheder@budbringer.example\r\nTo: ukendt@example.dk\r\nMessage-ID: <x@y>\r\n\r\nx\r\n"
    await send_to(endpoint, BOUNCE, arf(invented, recipient="ukendt@example.dk", return_path=got.mail_from))
    sub, suppressed, bounces = await state(runtime, sub_id)
    assert sub.status == "active" and suppressed == 0 and bounces == []
