"""The admin's "test fetch": what items a fetch of a source would make, saving nothing.

Fetches without conditional headers (so a 304 never hides the answer), parses and
classifies exactly as a poll would, and says for each entry whether it is new, changed
or already known. Errors are raised as `FetchError`, `FeedRejected` or `StatbankError`
with plain messages for the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select

from service.db.models import Item, ItemSource
from service.sources.info import SourceInfo, load_source
from service.sources.store import ItemDraft


@dataclass(frozen=True)
class ItemPreview:
    key: str
    kind: str
    title: str
    link: str | None
    summary: str
    published_at: datetime | None
    topics: list[str] = field(default_factory=list)
    municipalities: list[str] = field(default_factory=list)
    status: str = "new"  # new, changed, known


async def _drafts(runtime, source: SourceInfo) -> list[ItemDraft]:
    if source.kind == "feed":
        from service.sources.feeds import fetch_drafts

        _result, drafts = await fetch_drafts(runtime, replace(source, etag=None, last_modified=None))
        return drafts or []
    if source.kind == "statbank":
        from service.sources.figures import figures_draft

        return [await figures_draft(runtime, replace(source, remote_updated=None))]
    return []


async def test_fetch(runtime, source_id: int) -> list[ItemPreview]:
    async with runtime.db.reader() as s:
        source = await load_source(s, source_id)
    drafts = await _drafts(runtime, source)
    async with runtime.db.reader() as s:
        known = dict((await s.execute(
            select(ItemSource.entry_key, Item.content_hash).join(Item, Item.id == ItemSource.item_id)
            .where(ItemSource.source_id == source.id, ItemSource.entry_key.in_([d.key for d in drafts] or [""]))
        )).all())
    return [
        ItemPreview(
            key=d.key, kind=d.kind, title=d.title, link=d.link, summary=d.summary, published_at=d.published_at,
            topics=list(d.topics), municipalities=list(d.municipalities),
            status="new" if d.key not in known else "known" if known[d.key] == d.content_hash() else "changed",
        )
        for d in drafts
    ]


test_fetch.__test__ = False  # not a pytest test, whatever its name
