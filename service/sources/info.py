"""A plain snapshot of a source row, read once before any network traffic (no ORM object
is held across a fetch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import Source
from service.errors import NotFound
from service.sources.classify import Classifier, TopicName
from service.db.reference import Topic


@dataclass(frozen=True)
class SourceInfo:
    id: int
    slug: str
    name: str
    kind: str
    url: str | None
    item_kind: str
    topics: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    interval_minutes: int = 30
    etag: str | None = None
    last_modified: str | None = None
    remote_updated: str | None = None
    consecutive_failures: int = 0

    @property
    def announce_updates(self) -> bool:
        return bool(self.options.get("announce_updates", False))


async def load_source(session: AsyncSession, source_id: int) -> SourceInfo:
    src = await session.get(Source, source_id)
    if src is None:
        raise NotFound(f"no source with id {source_id}")
    return SourceInfo(
        id=src.id, slug=src.slug, name=src.name, kind=src.kind, url=src.url, item_kind=src.item_kind,
        topics=list(src.topics or []), options=dict(src.options or {}), interval_minutes=src.interval_minutes,
        etag=src.etag, last_modified=src.last_modified, remote_updated=src.remote_updated,
        consecutive_failures=src.consecutive_failures,
    )


async def classifier_for(session: AsyncSession, source: SourceInfo) -> Classifier:
    rows = (await session.execute(select(Topic.slug, Topic.name_da, Topic.name_en).where(Topic.retired.is_(False)))).all()
    return Classifier.for_source([TopicName(*r) for r in rows], source.options)
