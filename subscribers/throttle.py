"""How often one client address may ask for mail, and how often one inbox gets it:
signup and link requests count in shared buckets (`RateEvent`, which the staff login uses
too), and so do the confirmation, "manage" and address-change mails, per mailbox with the
`+tag` removed and per domain (`mail_allowed`): twenty signups for `victim+1@…` …
`victim+20@…` used to send twenty mails."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import RateEvent
from subscribers.addresses import mailbox


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


def _bucket(kind: str, value: str) -> str:
    # Hashed (and salted by the kind, so it is not the suppression list's hash): no address is kept.
    return f"mail-{kind}:" + hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:40]


async def mail_allowed(session: AsyncSession, addresses: list[str], *, now: datetime, window: timedelta,
                       per_domain: int) -> list[bool]:
    """For each address, in order: may a confirmation, "manage" or address-change mail go to
    it now? One per mailbox (`+tag` removed) per window, `per_domain` per domain. The allowed
    ones are counted; the others change nothing."""
    keys = [(_bucket("mailbox", mailbox(a)), _bucket("domain", mailbox(a).rpartition("@")[2])) for a in addresses]
    wanted = sorted({k for pair in keys for k in pair})
    used: dict[str, int] = dict((await session.execute(
        select(RateEvent.bucket, func.count()).where(RateEvent.bucket.in_(wanted), RateEvent.at > now - window)
        .group_by(RateEvent.bucket)
    )).all()) if wanted else {}
    out: list[bool] = []
    counted: list[dict] = []
    for box, domain in keys:
        ok = used.get(box, 0) < 1 and used.get(domain, 0) < per_domain
        if ok:
            used[box], used[domain] = used.get(box, 0) + 1, used.get(domain, 0) + 1
            counted += [{"bucket": box, "at": now}, {"bucket": domain, "at": now}]
        out.append(ok)
    if counted:
        await session.execute(insert(RateEvent), counted)
    return out
