"""What a bounce, a complaint or a 5xx refusal does to the audience: suppress the
address, unsubscribe the subscriber, mark a press contact bounced, count soft bounces.

The rules themselves belong to the subscribers' domain: the suppression list and its
one `email_hash` (`subscribers.suppression`), and the one way to unsubscribe
(`subscribers.lifecycle.unsubscribe`, which also cancels the mail still queued).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.campaigns.press_contacts import mark_bounced
from service.clock import as_utc
from subscribers import lifecycle, suppression
from subscribers.models import Subscriber

log = logging.getLogger(__name__)

async def suppress(session: AsyncSession, email: str, *, reason: str, now: datetime, note: str = "") -> None:
    """Put the address on the suppression list (idempotent) and end any subscription to it."""
    await suppression.suppress(session, email, reason=reason, now=now, note=note, by="bounces")
    await unsubscribe(session, email, reason=reason, now=now)
    await mark_bounced(session, email, now=now, reason=reason)


async def unsubscribe(session: AsyncSession, email: str, *, reason: str, now: datetime) -> None:
    sub = await session.scalar(select(Subscriber).where(Subscriber.email == email.strip().lower()))
    if sub is not None:
        await lifecycle.unsubscribe(session, sub, now=now, source=f"bounce:{reason}")


async def count_soft_bounce(session: AsyncSession, email: str, *, now: datetime, threshold: int, decay_days: int) -> bool:
    """Count one soft bounce; True when the address reached the threshold (then suppressed)."""
    sub = await session.scalar(select(Subscriber).where(Subscriber.email == email.strip().lower()))
    if sub is None:
        return False
    fresh = sub.last_bounce_at is not None and now - as_utc(sub.last_bounce_at) <= timedelta(days=decay_days)
    count = (sub.soft_bounces if fresh else 0) + 1
    await session.execute(update(Subscriber).where(Subscriber.id == sub.id).values(soft_bounces=count, last_bounce_at=now))
    if count >= threshold:
        await suppress(session, email, reason="soft_bounces", now=now, note=f"{count} soft bounces")
        return True
    return False
