"""Issue 9, fault catalogue items 1–5, 7, 8, 14 and 15, against real SMTP servers on
loopback and both databases. Each test is named after the item it checks."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from service.delivery.worker import Worker
from service.wiring import build_runtime
from subscribers.models import Subscriber, Suppression
from tests.conftest import SmtpSink, free_port, make_settings
from tests.integration import _delivery as h
from tests.integration._smtp_faults import RawSmtp


@pytest.fixture(autouse=True)
def renderers(runtime):
    h.install(runtime)


@pytest.fixture
async def make_runtime(db_url, tmp_path, clock):
    made = []

    async def make(port: int, **sections):
        rt = build_runtime(make_settings(db_url, tmp_path, port, **sections), clock=clock)
        h.install(rt)
        made.append(rt)
        return rt

    yield make
    for rt in made:
        await rt.close()


async def retry_until_settled(runtime, clock, rounds: int = 40) -> list:
    """Drain, move the clock to the next due attempt, repeat until nothing is pending."""
    history = []
    for _ in range(rounds):
        await Worker(runtime).drain()
        rows = await h.deliveries(runtime)
        history.append(rows)
        waiting = [d.next_attempt_at for d in rows.values() if d.status == "deferred"]
        if not waiting:
            return history
        clock.set(min(waiting) + timedelta(seconds=1))
    raise AssertionError("deliveries never settled")


async def test_item01_smtp_down_when_batch_starts_then_all_delivered(make_runtime, clock, db_kind):
    port = free_port()
    runtime = await make_runtime(port)
    ids = await h.queue(runtime, [f"r{i}@example.dk" for i in range(12)])
    await Worker(runtime).drain()
    rows = await h.deliveries(runtime)
    assert {rows[i].status for i in ids} == {"deferred"}
    assert all("no SMTP relay reachable" in rows[i].last_error for i in ids)
    assert all(rows[i].sent_at is None for i in ids)
    sink = SmtpSink("127.0.0.1", port)
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        clock.advance(hours=1)
        await Worker(runtime).drain()
        rows = await h.deliveries(runtime)
        assert {rows[i].status for i in ids} == {"sent"}
        assert sorted(r.rcpt_tos[0] for r in sink.received) == sorted(f"r{i}@example.dk" for i in range(12))
    finally:
        controller.stop()


async def test_item02_some_recipients_refused_with_4xx_are_requeued_not_sent(runtime, smtp_server, clock, db_kind):
    refused = {"fuld@example.dk", "graalist@example.dk"}
    for r in refused:
        smtp_server.rcpt_replies[r] = "450 4.2.1 mailbox busy, try later"
    ids = await h.queue(runtime, [f"ok{i}@example.dk" for i in range(8)] + sorted(refused))
    await Worker(runtime).drain()
    rows = await h.deliveries(runtime)
    by_rcpt = {rows[i].recipient: rows[i] for i in ids}
    for r in refused:
        assert by_rcpt[r].status == "deferred" and by_rcpt[r].sent_at is None
        assert "450" in by_rcpt[r].last_error and by_rcpt[r].next_attempt_at > clock.now()
    assert sum(1 for d in by_rcpt.values() if d.status == "sent") == 8
    smtp_server.rcpt_replies.clear()
    await retry_until_settled(runtime, clock)
    assert sorted(x.rcpt_tos[0] for x in smtp_server.received) == sorted(by_rcpt)  # each exactly once


async def test_item03_5xx_for_a_recipient_fails_suppresses_and_never_retries(runtime, smtp_server, clock, db_kind):
    sub_id = await h.add_subscriber(runtime, "findesikke@example.dk")
    smtp_server.rcpt_replies["findesikke@example.dk"] = "550 5.1.1 no such user"
    [i] = await h.queue(runtime, ["findesikke@example.dk"], subscriber_id=sub_id)
    [j] = await h.queue(runtime, ["findes@example.dk"], prefix="other")
    await Worker(runtime).drain()
    rows = await h.deliveries(runtime)
    assert rows[i].status == "failed" and "550" in rows[i].last_error and rows[i].attempts == 1
    assert rows[j].status == "sent"
    async with runtime.db.reader() as s:
        assert await s.scalar(select(func.count()).select_from(Suppression).where(Suppression.reason == "hard_bounce")) == 1
        assert (await s.get(Subscriber, sub_id)).status == "unsubscribed"
    clock.advance(days=3)
    assert await Worker(runtime).drain() == 0
    assert (await h.deliveries(runtime))[i].attempts == 1
    # A new message to the same address is cancelled before any SMTP traffic.
    [k] = await h.queue(runtime, ["findesikke@example.dk"], prefix="later")
    await Worker(runtime).drain()
    assert (await h.deliveries(runtime))[k].status == "cancelled"
    assert smtp_server.to("findesikke@example.dk") == []


@pytest.mark.parametrize("fault", ["421", "drop_mid_data", "451_after_data"])
async def test_item04_transient_faults_back_off_then_fail_visibly(fault, make_runtime, smtp_server, clock, db_kind):
    raw = None
    if fault == "drop_mid_data":
        raw = await RawSmtp("drop_mid_data").start()
        port = raw.port
    else:
        port = smtp_server.port
        if fault == "421":
            smtp_server.rcpt_replies["offer@example.dk"] = "421 4.3.2 service shutting down"
        else:
            smtp_server.data_reply = "451 4.3.0 temporary failure after data"
    try:
        runtime = await make_runtime(port, delivery={"give_up_after_hours": 3, "retry_base_seconds": 60})
        [i] = await h.queue(runtime, ["offer@example.dk"])
        history = await retry_until_settled(runtime, clock)
    finally:
        if raw is not None:
            await raw.stop()
    final = history[-1][i]
    assert final.status == "failed" and final.sent_at is None
    assert "gave up after 3 h" in final.last_error
    expected = {"421": "421", "drop_mid_data": "connection lost at DATA", "451_after_data": "451"}[fault]
    assert expected in final.last_error
    # Exponential backoff: the waits between attempts grow.
    times = [rows[i].next_attempt_at for rows in history[:-1]]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    assert len(gaps) >= 3 and all(later > earlier for earlier, later in zip(gaps, gaps[1:3]))
    assert final.attempts == len(history)
    assert smtp_server.received == []


async def test_item05_no_250_after_data_retries_once_with_same_message_id(make_runtime, clock, db_kind):
    class SlowOnce(SmtpSink):
        slow = 1

        async def handle_DATA(self, server, session, envelope):
            await super().handle_DATA(server, session, envelope)
            if self.slow:
                self.slow -= 1
                await asyncio.sleep(1.5)  # longer than the client's timeout
            return "250 OK"

    sink = SlowOnce("127.0.0.1", free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        runtime = await make_runtime(sink.port, mail={"smtp": {"host": "127.0.0.1", "port": sink.port, "timeout_seconds": 0.5}})
        [i] = await h.queue(runtime, ["langsom@example.dk"])
        await Worker(runtime).drain()
    finally:
        controller.stop()
    d = (await h.deliveries(runtime))[i]
    assert d.status == "sent" and d.possible_duplicate and d.attempts == 2
    copies = sink.to("langsom@example.dk")
    assert len(copies) == 2
    assert {c.message["Message-ID"] for c in copies} == {d.message_id}


async def test_item07_message_that_never_renders_is_set_aside_and_the_rest_goes_on(runtime, smtp_server, clock, db_kind):
    bad = await h.queue(runtime, ["daarlig@example.dk"], kind="t_broken", prefix="bad")
    good = await h.queue(runtime, [f"god{i}@example.dk" for i in range(5)])
    await retry_until_settled(runtime, clock)
    rows = await h.deliveries(runtime)
    assert rows[bad[0]].status == "failed"
    assert rows[bad[0]].attempts == runtime.settings.delivery.render_max_attempts
    assert "set aside" in rows[bad[0]].last_error and "template exploded" in rows[bad[0]].last_error
    assert all(rows[g].status == "sent" for g in good)
    assert len(smtp_server.received) == 5


async def test_item08_two_workers_at_once_send_each_delivery_once(make_runtime, smtp_server, db_kind):
    first = await make_runtime(smtp_server.port, delivery={"batch_size": 20})
    second = await make_runtime(smtp_server.port, delivery={"batch_size": 20})
    recipients = [f"m{i}@example.dk" for i in range(300)]
    await h.queue(first, recipients)
    # A job fired twice queues nothing new (the idempotency key).
    assert set(await h.queue(second, recipients)) == {None}
    a, b = Worker(first, name="w1"), Worker(second, name="w2")
    counts = await asyncio.gather(a.drain(), b.drain())
    assert sum(counts) == 300 and min(counts) > 0
    got = sorted(r.rcpt_tos[0] for r in smtp_server.received)
    assert got == sorted(recipients)
    rows = await h.deliveries(first)
    assert {d.status for d in rows.values()} == {"sent"} and {d.claimed_by for d in rows.values()} == {"w1", "w2"}


async def test_item14_hostile_subject_from_data_never_reaches_the_wire(runtime, smtp_server, clock, db_kind):
    [i] = await h.queue(runtime, ["offer@example.dk"], kind="t_hostile", params={"subject": "Hej\r\nBcc: alle@example.com"})
    [j] = await h.queue(runtime, ["offer2@example.dk"], kind="t_hostile", prefix="u",
                        params={"subject": "=?utf-8?q?Hej=0ABcc:_alle@example.com?="})
    await retry_until_settled(runtime, clock)
    rows = await h.deliveries(runtime)
    assert rows[i].status == "failed" and "line break" in rows[i].last_error
    # The look-alike of an encoded word is sent encoded by us: shown as written, no Bcc (catalogue 35).
    assert rows[j].status == "sent"
    [got] = smtp_server.received
    assert got.rcpt_tos == ["offer2@example.dk"] and "Bcc" not in got.message
    assert str(got.message["Subject"]) == "=?utf-8?q?Hej=0ABcc:_alle@example.com?="


async def test_item15_dkim_verifies_on_the_received_bytes(make_runtime, smtp_server, tmp_path, db_kind):
    import dkim

    from tests.unit.test_mime import _keypair

    key, record = _keypair(tmp_path)
    runtime = await make_runtime(
        smtp_server.port,
        mail={"dkim": {"enabled": True, "domain": "budbringer.example", "selector": "bb1", "private_key_file": str(key)}},
    )
    await h.queue(runtime, ["dkim@example.dk"])
    await Worker(runtime).drain()
    [got] = smtp_server.received
    lookup = lambda name, timeout=5: record if name == b"bb1._domainkey.budbringer.example." else None  # noqa: E731
    assert dkim.verify(got.data, dnsfunc=lookup)
    msg = got.message
    assert msg["List-Unsubscribe"].startswith("<http://127.0.0.1:8080/afmeld/")
    assert "list-unsubscribe-post" in " ".join(str(msg["DKIM-Signature"]).split())
