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
from service.render.message import Rendered
from service.render.views import load_subscriber

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from service.db.models import Delivery
    from service.render.context import RenderContext

FIXED = {
    "test": {
        "da": ("Testmail fra Budbringer", "Dette er en testmail. Kan du læse den, virker udsendelsen fra Budbringer.",
               "Du får denne mail, fordi en administrator sendte en testmail til adressen."),
        "en": ("Test mail from Budbringer", "This is a test mail. If you can read it, Budbringer's mail works.",
               "You receive this because an administrator sent a test mail to this address."),
    },
}


async def render_notice(runtime: "RenderContext", session: "AsyncSession", delivery: "Delivery") -> Rendered:
    params = delivery.params or {}
    lang = delivery.language if delivery.language in ("da", "en") else "da"
    name = params.get("notice") or ("test" if delivery.kind == "test" else "")
    if name in FIXED and not params.get("subject"):
        subject, text, reason = FIXED[name][lang]
    else:
        subject = str(params.get("subject") or ("Message from Budbringer" if lang == "en" else "Besked fra Budbringer"))
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
