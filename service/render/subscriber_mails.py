"""The mails of a subscription: confirm, manage link, welcome, address change, data export.

Short texts in Danish and English from the message catalogue (`templates/messages.toml`,
groups `mail_<kind>`) through the shared notice template and footer. A confirmation mail
has no unsubscribe link (there is nothing to leave yet; the mail says what to do if you
did not ask for it); every other one carries the subscriber footer.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from service.render.footer import footer
from service.render.formatting import language
from service.render.message import Attachment, Rendered
from subscribers.links import email_digest
from subscribers.models import Subscriber
from subscribers.records import export_data

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from service.db.models import Delivery
    from service.render.context import RenderContext


async def _render(runtime: "RenderContext", session: "AsyncSession", delivery: "Delivery", kind: str) -> Rendered:
    sub = await session.get(Subscriber, delivery.subscriber_id) if delivery.subscriber_id else None
    if sub is None:
        raise LookupError(f"subscriber {delivery.subscriber_id} is gone")
    lang = language(sub.language)
    say = runtime.templates.messages
    group = f"mail_{kind}"
    title, label, reason = say.get(group, "title", lang), say.get(group, "button", lang), say.get(group, "reason", lang)
    org = runtime.settings.service.organisation
    days = runtime.settings.subscribers.confirm_token_days
    paragraphs = [p.format(org=org, days=days) for p in say.get(group, "body", lang).split("\n\n")]
    links = runtime.links
    attachments: tuple[Attachment, ...] = ()
    if kind == "confirm":
        link = links.confirm(sub.id, sub.token_version)
        foot = footer(runtime, lang=lang, reason=reason)
    elif kind == "email_change":
        link = links.email_change(sub.id, sub.token_version, email_digest(str((delivery.params or {}).get("new_email", ""))))
        foot = footer(runtime, lang=lang, reason=reason)
    else:
        link = links.preferences(sub.id, sub.token_version)
        foot = footer(runtime, lang=lang, reason=reason, subscriber_id=sub.id, token_version=sub.token_version)
    if kind == "export":
        data = json.dumps(await export_data(session, sub.id), ensure_ascii=False, indent=2).encode()
        attachments = (Attachment("budbringer-data.json", "application/json", data),)
    ctx = {"lang": lang, "title": title, "paragraphs": paragraphs, "link": link, "link_label": label,
           "test": False, "footer": foot}
    html, text = runtime.templates.render_email("notice", ctx)
    return Rendered(subject=title, text=text, html=html, unsubscribe_url=foot["unsubscribe_url"] or None,
                    headers={"X-Budbringer-Kind": kind}, attachments=attachments)


async def render_confirm(runtime: "RenderContext", session: "AsyncSession", delivery: "Delivery") -> Rendered:
    return await _render(runtime, session, delivery, "confirm")


async def render_manage(runtime: "RenderContext", session: "AsyncSession", delivery: "Delivery") -> Rendered:
    return await _render(runtime, session, delivery, "manage")


async def render_welcome(runtime: "RenderContext", session: "AsyncSession", delivery: "Delivery") -> Rendered:
    return await _render(runtime, session, delivery, "welcome")


async def render_email_change(runtime: "RenderContext", session: "AsyncSession", delivery: "Delivery") -> Rendered:
    return await _render(runtime, session, delivery, "email_change")


async def render_export(runtime: "RenderContext", session: "AsyncSession", delivery: "Delivery") -> Rendered:
    return await _render(runtime, session, delivery, "export")
