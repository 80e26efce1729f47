"""The digest mail (kind "digest"): every entry a digest run attached to this delivery,
grouped by topic, in the subscriber's language; a politician's digest leads with a short
summary. Parts are rendered once and shared between subscribers (`assemble`, `blocks`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.render.blocks import fill_block, item_block, summary_block, topic_heading
from service.render.assemble import shell
from service.render.footer import footer
from service.render.message import Rendered
from service.render.prefetch import prefetched
from service.render.views import ItemView, SubscriberView, load_items, primary_topic

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from service.db.models import Delivery
    from service.render.context import RenderContext


class NothingToSend(LookupError):
    """The delivery has no entries (or no subscriber) any more."""


def _count(say, n: int, lang: str) -> str:
    return say.get("digest", "count_one" if n == 1 else "count_many", lang).format(n=n)


def group(items: list[ItemView], sub: SubscriberView):
    """[(topic, [items])] by the topics' order; figures first inside a group, then newest first."""
    groups: dict[str, tuple] = {}
    for item in items:
        topic = primary_topic(item, sub.topic_ids)
        key = topic.slug if topic else ""
        groups.setdefault(key, (topic, []))[1].append(item)
    ordered = sorted(groups.values(), key=lambda g: (g[0] is None, g[0].position if g[0] else 0, g[0].slug if g[0] else ""))
    for _, members in ordered:
        members.sort(key=lambda i: (not i.is_figures, -i.published_at.timestamp(), i.id))
    return ordered


async def render_digest(runtime: "RenderContext", session: "AsyncSession", delivery: "Delivery") -> Rendered:
    ready = await prefetched(session, delivery)
    sub = ready.subscriber
    if sub is None:
        raise NothingToSend(f"digest {delivery.id}: the subscriber is gone")
    if not ready.revisions:
        raise NothingToSend(f"digest {delivery.id} has no entries")
    lang = sub.language
    frequency = (delivery.params or {}).get("frequency") or sub.frequency
    items = await load_items(runtime, session, ready.revisions, lang)
    sh = shell(runtime, "digest", lang)
    html_parts: list[str] = []
    text_parts: list[str] = []
    blocks = {}
    for item in items:
        blocks[item.id] = item_block(runtime, sh, item, lang, sub.municipalities)
    groups = group(items, sub)
    if sub.politician:
        lines = tuple(blocks[i.id].headline for _, members in groups for i in members)
        h, t = summary_block(runtime, sh, lines, lang)
        html_parts.append(h)
        text_parts.append(t)
    for topic, members in groups:
        h, t = topic_heading(runtime, sh, topic, lang)
        html_parts.append(h)
        text_parts.append(t)
        for item in members:
            h, t = fill_block(runtime, blocks[item.id], sub, item.id)
            html_parts.append(h)
            text_parts.append(t)
    org = runtime.settings.service.organisation
    say = runtime.templates.messages
    reason = say.get("digest", "reason_daily" if frequency == "daily" else "reason_weekly", lang).format(org=org)
    foot = footer(runtime, lang=lang, reason=reason, subscriber_id=sub.id, token_version=sub.token_version)
    subject = say.get("digest", "subject_weekly" if frequency == "weekly" else "subject_daily", lang)
    title = f"{subject}: {_count(say, len(items), lang)}"
    preheader = " · ".join(i.title for _, members in groups for i in members)[:200]
    html, text = sh.fill(title=title, preheader=preheader, body_html="".join(html_parts),
                         body_text="\n".join(text_parts), footer=foot)
    return Rendered(subject=title, text=text, html=html, unsubscribe_url=foot["unsubscribe_url"] or None,
                    headers={"X-Budbringer-Kind": "digest"})
