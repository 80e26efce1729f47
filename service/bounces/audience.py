"""What a bounce, a complaint or a 5xx refusal does to the audience: suppress the
address, unsubscribe the subscriber, mark a press contact bounced, count soft bounces.

The audience package (`subscribers.suppression`, `subscribers.lifecycle`) owns the rules
for suppression and unsubscribing; while those modules are absent, the same rows are
written here directly (a hashed suppression entry, status "unsubscribed", a consent row).
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.clock import as_utc
from subscribers.models import Consent, Subscriber, Suppression

log = logging.getLogger(__name__)
CHUNK = 500


def _fits(fn, *args, **kwargs) -> bool:
    """True when the audience package's function takes these arguments (else we write the rows)."""
    if fn is None:
        return False
    try:
        inspect.signature(fn).bind(*args, **kwargs)
    except TypeError:
        log.warning("%s has another signature than expected; writing the rows directly", fn.__qualname__)
        return False
    return True


def email_hash(email: str) -> str:
    try:
        from subscribers.suppression import email_hash as owner_hash  # type: ignore[import-not-found]
    except ImportError:
        return hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return owner_hash(email)


async def suppressed(session: AsyncSession, emails: Iterable[str]) -> set[str]:
    """The subset of `emails` (as given) on the suppression list: one query per 500."""
    by_hash: dict[str, list[str]] = {}
    for e in emails:
        by_hash.setdefault(email_hash(e), []).append(e)
    hashes = list(by_hash)
    hit: set[str] = set()
    for i in range(0, len(hashes), CHUNK):
        rows = await session.scalars(select(Suppression.email_hash).where(Suppression.email_hash.in_(hashes[i : i + CHUNK])))
        for h in rows:
            hit.update(by_hash[h])
    return hit


async def suppress(session: AsyncSession, email: str, *, reason: str, now: datetime, note: str = "") -> None:
    """Put the address on the suppression list (idempotent) and end any subscription to it."""
    try:
        from subscribers import suppression as owner  # type: ignore[import-not-found]
    except ImportError:
        owner = None
    kwargs = dict(reason=reason, now=now, note=note, by="bounces")
    if owner is not None and _fits(getattr(owner, "suppress", None), session, email, **kwargs):
        await owner.suppress(session, email, **kwargs)
    else:
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        ins = pg_insert(Suppression) if dialect == "postgresql" else sqlite_insert(Suppression)
        await session.execute(
            ins.values(email_hash=email_hash(email), reason=reason, note=note[:500], created_at=now, created_by="bounces")
            .on_conflict_do_nothing(index_elements=["email_hash"])
        )
    await unsubscribe(session, email, reason=reason, now=now)
    from service.campaigns.press_contacts import mark_bounced

    await mark_bounced(session, email, now=now, reason=reason)


async def unsubscribe(session: AsyncSession, email: str, *, reason: str, now: datetime) -> None:
    sub = await session.scalar(select(Subscriber).where(Subscriber.email == email.strip().lower()))
    if sub is None or sub.status in ("unsubscribed", "blocked"):
        return
    try:
        from subscribers import lifecycle  # type: ignore[import-not-found]
    except ImportError:
        lifecycle = None
    kwargs = dict(now=now, source=f"bounce:{reason}")
    if lifecycle is not None and _fits(getattr(lifecycle, "unsubscribe", None), session, sub, **kwargs):
        await lifecycle.unsubscribe(session, sub, **kwargs)
        return
    sub.status, sub.unsubscribed_at = "unsubscribed", now
    sub.token_version = (sub.token_version or 1) + 1
    session.add(Consent(subscriber_id=sub.id, action="unsubscribe", consent_version="", source=f"bounce:{reason}",
                        detail={"reason": reason}, at=now))


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
