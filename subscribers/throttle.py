"""How often one client address may ask for mail: signup and link requests count in
shared buckets (`RateEvent`, which the staff login uses too)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import RateEvent


async def over_limit(session: AsyncSession, key: str, limit: int, window: timedelta, now: datetime) -> bool:
    """Count one request in bucket `key`; True when the bucket is full (then nothing is counted)."""
    # Counted up to the limit only: the work per request stays bounded however many events
    # a bucket holds (all of a load test's requests come from one address).
    recent = (select(RateEvent.id).where(RateEvent.bucket == key, RateEvent.at > now - window)
              .limit(limit).subquery())
    used = await session.scalar(select(func.count()).select_from(recent))
    if used >= limit:
        return True
    session.add(RateEvent(bucket=key, at=now))
    return False


async def allowed(session: AsyncSession, key: str, wanted: int, limit: int, window: timedelta, now: datetime) -> int:
    """`over_limit` for `wanted` requests at once: how many of them the bucket still takes
    (each counted; the rest are over the limit and not counted)."""
    recent = (select(RateEvent.id).where(RateEvent.bucket == key, RateEvent.at > now - window)
              .limit(limit).subquery())
    used = await session.scalar(select(func.count()).select_from(recent))
    room = max(0, min(wanted, limit - used))
    if room:
        await session.execute(insert(RateEvent), [{"bucket": key, "at": now}] * room)
    return room
