"""Short service notices (kind "notice") and test mails (kind "test").

`params` of the delivery say what to write:

- `{"notice": "test"}` (what `budbringer send-test` queues): a fixed test text;
- `{"subject": "…", "text": "…", "link": "https://…", "link_label": "…"}`: a free notice;
  `text` is plain text (paragraphs separated by blank lines), never HTML.

The language is the delivery's. A notice to a subscriber carries the subscriber footer
(preferences and unsubscribe links); any other carries the sender only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.render.footer import footer
from service.render.formatting import language
from service.render.message import Rendered
from service.render.views import load_subscriber

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from service.db.models import Delivery
    from service.render.context import RenderContext

async def render_notice(runtime: "RenderContext", session: "AsyncSession", delivery: "Delivery") -> Rendered:
    params = delivery.params or {}
    lang = language(delivery.language)
    say = runtime.templates.messages
    name = params.get("notice") or ("test" if delivery.kind == "test" else "")
    if name == "test" and not params.get("subject"):
        subject, text, reason = (say.get("notice", f"test_{part}", lang) for part in ("subject", "text", "reason"))
    else:
        subject = str(params.get("subject") or say.get("notice", "subject", lang))
        text = str(params.get("text") or "")
        reason = str(params.get("reason") or "")
    subject = " ".join(subject.split())[:250]
    sub = await load_subscriber(session, delivery.subscriber_id)
    if sub is not None:
        foot = footer(runtime, lang=lang, reason=reason, subscriber_id=sub.id, token_version=sub.token_version)
    else:
        foot = footer(runtime, lang=lang, reason=reason)
    ctx = {
        "lang": lang, "title": subject, "paragraphs": [p.strip() for p in text.split("\n\n") if p.strip()],
        "link": str(params.get("link") or ""), "link_label": str(params.get("link_label") or ""),
        "test": delivery.kind == "test", "footer": foot,
    }
    html, text_body = runtime.templates.render_email("notice", ctx)
    return Rendered(subject=subject, text=text_body, html=html, unsubscribe_url=foot["unsubscribe_url"] or None,
                    headers={"X-Budbringer-Kind": delivery.kind})
