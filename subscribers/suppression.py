"""The suppression list: addresses we must never write to again.

Only a SHA-256 hash of the trimmed, lower-cased address is kept, so an erased person
leaves nothing readable behind, yet a new signup, an import or a send to the same
address is still refused. The matcher computes the same hash in SQL
(`service.matching.sql.email_hash_sql`), and the send worker checks it once more just
before each send.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from subscribers.models import Suppression

REASONS = ("unsubscribed", "hard_bounce", "complaint", "erased", "manual", "blocked")


def email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


async def is_suppressed(session: AsyncSession, email: str) -> bool:
    return await session.scalar(select(Suppression.id).where(Suppression.email_hash == email_hash(email))) is not None


async def suppress(session: AsyncSession, email: str, *, reason: str, now: datetime, note: str = "",
                   by: str = "system") -> bool:
    """Put the address on the list; True when it was not there already (idempotent)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    ins = pg_insert(Suppression) if dialect == "postgresql" else sqlite_insert(Suppression)
    result = await session.execute(
        ins.values(email_hash=email_hash(email), reason=reason, note=note[:500], created_at=now, created_by=by[:200])
        .on_conflict_do_nothing(index_elements=["email_hash"])
    )
    return bool(result.rowcount)


async def unsuppress(session: AsyncSession, email: str, *, by: str, note: str = "") -> bool:
    """Take the address off the list (an admin decision, audited by the caller); True if it was there."""
    result = await session.execute(delete(Suppression).where(Suppression.email_hash == email_hash(email)))
    return bool(result.rowcount)
