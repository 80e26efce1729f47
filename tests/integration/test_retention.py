"""The nightly purge keeps what reports need and drops what we may not keep."""

from datetime import timedelta

from sqlalchemy import select

from service.db.models import AuditEntry, Delivery
from service.delivery.outbox import enqueue
from service.retention import purge
from subscribers.models import Subscriber


async def _delivery(s, key, now, status, body=b"x"):
    did = await enqueue(s, key=key, kind="test", recipient=f"{key}@example.dk", now=now, domain="example.dk")
    d = await s.get(Delivery, did)
    d.status, d.body = status, body
    return did


async def test_purge_drops_old_bodies_audit_and_unconfirmed_signups_only(runtime, clock):
    old = clock.now() - timedelta(days=400)
    async with runtime.db.transaction() as s:
        old_sent = await _delivery(s, "old-sent", old, "sent")
        old_queued = await _delivery(s, "old-queued", old, "queued")
        new_sent = await _delivery(s, "new-sent", clock.now(), "sent")
        s.add(AuditEntry(actor="a@x.dk", action="old", at=clock.now() - timedelta(days=800)))
        s.add(AuditEntry(actor="a@x.dk", action="recent", at=clock.now() - timedelta(days=10)))
        s.add(Subscriber(email="glemt@example.dk", status="pending", created_at=clock.now() - timedelta(days=31)))
        s.add(Subscriber(email="ny@example.dk", status="pending", created_at=clock.now() - timedelta(days=1)))
        s.add(Subscriber(email="aktiv@example.dk", status="active", created_at=old, confirmed_at=old))

    done = await purge(runtime)

    assert (done.bodies, done.audit, done.pending_signups) == (1, 1, 1)
    async with runtime.db.reader() as s:
        assert (await s.get(Delivery, old_sent)).body is None
        assert (await s.get(Delivery, old_sent)).status == "sent"  # the record stays for reports
        assert (await s.get(Delivery, old_queued)).body == b"x"  # not finished: never touched
        assert (await s.get(Delivery, new_sent)).body == b"x"
        assert list(await s.scalars(select(AuditEntry.action))) == ["recent"]
        emails = set(await s.scalars(select(Subscriber.email)))
        assert emails == {"ny@example.dk", "aktiv@example.dk"}
    # Running it again finds nothing more.
    again = await purge(runtime)
    assert (again.bodies, again.audit, again.pending_signups) == (0, 0, 0)
