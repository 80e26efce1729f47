"""Keep no more than we need: the nightly purge (run by the scheduler, or `budbringer purge`).

- Stored message bodies of finished deliveries older than `retention.delivery_body_days`
  are dropped; the delivery row (who, what, when, outcome) stays for reports.
- Audit entries older than `retention.audit_days` are deleted.
- Signups never confirmed are deleted after `retention.pending_signup_days`: an address
  someone typed in without its owner's consent is not kept.
- Expired staff sessions and old rate-limit records go.

Suppressions are never purged: they are what keeps a departed address from being written to.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, update

from service.db.models import AuditEntry, Delivery, RateEvent, StaffSession
from subscribers.models import Subscriber

if TYPE_CHECKING:
    from service.runtime import Runtime

log = logging.getLogger("budbringer.retention")

FINISHED = ("sent", "failed", "cancelled")


@dataclass
class Purged:
    bodies: int = 0
    audit: int = 0
    pending_signups: int = 0
    sessions: int = 0
    rate_events: int = 0


async def purge(runtime: "Runtime") -> Purged:
    r = runtime.settings.retention
    now = runtime.clock.now()
    out = Purged()
    async with runtime.db.transaction() as s:
        res = await s.execute(
            update(Delivery)
            .where(Delivery.status.in_(FINISHED), Delivery.body.is_not(None),
                   Delivery.created_at < now - timedelta(days=r.delivery_body_days))
            .values(body=None)
        )
        out.bodies = res.rowcount or 0
        res = await s.execute(delete(AuditEntry).where(AuditEntry.at < now - timedelta(days=r.audit_days)))
        out.audit = res.rowcount or 0
        res = await s.execute(
            delete(Subscriber).where(Subscriber.status == "pending", Subscriber.confirmed_at.is_(None),
                                     Subscriber.created_at < now - timedelta(days=r.pending_signup_days))
        )
        out.pending_signups = res.rowcount or 0
        res = await s.execute(delete(StaffSession).where(StaffSession.expires_at < now))
        out.sessions = res.rowcount or 0
        res = await s.execute(delete(RateEvent).where(RateEvent.at < now - timedelta(hours=r.rate_event_hours)))
        out.rate_events = res.rowcount or 0
    log.info("retention: %s", out)
    return out
