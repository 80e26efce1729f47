"""Topics as admins manage them: add, rename (Danish and English), describe, order, retire.

A retired topic is no longer offered on the signup page or used for new matches; its
subscribers keep the choice in their record, and it can be brought back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import Conflict, Invalid, NotFound
from service.db.reference import Topic
from subscribers.models import Subscriber, subscriber_topics

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass
class TopicForm:
    name_da: str
    name_en: str
    description_da: str = ""
    description_en: str = ""
    position: int | None = None


@dataclass(frozen=True)
class TopicRow:
    id: int
    slug: str
    name_da: str
    name_en: str
    description_da: str
    description_en: str
    position: int
    retired: bool
    subscribers: int


def _check(form: TopicForm) -> TopicForm:
    errors = {}
    form.name_da, form.name_en = form.name_da.strip()[:200], form.name_en.strip()[:200]
    if not form.name_da:
        errors["name_da"] = "Skriv et dansk navn."
    if not form.name_en:
        errors["name_en"] = "Skriv et engelsk navn."
    if errors:
        raise Invalid("Emnet mangler et navn.", errors)
    form.description_da, form.description_en = form.description_da.strip()[:2000], form.description_en.strip()[:2000]
    return form


async def list_topics(s: AsyncSession) -> list[TopicRow]:
    active = (select(subscriber_topics.c.topic_id, func.count().label("n"))
              .join(Subscriber, Subscriber.id == subscriber_topics.c.subscriber_id)
              .where(Subscriber.status == "active").group_by(subscriber_topics.c.topic_id).subquery())
    rows = (await s.execute(select(Topic, func.coalesce(active.c.n, 0)).outerjoin(active, active.c.topic_id == Topic.id)
                            .order_by(Topic.retired, Topic.position, Topic.name_da))).all()
    return [TopicRow(t.id, t.slug, t.name_da, t.name_en, t.description_da, t.description_en, t.position, t.retired, int(n))
            for t, n in rows]


async def add_topic(s: AsyncSession, slug: str, form: TopicForm) -> int:
    slug = slug.strip().lower()
    if not SLUG.match(slug):
        raise Invalid("Kortnavnet må kun have små bogstaver a–z, tal og bindestreg.", {"slug": "Ugyldigt kortnavn"})
    form = _check(form)
    if await s.scalar(select(Topic.id).where(Topic.slug == slug)) is not None:
        raise Conflict(f"Der findes allerede et emne med kortnavnet {slug}.")
    position = form.position if form.position is not None else (await s.scalar(select(func.max(Topic.position))) or 0) + 10
    topic = Topic(slug=slug, name_da=form.name_da, name_en=form.name_en, description_da=form.description_da,
                  description_en=form.description_en, position=position, retired=False)
    s.add(topic)
    await s.flush()
    return topic.id


async def _get(s: AsyncSession, topic_id: int) -> Topic:
    topic = await s.get(Topic, topic_id)
    if topic is None:
        raise NotFound("Emnet findes ikke.")
    return topic


async def update_topic(s: AsyncSession, topic_id: int, form: TopicForm) -> dict:
    """Rename, describe, reorder; returns what changed (for the audit log)."""
    topic, form = await _get(s, topic_id), _check(form)
    changes = {}
    for key in ("name_da", "name_en", "description_da", "description_en", "position"):
        new = getattr(form, key)
        if new is not None and getattr(topic, key) != new:
            changes[key] = [getattr(topic, key), new]
            setattr(topic, key, new)
    return changes


async def set_retired(s: AsyncSession, topic_id: int, retired: bool) -> str:
    topic = await _get(s, topic_id)
    topic.retired = retired
    return topic.slug
