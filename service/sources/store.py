"""Save one entry as an item: new, updated, unchanged, or linked to the same publication
already carried by another source.

- The key per source (guid, link, hash; `<table>:<period>` for figures; the sender's
  external id for pushed items) finds the entry again: same content → unchanged; new
  content → the item is updated, `revision` goes up, an `ItemRevision` records what
  changed, and `announce_revision` follows the source's `announce_updates` option.
- Else the canonical link finds the same publication from another source: one item, a
  second `ItemSource` row, the topics and municipalities joined.
- Else a new item: `revision=1, matched_revision=0`, so the matcher picks it up even
  after a crash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import Item, ItemRevision, ItemSource, Source, item_municipalities, item_topics
from service.db.reference import Municipality, Topic

TRACKING = ("utm_", "fbclid", "gclid", "mc_cid", "mc_eid")
COMPARED = ("title", "summary_html", "link", "kind", "data", "period", "urgent")


@dataclass
class ItemDraft:
    key: str
    kind: str
    title: str
    published_at: datetime | None = None
    summary: str = ""
    summary_html: str = ""
    link: str | None = None
    topics: list[str] = field(default_factory=list)
    municipalities: list[str] = field(default_factory=list)
    data: dict[str, Any] | None = None
    period: str | None = None
    language: str = "da"
    urgent: bool = False
    dedupe_by_link: bool = True  # figures items share a link; they are told apart by key

    def content_hash(self) -> str:
        fields = {name: getattr(self, name) for name in COMPARED}
        raw = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Saved:
    outcome: str  # new, updated, unchanged, linked
    item_id: int


def canonical_link(link: str | None) -> str | None:
    """The link with case, default ports, fragments and tracking parameters removed."""
    if not link:
        return None
    parts = urlsplit(link.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    port = parts.port
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.lower().startswith(TRACKING)])
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    return urlunsplit(("https" if parts.scheme.lower() in ("http", "https") else parts.scheme, netloc, path, query, ""))[:1000]


async def save_item(
    session: AsyncSession, source: Source, draft: ItemDraft, now: datetime, *,
    announce_updates: bool = False, changes: dict[str, Any] | None = None, item_id: int | None = None,
) -> Saved:
    """`item_id`: the item this entry belongs to when the caller knows it (the second table
    of a figures release): the source is linked to it and the item updated."""
    link = await session.scalar(
        select(ItemSource).where(ItemSource.source_id == source.id, ItemSource.entry_key == draft.key)
    )
    if link is not None:
        link.last_seen_at = now
        item = await session.get(Item, link.item_id)
        return await _update(session, item, draft, now, announce_updates, changes)
    if item_id is not None and (item := await session.get(Item, item_id)) is not None:
        session.add(ItemSource(item_id=item.id, source_id=source.id, entry_key=draft.key, first_seen_at=now,
                               last_seen_at=now))
        return await _update(session, item, draft, now, announce_updates, changes)
    canonical = canonical_link(draft.link) if draft.dedupe_by_link else None
    if canonical:
        existing = await session.scalar(select(Item).where(Item.canonical_link == canonical))
        if existing is not None:
            return await _link(session, existing, source, draft, now)
    try:
        async with session.begin_nested():
            item = _new_item(draft, canonical, now)
            session.add(item)
            await session.flush()
    except IntegrityError:
        # Another process saved the same publication a moment ago: link to it instead.
        existing = await session.scalar(select(Item).where(Item.canonical_link == canonical))
        if existing is None:
            raise
        return await _link(session, existing, source, draft, now)
    session.add(ItemSource(item_id=item.id, source_id=source.id, entry_key=draft.key, first_seen_at=now, last_seen_at=now))
    await _set_tags(session, item.id, draft)
    return Saved("new", item.id)


def _new_item(draft: ItemDraft, canonical: str | None, now: datetime) -> Item:
    published = draft.published_at or now
    if published > now + timedelta(days=1):
        published = now  # a date in the future is a feed's mistake, not an embargo
    return Item(
        kind=draft.kind, title=draft.title, summary=draft.summary, summary_html=draft.summary_html,
        link=draft.link, canonical_link=canonical, language=draft.language, urgent=draft.urgent,
        data=draft.data, period=draft.period, content_hash=draft.content_hash(), published_at=published,
        created_at=now, updated_at=now, revision=1, matched_revision=0, announce_revision=False,
    )


async def _update(session, item: Item, draft: ItemDraft, now, announce_updates: bool, changes) -> Saved:
    new_hash = draft.content_hash()
    if item.content_hash == new_hash:
        return Saved("unchanged", item.id)
    if changes is None:
        changes = {}
        for name in ("title", "summary", "link"):
            old, new = getattr(item, name), getattr(draft, name)
            if old != new:
                changes[name] = [old, new]
    for name in ("title", "summary", "summary_html", "link", "data", "period", "urgent", "kind"):
        setattr(item, name, getattr(draft, name))
    canonical = canonical_link(draft.link) if draft.dedupe_by_link else None
    if canonical != item.canonical_link and canonical:
        taken = await session.scalar(select(Item.id).where(Item.canonical_link == canonical, Item.id != item.id))
        if taken is None:
            item.canonical_link = canonical
    item.content_hash = new_hash
    item.updated_at = now
    item.revision += 1
    item.announce_revision = announce_updates
    session.add(ItemRevision(item_id=item.id, revision=item.revision, changes=changes, at=now))
    await session.execute(delete(item_topics).where(item_topics.c.item_id == item.id))
    await session.execute(delete(item_municipalities).where(item_municipalities.c.item_id == item.id))
    await _set_tags(session, item.id, draft)
    return Saved("updated", item.id)


async def _link(session, item: Item, source: Source, draft: ItemDraft, now) -> Saved:
    session.add(ItemSource(item_id=item.id, source_id=source.id, entry_key=draft.key, first_seen_at=now, last_seen_at=now))
    await _set_tags(session, item.id, draft, keep_existing=True)
    return Saved("linked", item.id)


async def _set_tags(session: AsyncSession, item_id: int, draft: ItemDraft, keep_existing: bool = False) -> None:
    topic_ids = list((await session.scalars(select(Topic.id).where(Topic.slug.in_(draft.topics or [""])))).all())
    codes = list((await session.scalars(
        select(Municipality.code).where(Municipality.code.in_(draft.municipalities or [""]))
    )).all())
    if keep_existing:
        have_t = set((await session.scalars(select(item_topics.c.topic_id).where(item_topics.c.item_id == item_id))).all())
        have_m = set((await session.scalars(
            select(item_municipalities.c.municipality_code).where(item_municipalities.c.item_id == item_id)
        )).all())
        topic_ids = [t for t in topic_ids if t not in have_t]
        codes = [c for c in codes if c not in have_m]
    if topic_ids:
        await session.execute(insert(item_topics), [{"item_id": item_id, "topic_id": t} for t in topic_ids])
    if codes:
        await session.execute(insert(item_municipalities), [{"item_id": item_id, "municipality_code": c} for c in codes])
