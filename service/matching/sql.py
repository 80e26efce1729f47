"""SQL pieces for set-based fan-out that must say the same thing on SQLite and PostgreSQL.

Two computations live in Python elsewhere and are needed inside one `INSERT … SELECT`:

- the Message-ID of a delivery (`service.delivery.outbox.message_id_for`: the first 32 hex
  digits of SHA-256 over the delivery key), and
- the suppression hash of an address (`subscribers.suppression.email_hash`: SHA-256 over
  the trimmed, lower-cased address).

PostgreSQL has `sha256()`; on SQLite the Python functions themselves are registered on the
connection (`prepare`), so both databases give byte-identical results.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, cast, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from subscribers.suppression import email_hash
from service.delivery.outbox import message_id_for
from subscribers.models import Subscriber, Suppression


def dialect_of(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def _sqlite_message_id(key: str, domain: str) -> str:
    return message_id_for(key, domain)


def _register(sync_conn: Any) -> None:
    dbapi = sync_conn.connection.dbapi_connection
    dbapi.create_function("bb_email_hash", 1, email_hash, deterministic=True)
    dbapi.create_function("bb_message_id", 2, _sqlite_message_id, deterministic=True)


async def prepare(session: AsyncSession) -> None:
    """Make `email_hash_sql` and `message_id_sql` usable in this session's transaction."""
    if dialect_of(session) == "sqlite":
        conn = await session.connection()
        await conn.run_sync(_register)


def _pg_sha256_hex(text: ColumnElement[Any]) -> ColumnElement[str]:
    return func.encode(func.sha256(func.convert_to(text, literal("UTF8"))), literal("hex"))


def email_hash_sql(dialect: str, email: ColumnElement[Any]) -> ColumnElement[str]:
    if dialect == "postgresql":
        return _pg_sha256_hex(func.lower(func.trim(email)))
    return func.bb_email_hash(email)


def message_id_sql(dialect: str, key: ColumnElement[Any], domain: str) -> ColumnElement[str]:
    if dialect == "postgresql":
        digest = func.substr(_pg_sha256_hex(key), 1, 32)
        return literal("<") + digest + literal("@" + domain + ">")
    return func.bb_message_id(key, literal(domain))


def text_of(column: ColumnElement[Any]) -> ColumnElement[str]:
    return cast(column, String)


def not_suppressed(dialect: str) -> ColumnElement[bool]:
    """True for a subscriber whose address is not on the suppression list."""
    return ~exists(
        select(Suppression.id).where(Suppression.email_hash == email_hash_sql(dialect, Subscriber.email))
    )


async def suppressed_active_ids(session: AsyncSession) -> list[int]:
    """Active subscribers whose address is suppressed (usually none: suppressing unsubscribes)."""
    if await session.scalar(select(Suppression.id).limit(1)) is None:
        return []
    dialect = dialect_of(session)
    rows = await session.scalars(
        select(Subscriber.id)
        .join(Suppression, Suppression.email_hash == email_hash_sql(dialect, Subscriber.email))
        .where(Subscriber.status == "active")
    )
    return list(rows)
