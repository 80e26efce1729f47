"""The suppression list: addresses we must never write to again.

Only a SHA-256 hash of the trimmed, lower-cased address is kept (`email_hash`, the one
implementation), so an erased person leaves nothing readable behind, yet a new signup,
an import or a send to the same address is still refused. Set-based fan-out computes the
same hash in SQL (`email_hash_sql`), and the send worker checks it once more just before
each send (`suppressed`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from service.db.dialect import dialect_of, insert_ignoring, sha256_hex, sql_function
from subscribers.models import Subscriber, Suppression

REASONS = ("unsubscribed", "hard_bounce", "complaint", "erased", "manual", "blocked")
CHUNK = 500


def email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


sql_function("bb_email_hash", email_hash, 1)


def email_hash_sql(dialect: str, email: ColumnElement[str]) -> ColumnElement[str]:
    """`email_hash` inside a statement (SQLite: after `service.db.dialect.prepare`)."""
    if dialect == "postgresql":
        return sha256_hex(func.lower(func.trim(email)))
    return func.bb_email_hash(email)


def not_suppressed(dialect: str) -> ColumnElement[bool]:
    """True for a subscriber whose address is not on the list."""
    return ~exists(select(Suppression.id).where(Suppression.email_hash == email_hash_sql(dialect, Subscriber.email)))


async def suppressed_active_ids(session: AsyncSession) -> list[int]:
    """Active subscribers whose address is suppressed (usually none: suppressing unsubscribes)."""
    if await session.scalar(select(Suppression.id).limit(1)) is None:
        return []
    rows = await session.scalars(
        select(Subscriber.id)
        .join(Suppression, Suppression.email_hash == email_hash_sql(dialect_of(session), Subscriber.email))
        .where(Subscriber.status == "active")
    )
    return list(rows)


async def is_suppressed(session: AsyncSession, email: str) -> bool:
    return await session.scalar(select(Suppression.id).where(Suppression.email_hash == email_hash(email))) is not None


async def suppressed(session: AsyncSession, emails: Iterable[str]) -> set[str]:
    """The subset of `emails` (as given) on the list: one query per 500."""
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


async def suppress(session: AsyncSession, email: str, *, reason: str, now: datetime, note: str = "",
                   by: str = "system") -> bool:
    """Put the address on the list; True when it was not there already (idempotent)."""
    result = await session.execute(insert_ignoring(session, Suppression, ["email_hash"], dict(
        email_hash=email_hash(email), reason=reason, note=note[:500], created_at=now, created_by=by[:200])))
    return bool(result.rowcount)


async def unsuppress(session: AsyncSession, email: str, *, by: str, note: str = "") -> bool:
    """Take the address off the list (an admin decision, audited by the caller); True if it was there."""
    result = await session.execute(delete(Suppression).where(Suppression.email_hash == email_hash(email)))
    return bool(result.rowcount)
