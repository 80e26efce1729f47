"""Who gets a campaign, and putting one delivery per recipient in the outbox, set-based.

- Press contacts: status "active", filtered by the campaign's segment (media types,
  regions, beats; an empty list means any). Press releases only.
- Subscribers: status "active", subscribed to one of the campaign's topics (press
  releases: always the `presse` topic too), and not on the suppression list.
- A correction goes to exactly the recipients of the original (see `original_recipients`).

Keys are `campaign:<id>:press:<contact id>` and `campaign:<id>:sub:<subscriber id>`, so a
fan-out fired twice queues each message once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import Campaign, Delivery, PressContact
from service.delivery.outbox import message_id_for
from service.db.reference import Topic
from subscribers.models import Subscriber, Suppression, subscriber_topics

CHUNK = 500
NOT_REACHED = ("failed", "cancelled")


@dataclass(frozen=True)
class Recipient:
    part: str  # "press" or "sub"
    id: int
    email: str
    language: str = "da"


def suppression_hash(email: str) -> str:
    try:  # the audience package owns the normalisation, when it exists
        from subscribers.suppression import email_hash  # type: ignore[import-not-found]

        return email_hash(email)
    except ImportError:
        return hashlib.sha256(email.strip().lower().encode()).hexdigest()


async def press_recipients(session: AsyncSession, audience: dict[str, Any]) -> list[Recipient]:
    seg = audience.get("press") or {}
    q = select(PressContact.id, PressContact.email, PressContact.beats).where(PressContact.status == "active")
    if seg.get("media_types"):
        q = q.where(PressContact.media_type.in_(seg["media_types"]))
    if seg.get("regions"):
        q = q.where(PressContact.region.in_(seg["regions"]))
    beats = set(seg.get("beats") or [])
    rows = (await session.execute(q.order_by(PressContact.id))).all()
    return [Recipient("press", r.id, r.email) for r in rows if not beats or beats & set(r.beats or [])]


async def subscriber_recipients(session: AsyncSession, topics: list[str]) -> list[Recipient]:
    if not topics:
        return []
    q = (
        select(Subscriber.id, Subscriber.email, Subscriber.language)
        .join(subscriber_topics, subscriber_topics.c.subscriber_id == Subscriber.id)
        .join(Topic, Topic.id == subscriber_topics.c.topic_id)
        .where(Subscriber.status == "active", Topic.slug.in_(topics))
        .distinct()
        .order_by(Subscriber.id)
    )
    rows = (await session.execute(q)).all()
    return await without_suppressed(session, [Recipient("sub", r.id, r.email, r.language) for r in rows])


async def without_suppressed(session: AsyncSession, recipients: list[Recipient]) -> list[Recipient]:
    hashes = {r: suppression_hash(r.email) for r in recipients}
    blocked: set[str] = set()
    values = list(set(hashes.values()))
    for i in range(0, len(values), CHUNK):
        chunk = values[i : i + CHUNK]
        blocked |= set((await session.scalars(select(Suppression.email_hash).where(Suppression.email_hash.in_(chunk)))).all())
    return [r for r in recipients if hashes[r] not in blocked]


async def original_recipients(session: AsyncSession, original_id: int, part: str) -> list[Recipient]:
    """Everyone the original was sent (or is being sent) to, for a correction."""
    column = Delivery.press_contact_id if part == "press" else Delivery.subscriber_id
    rows = (
        await session.execute(
            select(column, Delivery.recipient, Delivery.language)
            .where(Delivery.campaign_id == original_id, column.is_not(None), Delivery.status.not_in(NOT_REACHED))
            .order_by(Delivery.id)
        )
    ).all()
    return [Recipient(part, r[0], r[1], r[2]) for r in rows]


async def recipients_for(session: AsyncSession, c: Campaign, part: str, press_topic: str) -> list[Recipient]:
    if c.corrects_id is not None:
        return await original_recipients(session, c.corrects_id, part)
    if part == "press":
        return await press_recipients(session, c.audience or {}) if c.kind == "press_release" else []
    topics = list((c.audience or {}).get("topics") or [])
    if c.kind == "press_release" and press_topic not in topics:
        topics.append(press_topic)
    return await subscriber_recipients(session, topics)


async def enqueue_all(
    session: AsyncSession, c: Campaign, recipients: list[Recipient], *, now: datetime, domain: str
) -> int:
    """One multi-row INSERT … ON CONFLICT DO NOTHING per chunk; returns rows queued."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    ins = pg_insert if dialect == "postgresql" else sqlite_insert
    queued = 0
    for i in range(0, len(recipients), CHUNK):
        rows = []
        for r in recipients[i : i + CHUNK]:
            key = f"campaign:{c.id}:{r.part}:{r.id}"
            rows.append(dict(
                key=key, kind=c.kind, recipient=r.email, campaign_id=c.id,
                subscriber_id=r.id if r.part == "sub" else None,
                press_contact_id=r.id if r.part == "press" else None,
                digest_run_id=None, item_id=None,
                params={"part": r.part}, language=r.language if r.part == "sub" else "da",
                status="queued", attempts=0, next_attempt_at=now, message_id=message_id_for(key, domain),
                created_at=now, possible_duplicate=False,
            ))
        stmt = ins(Delivery).values(rows).on_conflict_do_nothing(index_elements=["key"]).returning(Delivery.id)
        queued += len((await session.execute(stmt)).all())
    return queued
