"""Poll one feed source: conditional GET, parse (hostile-safe), classify, save items.

A 304 answer costs no parsing at all. The items, the new ETag/Last-Modified and a moved
URL (permanent redirect) are saved in one transaction.
"""

from __future__ import annotations

from service.db.models import Source
from service.sources.classify import Classifier
from service.sources.info import SourceInfo, classifier_for
from service.sources.parse import Entry, parse_feed
from service.sources.report import PollReport
from service.sources.store import ItemDraft, save_item


def draft_for(entry: Entry, source: SourceInfo, classifier: Classifier) -> ItemDraft:
    text = f"{entry.title}\n{entry.summary}"
    return ItemDraft(
        key=entry.key, kind=source.item_kind, title=entry.title, published_at=entry.published_at,
        summary=entry.summary, summary_html=entry.summary_html, link=entry.link,
        topics=classifier.topics(source.topics, entry.categories, text),
        municipalities=classifier.municipalities(text),
        language=str(source.options.get("language", "da"))[:2],
    )


async def fetch_drafts(runtime, source: SourceInfo) -> tuple[object, list[ItemDraft] | None]:
    """The fetch result and the drafts it makes (None when the server said 304)."""
    if not source.url:
        raise ValueError("the source has no address to fetch")
    result = await runtime.fetcher.get(source.url, etag=source.etag, last_modified=source.last_modified)
    if result.status == 304:
        return result, None
    entries = parse_feed(result.body, result.content_type)
    async with runtime.db.reader() as s:
        classifier = await classifier_for(s, source)
    return result, [draft_for(e, source, classifier) for e in entries]


async def poll_feed(runtime, source: SourceInfo) -> PollReport:
    result, drafts = await fetch_drafts(runtime, source)
    report = PollReport(not_modified=drafts is None, moved_to=result.permanent_redirect)
    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        row = await s.get(Source, source.id)
        for draft in drafts or []:
            saved = await save_item(s, row, draft, now, announce_updates=source.announce_updates)
            report.count(saved)
        if drafts is not None:
            row.etag = result.etag
            row.last_modified = result.last_modified
        if result.permanent_redirect:
            row.url = result.permanent_redirect
    return report
