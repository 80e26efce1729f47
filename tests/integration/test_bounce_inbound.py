"""Bounces and complaints sent to the bounce address over SMTP (issue 9 item 17, issue 7)."""

from __future__ import annotations


import aiosmtplib
import pytest
from sqlalchemy import func, select

from service.bounces.inbound import start_bounce_server
from service.bounces.process import apply_report
from service.db.campaigns import PressContact
from service.db.models import Bounce
from service.delivery.worker import Worker
from service.wiring import build_runtime
from subscribers.models import Subscriber, Suppression
from tests.conftest import make_settings
from tests.integration import _delivery as h
from tests.integration._reports import arf, dsn

BOUNCE = "bounces@budbringer.example"


@pytest.fixture(autouse=True)
def renderers(runtime):
    h.install(runtime)


@pytest.fixture
async def runtime(db_url, tmp_path, clock, smtp_server):
    settings = make_settings(db_url, tmp_path, smtp_server.port, mail={"bounce_address": BOUNCE},
                             delivery={"soft_bounce_threshold": 3, "soft_bounce_decay_days": 30})
    rt = build_runtime(settings, clock=clock)
    h.install(rt)
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


# ------------------------------------------------------------------ catalogue 27: the bounce bomb


def _bomb(report: bytes, parts: int) -> bytes:
    """A real report with `parts` tiny junk parts after its own (~1.4 MB for 40,000)."""
    junk = b"".join(b"--BOUND\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(parts))
    return report.replace(b"\r\n--BOUND--\r\n", b"\r\n" + junk + b"--BOUND--\r\n")


def _many_recipients(to: str, first: str, others: int) -> bytes:
    """A DSN without the original's Message-ID that names `first` and then `others` more."""
    blocks = "".join(f"Final-Recipient: rfc822; {a}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
                     for a in [first, *(f"nr{i}@example.dk" for i in range(others))])
    return (f"To: {to}\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
            "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.dk\r\n\r\n"
            f"{blocks}--B--\r\n").encode()


async def test_item27_bounce_bomb_to_forty_recipients_is_read_once_while_healthz_answers(
        runtime, smtp_server, endpoint, client, db_kind):
    """~1.4 MB, 40,000 tiny parts, sent to 40 signed return addresses, with the web app in the
    same event loop (as `budbringer run` runs by default): RCPTs past the cap get 452, the
    report is applied once (one Bounce row, not one per RCPT), and /healthz answers within a
    second throughout. Before the fix it was parsed once per RCPT on the loop (~39 s)."""
    from tests.integration._probe import Probe

    _, sub_id, got = await sent_message(runtime, smtp_server, "bombe@example.dk")
    raw = _bomb(dsn(got.data, recipient="bombe@example.dk", to=got.mail_from), 40_000)
    assert len(raw) > 1_400_000
    rcpts = [got.mail_from] + [f"bounces+{'a' * 14}{chr(98 + i // 20)}{chr(98 + i % 20)}@budbringer.example"
                               for i in range(39)]
    async with Probe(client) as probe:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=endpoint, timeout=60) as smtp:
            refused, _ = await smtp.sendmail("", rcpts, raw)
    probe.assert_healthy()
    assert len(refused) == 35 and {r.code for r in refused.values()} == {452}
    sub, suppressed, bounces = await state(runtime, sub_id)
    assert sub.status == "unsubscribed" and suppressed == 1
    assert [(b.email, b.kind) for b in bounces] == [("bombe@example.dk", "hard")]


async def test_item27_a_report_naming_twenty_thousand_recipients_costs_a_few_statements(
        runtime, smtp_server, endpoint, db_kind):
    """No Message-ID in the report, so the delivery is looked for by recipient: one query for
    the first recipient blocks (at most 10 are read), not one per Final-Recipient inside a
    write transaction. The report still reaches the one real recipient."""
    from tests.integration._probe import Statements

    _, sub_id, got = await sent_message(runtime, smtp_server, "mange@example.dk")
    raw = _many_recipients(got.mail_from, "mange@example.dk", 20_000)
    with Statements(runtime.db.engine) as sql:
        await send_to(endpoint, got.mail_from, raw)
    assert sql.count <= 20, f"{sql.count} SQL statements for one report"
    sub, suppressed, bounces = await state(runtime, sub_id)
    assert sub.status == "unsubscribed" and suppressed == 1
    assert [b.email for b in bounces] == ["mange@example.dk"]
