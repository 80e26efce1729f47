"""What SQLite and PostgreSQL spell differently, said once.

- `insert_for(session, table)`: the dialect's INSERT, which has `on_conflict_do_nothing`
  and `on_conflict_do_update`; `insert_ignoring(session, table, keys)`: "insert, ignore
  duplicates" on the unique `keys`.
- `sha256_hex(dialect, text)` / `sql_function`: a computation that must give the same
  bytes in Python and in SQL (the suppression hash, the Message-ID). PostgreSQL has
  `sha256()`; on SQLite the Python function itself is registered on the connection by
  `prepare(session)`, so both databases agree with the Python code to the byte.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import String, cast, func, literal
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

_FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {}


def dialect_of(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def insert_for(session: AsyncSession | str, table: Any) -> Any:
    """An INSERT for `table` (model or Table) in the session's dialect (or the one named)."""
    name = session if isinstance(session, str) else dialect_of(session)
    return pg_insert(table) if name == "postgresql" else sqlite_insert(table)


def insert_ignoring(session: AsyncSession | str, table: Any, keys: Sequence[str], values: Any = None) -> Any:
    """INSERT … ON CONFLICT (`keys`) DO NOTHING; add `.from_select(...)` or pass `values`."""
    ins = insert_for(session, table)
    if values is not None:
        ins = ins.values(values)
    return ins.on_conflict_do_nothing(index_elements=list(keys))


def as_text(column: ColumnElement[Any]) -> ColumnElement[str]:
    return cast(column, String)


def sql_function(name: str, fn: Callable[..., Any], nargs: int) -> None:
    """Make the Python `fn` callable as `name(...)` in SQLite statements (see `prepare`)."""
    _FUNCTIONS[name] = (nargs, fn)


def _register(sync_conn: Any) -> None:
    dbapi = sync_conn.connection.dbapi_connection
    for name, (nargs, fn) in _FUNCTIONS.items():
        dbapi.create_function(name, nargs, fn, deterministic=True)


async def prepare(session: AsyncSession) -> None:
    """Register the SQL functions on this session's SQLite connection (PostgreSQL needs none)."""
    if dialect_of(session) == "sqlite":
        conn = await session.connection()
        await conn.run_sync(_register)


def sha256_hex(text: ColumnElement[Any]) -> ColumnElement[str]:
    """PostgreSQL: the lower-case hex SHA-256 of a text (UTF-8)."""
    return func.encode(func.sha256(func.convert_to(text, literal("UTF8"))), literal("hex"))
