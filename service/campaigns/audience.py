"""Who gets a campaign, and putting one delivery per recipient in the outbox, set-based.

- Press contacts: status "active", filtered by the campaign's segment (media types,
  regions, beats; an empty list means any), or by a saved segment (`segment_id`, its
  filter as it is when the release leaves). Press releases only.
- Subscribers: status "active", subscribed to one of the campaign's topics (press
  releases: always the `presse` topic too), and not on the suppression list.
- A correction goes to exactly the recipients of the original (see `original_recipients`).

Keys are `campaign:<id>:press:<contact id>` and `campaign:<id>:sub:<subscriber id>`, so a
fan-out fired twice queues each message once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.dialect import as_text
from service.db.campaigns import Campaign, PressContact, PressSegment
from service.db.models import Delivery
from service.delivery.outbox import enqueue_from
from service.db.reference import Topic
from subscribers.models import Subscriber, subscriber_topics
from subscribers.suppression import suppressed

CHUNK = 500
NOT_REACHED = ("failed", "cancelled")


@dataclass(frozen=True)
class Recipient:
    part: str  # "press" or "sub"
    id: int
    email: str
    language: str = "da"


async def press_recipients(session: AsyncSession, audience: dict[str, Any]) -> list[Recipient]:
    seg = audience.get("press") or {}
    if seg.get("segment_id"):  # a saved segment: its filter as it is now
        saved = await session.get(PressSegment, int(seg["segment_id"]))
        seg = (saved.filter or {}) if saved is not None else {"media_types": ["-"]}  # deleted: nobody
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
    blocked = await suppressed(session, [r.email for r in recipients])
    return [r for r in recipients if r.email not in blocked]


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


def _rows(c: Campaign, part: str, ids: list[int]):
    """The outbox rows for these recipients: a correction copies each original delivery's
    address and language; otherwise they come from the press contact or subscriber."""
    id_label = "press_contact_id" if part == "press" else "subscriber_id"
    if c.corrects_id is not None:
        who = Delivery.press_contact_id if part == "press" else Delivery.subscriber_id
        recipient, language = Delivery.recipient, literal("da") if part == "press" else Delivery.language
        where = [Delivery.campaign_id == c.corrects_id, who.in_(ids), Delivery.status.not_in(NOT_REACHED)]
    elif part == "press":
        who, recipient, language, where = PressContact.id, PressContact.email, literal("da"), [PressContact.id.in_(ids)]
    else:
        who, recipient, language, where = Subscriber.id, Subscriber.email, Subscriber.language, [Subscriber.id.in_(ids)]
    key = literal(f"campaign:{c.id}:{part}:") + as_text(who)
    return select(key.label("key"), recipient.label("recipient"), who.label(id_label),
                  literal(c.id).label("campaign_id"), language.label("language")).where(*where)


async def enqueue_all(
    session: AsyncSession, c: Campaign, recipients: list[Recipient], *, now: datetime, domain: str
) -> int:
    """One `INSERT … SELECT` per chunk of recipients through the outbox; returns rows queued."""
    queued = 0
    by_part: dict[str, list[int]] = {}
    for r in recipients:
        by_part.setdefault(r.part, []).append(r.id)
    for part, ids in by_part.items():
        for i in range(0, len(ids), CHUNK):
            queued += await enqueue_from(session, _rows(c, part, ids[i : i + CHUNK]), kind=c.kind, now=now,
                                         domain=domain, params={"part": part})
    return queued
