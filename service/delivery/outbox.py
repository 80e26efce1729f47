"""Saving messages before they are sent: one `Delivery` row per message, written here only.

Every part of the product that wants mail sent calls the outbox inside its own
transaction, in one of two forms:

- `enqueue(session, key=…, kind=…, recipient=…, …)`: one message (subscriber mails,
  notices, test mails, draft notices), `enqueue_many` several in one statement (the
  confirmations of signups written together);
- `enqueue_from(session, rows, kind=…, …)`: one message per row of a SELECT (alerts,
  digests, campaigns), in one `INSERT … SELECT`. `rows` names its columns with labels:
  `key`, `recipient` and `language`, and any of `subscriber_id`, `press_contact_id`,
  `campaign_id`, `digest_run_id`, `item_id`.

The row's unique `key` makes enqueueing idempotent (a job fired twice queues once); the
Message-ID is fixed here from the key, so every retry carries the same one.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Select, false, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from service.db.base import UtcDateTime
from service.db.dialect import dialect_of, insert_for, insert_ignoring, prepare, sha256_hex, sql_function
from service.db.models import Delivery

REQUIRED = ("key", "recipient", "language")
OPTIONAL = ("subscriber_id", "press_contact_id", "campaign_id", "digest_run_id", "item_id")
_PARAMS_TYPE = Delivery.__table__.c.params.type


def message_id_for(key: str, domain: str) -> str:
    """A stable Message-ID from the idempotency key: the same on every retry."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


sql_function("bb_message_id", message_id_for, 2)


def message_id_sql(dialect: str, key: ColumnElement[Any], domain: str) -> ColumnElement[str]:
    """`message_id_for` inside a statement (SQLite: after `prepare`)."""
    if dialect == "postgresql":
        return literal("<") + func.substr(sha256_hex(key), 1, 32) + literal("@" + domain + ">")
    return func.bb_message_id(key, literal(domain))


def mail_domain(from_address: str) -> str:
    return from_address.rpartition("@")[2] or "budbringer.invalid"


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    kind: str,
    recipient: str,
    now: datetime,
    domain: str,
    subscriber_id: int | None = None,
    press_contact_id: int | None = None,
    campaign_id: int | None = None,
    digest_run_id: int | None = None,
    item_id: int | None = None,
    params: dict[str, Any] | None = None,
    language: str = "da",
    not_before: datetime | None = None,
) -> int | None:
    """Queue one message; return its id, or None when a message with this key already exists."""
    values = dict(
        key=key, kind=kind, recipient=recipient, subscriber_id=subscriber_id,
        press_contact_id=press_contact_id, campaign_id=campaign_id, digest_run_id=digest_run_id,
        item_id=item_id, params=params or {}, language=language, status="queued", attempts=0,
        next_attempt_at=not_before or now, message_id=message_id_for(key, domain), created_at=now,
        possible_duplicate=False,
    )
    stmt = insert_ignoring(session, Delivery, ["key"], values).returning(Delivery.id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def enqueue_many(session: AsyncSession, messages: list[dict[str, Any]], *, kind: str, now: datetime,
                       domain: str, params: dict[str, Any] | None = None) -> int:
    """Queue several messages of one kind in one statement: each a dict with `key`,
    `recipient`, `language` and any of the optional ids (see above). Returns how many were new."""
    if not messages:
        return 0
    rows = [{**m, "kind": kind, "params": params or {}, "status": "queued", "attempts": 0, "next_attempt_at": now,
             "message_id": message_id_for(m["key"], domain), "created_at": now, "possible_duplicate": False}
            for m in messages]
    return (await session.execute(insert_ignoring(session, Delivery, ["key"]).values(rows))).rowcount or 0


async def enqueue_from(session: AsyncSession, rows: Select, *, kind: str, now: datetime, domain: str,
                       params: dict[str, Any] | None = None) -> int:
    """Queue one message per row of `rows` (labelled columns, see above); return how many
    were new (rows whose key is queued already are skipped)."""
    await prepare(session)
    ins = insert_from(dialect_of(session), rows, kind=kind, now=now, domain=domain, params=params)
    return (await session.execute(ins)).rowcount or 0


def insert_from(dialect: str, rows: Select, *, kind: str, now: datetime, domain: str,
                params: dict[str, Any] | None = None, skip_queued: bool = True):
    """The `INSERT … SELECT` of `enqueue_from`, not yet run: for a statement that also does
    something with the new rows (`.returning(...)` in a PostgreSQL CTE; see
    service.matching.match). On SQLite, `prepare(session)` first. `skip_queued=False`
    leaves out the ON CONFLICT guard for a caller that knows no key can be queued yet (and
    handles the unique violation if one is)."""
    columns = rows.selected_columns
    names = [c.key for c in columns]
    missing = [n for n in REQUIRED if n not in names]
    unknown = [n for n in names if n not in REQUIRED and n not in OPTIONAL]
    if missing or unknown:
        raise ValueError(f"outbox rows: missing {missing}, unknown {unknown}")
    at = literal(now, UtcDateTime())
    full = rows.add_columns(
        literal(kind), literal(params or {}, _PARAMS_TYPE), literal("queued"), literal(0), at,
        message_id_sql(dialect, columns["key"], domain), at, false(),
    )
    ins = insert_ignoring(dialect, Delivery, ["key"]) if skip_queued else insert_for(dialect, Delivery)
    return ins.from_select(
        [*names, "kind", "params", "status", "attempts", "next_attempt_at", "message_id", "created_at",
         "possible_duplicate"], full)


async def delivery_id_for_key(session: AsyncSession, key: str) -> int | None:
    return await session.scalar(select(Delivery.id).where(Delivery.key == key))


__all__ = ["enqueue", "enqueue_many", "enqueue_from", "insert_from", "message_id_for", "message_id_sql", "mail_domain", "delivery_id_for_key"]
