"""Plain view models for subscriber mail (alerts, digests), and their loaders.

Templates get these dataclasses, never ORM objects. Item views are cached per item,
revision and language (`service.render.assemble.Cache`): a digest run renders the same
few items for many subscribers, so each is read and shaped once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, literal, select, union_all

from service.db.models import Item, ItemRevision, item_topics
from service.render.assemble import cache_of
from service.db.reference import Audience, Topic
from service.render.figures import figures_title
from service.render.formatting import Labels, datetime_local, language
from subscribers.models import Subscriber, subscriber_municipalities, subscriber_topics

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from service.render.context import RenderContext

POLITICIAN = "politiker"


@dataclass(frozen=True)
class TopicRef:
    id: int
    slug: str
    name: str
    position: int


@dataclass(frozen=True)
class ItemView:
    id: int
    revision: int
    kind: str
    kind_label: str
    title: str
    summary: str
    link: str
    published_label: str
    published_at: datetime
    urgent: bool
    topics: tuple[TopicRef, ...]
    data: dict[str, Any] | None  # figures block (docs/figures.md), read by service.render.figures
    corrections: dict[str, Any] | None = None  # a revision of figures: {area code: {field: [old, new]}}

    @property
    def is_figures(self) -> bool:
        return self.kind == "figures" and bool(self.data)


@dataclass(frozen=True)
class SubscriberView:
    id: int
    token_version: int
    language: str
    frequency: str
    audience: str | None
    municipalities: tuple[str, ...]  # sorted codes
    topic_ids: frozenset[int]

    @property
    def politician(self) -> bool:
        return self.audience == POLITICIAN


def _web_link(link: str | None) -> str:
    link = (link or "").strip()
    return link if link.lower().startswith(("https://", "http://")) else ""


def _lang(value: str | None) -> str:
    return value if value in ("da", "en") else "da"


async def load_items(runtime: "RenderContext", session: "AsyncSession", revisions: dict[int, int], lang: str) -> list[ItemView]:
    """Views of the items (id → current revision), from the cache where it has them."""
    cache = cache_of(runtime)
    found: dict[int, ItemView] = {}
    missing = []
    for item_id, rev in revisions.items():
        view = cache.data.get(("item", item_id, rev, lang))
        if view is None:
            missing.append(item_id)
        else:
            found[item_id] = view
    if missing:
        tz = runtime.settings.service.tz()
        for view in await _read_items(session, missing, lang, tz, runtime.templates.labels, runtime.templates.messages):
            cache.get(("item", view.id, view.revision, lang), lambda v=view: v)
            found[view.id] = view
    return [found[i] for i in revisions if i in found]


async def _read_items(session: "AsyncSession", ids: list[int], lang: str, tz: ZoneInfo, labels: Labels,
                      messages: Labels) -> list[ItemView]:
    items = (await session.execute(
        select(Item.id, Item.revision, Item.kind, Item.title, Item.summary, Item.link, Item.published_at,
               Item.public_at, Item.urgent, Item.data).where(Item.id.in_(ids))
    )).all()
    topic_rows = (await session.execute(
        select(item_topics.c.item_id, Topic.id, Topic.slug, Topic.name_da, Topic.name_en, Topic.position)
        .join(Topic, Topic.id == item_topics.c.topic_id).where(item_topics.c.item_id.in_(ids))
    )).all()
    topics: dict[int, list[TopicRef]] = {}
    for t in topic_rows:
        name = t.name_en if lang == "en" else t.name_da
        topics.setdefault(t.item_id, []).append(TopicRef(t.id, t.slug, name, t.position))
    corrections = await _corrections(session, [(r.id, r.revision) for r in items if r.kind == "figures" and r.revision > 1])
    out = []
    for r in items:
        shown = max(r.published_at, r.public_at) if r.public_at else r.published_at
        revised = corrections.get(r.id)
        title = figures_title(r.data, messages, lang, revised=bool(revised)) if r.kind == "figures" and r.data else r.title
        out.append(ItemView(
            id=r.id, revision=r.revision, kind=r.kind, kind_label=labels.get("item_kind", r.kind, lang), title=title,
            summary=r.summary or "", link=_web_link(r.link), published_label=datetime_local(shown, tz, lang, zone=language(lang) == "en"),
            published_at=shown, urgent=bool(r.urgent),
            topics=tuple(sorted(topics.get(r.id, []), key=lambda t: (t.position, t.slug))), data=r.data,
            corrections=revised,
        ))
    return out


async def _corrections(session: "AsyncSession", current: list[tuple[int, int]]) -> dict[int, dict[str, Any]]:
    """Per figures item, the area changes of its current revision when it corrects numbers
    subscribers were already told (docs/figures.md, Revisions)."""
    if not current:
        return {}
    rows = (await session.execute(select(ItemRevision.item_id, ItemRevision.revision, ItemRevision.changes)
                                  .where(ItemRevision.item_id.in_([i for i, _ in current])))).all()
    wanted = set(current)
    return {r.item_id: r.changes["areas"] for r in rows
            if (r.item_id, r.revision) in wanted and (r.changes or {}).get("after_announcement") and r.changes.get("areas")}


async def load_subscriber(session: "AsyncSession", subscriber_id: int | None) -> SubscriberView | None:
    """The subscriber's current choices: two small queries."""
    if subscriber_id is None:
        return None
    row = (await session.execute(
        select(Subscriber.id, Subscriber.token_version, Subscriber.language, Subscriber.frequency,
               Audience.slug.label("audience"))
        .outerjoin(Audience, Audience.id == Subscriber.audience_id).where(Subscriber.id == subscriber_id)
    )).one_or_none()
    if row is None:
        return None
    choices = union_all(
        select(literal("m").label("k"), subscriber_municipalities.c.municipality_code.label("v"))
        .where(subscriber_municipalities.c.subscriber_id == subscriber_id),
        select(literal("t").label("k"), cast(subscriber_topics.c.topic_id, String).label("v"))
        .where(subscriber_topics.c.subscriber_id == subscriber_id),
    )
    munis, topics = [], set()
    for k, v in (await session.execute(choices)).all():
        if k == "m":
            munis.append(v)
        else:
            topics.add(int(v))
    return SubscriberView(
        id=row.id, token_version=row.token_version or 1, language=_lang(row.language), frequency=row.frequency,
        audience=row.audience, municipalities=tuple(sorted(munis)), topic_ids=frozenset(topics),
    )


def primary_topic(item: ItemView, chosen: frozenset[int]) -> TopicRef | None:
    """The topic an item is filed under for this subscriber: the first one they chose."""
    for t in item.topics:
        if t.id in chosen:
            return t
    return item.topics[0] if item.topics else None
