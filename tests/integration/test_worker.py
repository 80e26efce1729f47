"""The send worker against a real aiosmtpd server and both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from service.delivery.worker import Worker
from tests.integration import _delivery as h


@pytest.fixture(autouse=True)
def renderers(runtime):
    h.install(runtime)


async def test_sends_each_queued_delivery_once_and_records_it(runtime, smtp_server, db_kind):
    from prometheus_client import REGISTRY

    def sent_metric() -> float:
        return REGISTRY.get_sample_value("budbringer_delivery_outcomes_total", {"outcome": "sent"}) or 0.0

    before = sent_metric()
    ids = await h.queue(runtime, [f"modtager{i}@example.dk" for i in range(25)])
    sent = await Worker(runtime).drain()
    assert sent == 25
    assert sent_metric() - before == 25
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == sorted(f"modtager{i}@example.dk" for i in range(25))
    rows = await h.deliveries(runtime)
    for i in ids:
        d = rows[i]
        assert d.status == "sent" and d.sent_at is not None and d.lease_until is None
        assert d.subject.startswith("Nye ledighedstal for Århus")
        got = smtp_server.to(d.recipient)[0]
        assert got.data.replace(b"\r\n", b"\n") == d.body.replace(b"\r\n", b"\n")
        msg = got.message
        assert msg["Message-ID"] == d.message_id
        assert msg["Subject"] == d.subject
    # Nothing left: a second drain sends nothing more.
    assert await Worker(runtime).drain() == 0
    assert len(smtp_server.received) == 25


async def test_cancelled_when_subscriber_left_or_address_suppressed(runtime, smtp_server, db_kind):
    from service.bounces.audience import suppress

    active = await h.add_subscriber(runtime, "aktiv@example.dk")
    left = await h.add_subscriber(runtime, "forladt@example.dk", status="unsubscribed")
    pending = await h.add_subscriber(runtime, "afventer@example.dk", status="pending")
    a = await h.queue(runtime, ["aktiv@example.dk"], subscriber_id=active, prefix="a")
    b = await h.queue(runtime, ["forladt@example.dk"], subscriber_id=left, prefix="b")
    c = await h.queue(runtime, ["afventer@example.dk"], subscriber_id=pending, prefix="c")
    d = await h.queue(runtime, ["spaerret@example.dk"], prefix="d")
    async with runtime.db.transaction() as s:
        await suppress(s, "Spaerret@Example.dk", reason="manual", now=runtime.clock.now())
    await Worker(runtime).drain()
    rows = await h.deliveries(runtime)
    assert rows[a[0]].status == "sent"
    assert rows[b[0]].status == "cancelled" and "unsubscribed" in rows[b[0]].last_error
    assert rows[c[0]].status == "cancelled"  # an alert never goes to an unconfirmed subscriber
    assert rows[d[0]].status == "cancelled" and "suppressed" in rows[d[0]].last_error
    assert [r.rcpt_tos for r in smtp_server.received] == [["aktiv@example.dk"]]


async def test_expired_lease_is_reclaimed_and_marked_possible_duplicate(runtime, smtp_server, clock, db_kind):
    from service.delivery.claim import claim_batch

    [i] = await h.queue(runtime, ["efterladt@example.dk"])
    # A worker claims it and dies before sending or recording.
    assert await claim_batch(runtime.db, worker="dead", now=clock.now(), limit=10, lease_seconds=60) == [i]
    assert await Worker(runtime).drain() == 0  # still leased: nobody else takes it
    clock.advance(seconds=61)
    assert await Worker(runtime).drain() == 1
    d = (await h.deliveries(runtime))[i]
    assert d.status == "sent" and d.possible_duplicate and d.attempts == 2
    assert len(smtp_server.to("efterladt@example.dk")) == 1


async def test_message_id_is_the_same_on_every_retry(runtime, smtp_server, clock, db_kind):
    smtp_server.rcpt_replies["senere@example.dk"] = "451 4.7.1 try again later"
    [i] = await h.queue(runtime, ["senere@example.dk"])
    await Worker(runtime).drain()
    d = (await h.deliveries(runtime))[i]
    assert d.status == "deferred" and d.next_attempt_at > clock.now()
    del smtp_server.rcpt_replies["senere@example.dk"]
    clock.set(d.next_attempt_at + timedelta(seconds=1))
    await Worker(runtime).drain()
    d2 = (await h.deliveries(runtime))[i]
    assert d2.status == "sent" and d2.attempts == 2
    assert smtp_server.to("senere@example.dk")[0].message["Message-ID"] == d.message_id


async def test_run_forever_sends_new_work_until_stopped(runtime, smtp_server, db_kind):
    import asyncio

    stop = asyncio.Event()
    task = asyncio.create_task(Worker(runtime).run_forever(stop))
    await h.queue(runtime, ["loebende@example.dk"])
    await smtp_server.wait_for(1, timeout=5)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert [r.rcpt_tos for r in smtp_server.received] == [["loebende@example.dk"]]


async def test_rate_cap_spreads_sends(db_url, tmp_path, clock, smtp_server, db_kind):
    import time

    from service.wiring import build_runtime
    from tests.conftest import make_settings

    rt = build_runtime(make_settings(db_url, tmp_path, smtp_server.port, delivery={"rate_per_second": 4}), clock=clock)

    h.install(rt)
    try:
        await h.queue(rt, [f"rate{i}@example.dk" for i in range(8)])
        started = time.monotonic()
        assert await Worker(rt).drain() == 8
        # A bucket of 4 goes at once; the other 4 leak out at 4 per second.
        assert time.monotonic() - started >= 0.7
        assert len(smtp_server.received) == 8
    finally:
        await rt.close()
