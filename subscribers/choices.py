"""What the subscription forms offer and what a subscriber has chosen, as plain views.

`form_options` reads the topics (grouped for the form), municipalities, roles and
frequencies; `current` a subscriber's own choices. The pages never see ORM objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.reference import Audience, Municipality, Topic
from subscribers.models import FREQUENCIES, Subscriber, subscriber_municipalities, subscriber_topics

# The form's groups, in order: a key (its name is `topic_group.<key>` in templates/labels.toml)
# and the slugs of the taxonomy it holds. Topics an admin adds later go under "other".
TOPIC_GROUPS = (
    ("figures", ("ledighedstal", "analyser", "resultater", "flaskehalse")),
    ("practice", ("best-practice", "retningslinjer", "beskaeftigelsesplan", "forsoeg")),
    ("companies", ("virksomheder",)),
    ("press", ("presse", "arrangementer")),
)
OTHER_GROUP = "other"


@dataclass(frozen=True)
class TopicOption:
    slug: str
    name_da: str
    name_en: str
    description_da: str
    description_en: str


@dataclass(frozen=True)
class TopicGroup:
    key: str
    topics: tuple[TopicOption, ...]


@dataclass(frozen=True)
class AudienceOption:
    slug: str
    name_da: str
    name_en: str


async def form_options(session: AsyncSession) -> dict[str, Any]:
    """topic_groups, municipalities, audiences and frequencies for the signup and preferences forms."""
    topics = (await session.scalars(select(Topic).where(Topic.retired.is_(False)).order_by(Topic.position, Topic.id))).all()
    municipalities = (await session.execute(select(Municipality.code, Municipality.name).order_by(Municipality.name))).all()
    audiences = (await session.scalars(select(Audience).order_by(Audience.position, Audience.id))).all()
    by_slug = {t.slug: TopicOption(t.slug, t.name_da, t.name_en, t.description_da or "", t.description_en or "")
               for t in topics}
    groups, placed = [], set()
    for key, slugs in TOPIC_GROUPS:
        members = tuple(by_slug[s] for s in slugs if s in by_slug)
        placed.update(t.slug for t in members)
        if members:
            groups.append(TopicGroup(key, members))
    rest = tuple(t for slug, t in by_slug.items() if slug not in placed)
    if rest:
        groups.append(TopicGroup(OTHER_GROUP, rest))
    return {"topic_groups": groups, "municipalities": [{"code": c, "name": n} for c, n in municipalities],
            "audiences": [AudienceOption(a.slug, a.name_da, a.name_en) for a in audiences],
            "frequencies": FREQUENCIES}


async def current(session: AsyncSession, sub: Subscriber) -> dict[str, Any]:
    """The subscriber's choices as the forms show them."""
    topics = list(await session.scalars(select(Topic.slug).join(subscriber_topics, subscriber_topics.c.topic_id == Topic.id)
                                        .where(subscriber_topics.c.subscriber_id == sub.id)))
    municipalities = list(await session.scalars(select(subscriber_municipalities.c.municipality_code)
                                                .where(subscriber_municipalities.c.subscriber_id == sub.id)))
    audience = await session.scalar(select(Audience.slug).where(Audience.id == sub.audience_id)) if sub.audience_id else ""
    return {"email": sub.email, "name": sub.name, "organisation": sub.organisation, "topics": topics,
            "municipalities": municipalities, "audience": audience or "", "frequency": sub.frequency,
            "language": sub.language}


async def topic_name(session: AsyncSession, slug: str, lang: str) -> str:
    """A topic's name in the reader's language ("" for an unknown slug)."""
    row = await session.scalar(select(Topic).where(Topic.slug == slug))
    if row is None:
        return ""
    return row.name_en if lang == "en" else row.name_da
