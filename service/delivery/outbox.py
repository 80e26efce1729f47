"""Saving messages before they are sent: one `Delivery` row per message.

Every part of the product that wants mail sent calls `enqueue` inside its own
transaction. The row's unique `key` makes enqueueing idempotent (a job fired twice
queues once); the Message-ID is fixed here, so every retry carries the same one.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import Delivery


def message_id_for(key: str, domain: str) -> str:
    """A stable Message-ID from the idempotency key: the same on every retry."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


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
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    ins = pg_insert(Delivery) if dialect == "postgresql" else sqlite_insert(Delivery)
    stmt = ins.values(**values).on_conflict_do_nothing(index_elements=["key"]).returning(Delivery.id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def delivery_id_for_key(session: AsyncSession, key: str) -> int | None:
    return await session.scalar(select(Delivery.id).where(Delivery.key == key))


__all__ = ["enqueue", "message_id_for", "mail_domain", "delivery_id_for_key"]
