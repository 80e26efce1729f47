"""The alert mail (kind "alert"): one item, at once, in the subscriber's language.

A figures alert shows the subscriber's own municipalities first; a politician's alert
leads with a one-line summary; an urgent item says so in the subject. Parts are shared
with digests (`blocks`), so an item sent to 100,000 subscribers is rendered once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.render.assemble import shell
from service.render.blocks import fill_block, item_block, summary_block
from service.render.footer import footer
from service.render.message import Rendered
from service.render.prefetch import prefetched
from service.render.views import load_items, primary_topic

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from service.db.models import Delivery
    from service.render.context import RenderContext


class AlertGone(LookupError):
    pass


def _subject(say, title: str, urgent: bool, lang: str) -> str:
    title = " ".join(title.split())
    return say.get("alert", "urgent", lang).format(title=title) if urgent else title


async def render_alert(runtime: "RenderContext", session: "AsyncSession", delivery: "Delivery") -> Rendered:
    ready = await prefetched(session, delivery)
    sub = ready.subscriber
    item_id = delivery.item_id
    revision = ready.revisions.get(item_id) if item_id is not None else None
    if sub is None or revision is None:
        raise AlertGone(f"alert {delivery.id}: the subscriber or item {item_id} is gone")
    lang = sub.language
    (item,) = await load_items(runtime, session, {item_id: revision}, lang)
    sh = shell(runtime, "alert", lang)
    block = item_block(runtime, sh, item, lang, sub.municipalities)
    html_parts, text_parts = [], []
    if sub.politician:
        h, t = summary_block(runtime, sh, (block.headline,), lang)
        html_parts.append(h)
        text_parts.append(t)
    h, t = fill_block(runtime, block, sub, item.id)
    html_parts.append(h)
    text_parts.append(t)
    topic = primary_topic(item, sub.topic_ids)
    org = runtime.settings.service.organisation
    name = topic.name if topic else org
    say = runtime.templates.messages
    reason = say.get("alert", "reason", lang).format(name=name, org=org)
    foot = footer(runtime, lang=lang, reason=reason, subscriber_id=sub.id, token_version=sub.token_version,
                  topic=topic.slug if topic else "")
    subject = _subject(say, item.title, item.urgent, lang)
    preheader = block.headline if item.is_figures else (item.summary[:160] or item.title)
    html, text = sh.fill(title=subject, preheader=preheader, body_html="".join(html_parts),
                         body_text="\n".join(text_parts), footer=foot)
    return Rendered(subject=subject[:250], text=text, html=html, unsubscribe_url=foot["unsubscribe_url"] or None,
                    headers={"X-Budbringer-Kind": "alert", "X-Budbringer-Item": str(item.id)})
