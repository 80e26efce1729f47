"""The mails of a subscription: confirm, manage link, welcome, address change, data export.

Short texts in Danish and English through the shared notice template and footer. A
confirmation mail has no unsubscribe link (there is nothing to leave yet; the mail says
what to do if you did not ask for it); every other one carries the subscriber footer.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from subscribers.lifecycle import email_digest, export_data
from subscribers.models import Subscriber
from service.render.footer import footer
from service.render.message import Attachment, Rendered

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from service.db.models import Delivery
    from service.runtime import Runtime

TEXTS = {
    "confirm": {
        "da": ("Bekræft dit abonnement",
               ["Tak for din tilmelding til nyheder fra {org}.",
                "Tryk på knappen for at bekræfte, at det er din adresse. Linket virker i {days} dage.",
                "Har du ikke bedt om det, så gør ingenting: du får ikke flere mails fra os."],
               "Bekræft abonnement", "Du får denne mail, fordi nogen tilmeldte denne adresse på vores side."),
        "en": ("Confirm your subscription",
               ["Thank you for subscribing to news from {org}.",
                "Press the button to confirm this is your address. The link works for {days} days.",
                "If you did not ask for this, do nothing: you will not hear from us again."],
               "Confirm subscription", "You receive this because someone signed this address up on our page."),
    },
    "manage": {
        "da": ("Dit abonnement", ["Du abonnerer allerede på nyheder fra {org}.",
                                  "Her er linket, hvor du kan se og ændre dine valg eller afmelde dig."],
               "Ret dit abonnement", "Du får denne mail, fordi nogen bad om linket til dit abonnement."),
        "en": ("Your subscription", ["You already subscribe to news from {org}.",
                                     "Here is the link where you can see and change your choices, or unsubscribe."],
               "Manage your subscription", "You receive this because someone asked for the link to your subscription."),
    },
    "welcome": {
        "da": ("Velkommen", ["Dit abonnement på nyheder fra {org} er bekræftet.",
                             "Du kan altid ændre dine emner, kommuner og hvor ofte du får besked, eller afmelde dig, "
                             "med linkene nederst i hver mail."],
               "Se dine valg", "Du får denne mail, fordi du har bekræftet dit abonnement."),
        "en": ("Welcome", ["Your subscription to news from {org} is confirmed.",
                           "You can change your topics, municipalities and how often you hear from us, or unsubscribe, "
                           "with the links at the bottom of every mail."],
               "See your choices", "You receive this because you confirmed your subscription."),
    },
    "email_change": {
        "da": ("Bekræft din nye adresse", ["Du har bedt om at få nyheder fra {org} til denne adresse.",
                                           "Tryk på knappen for at bekræfte. Indtil da går mails til din gamle adresse."],
               "Bekræft ny adresse", "Du får denne mail, fordi nogen bad om at flytte et abonnement hertil."),
        "en": ("Confirm your new address", ["You asked to receive news from {org} at this address.",
                                            "Press the button to confirm. Until then, mail goes to your old address."],
               "Confirm new address", "You receive this because someone asked to move a subscription here."),
    },
    "export": {
        "da": ("Dine oplysninger", ["Her er alt, hvad {org} har gemt om dig i nyhedstjenesten, i den vedhæftede fil."],
               "Ret dit abonnement", "Du får denne mail, fordi du bad om en kopi af dine oplysninger."),
        "en": ("Your data", ["Attached is everything {org} keeps about you in the news service."],
               "Manage your subscription", "You receive this because you asked for a copy of your data."),
    },
}


async def _render(runtime: "Runtime", session: "AsyncSession", delivery: "Delivery", kind: str) -> Rendered:
    sub = await session.get(Subscriber, delivery.subscriber_id) if delivery.subscriber_id else None
    if sub is None:
        raise LookupError(f"subscriber {delivery.subscriber_id} is gone")
    lang = sub.language if sub.language in ("da", "en") else "da"
    title, paragraphs, label, reason = TEXTS[kind][lang]
    org = runtime.settings.service.organisation
    days = runtime.settings.subscribers.confirm_token_days
    paragraphs = [p.format(org=org, days=days) for p in paragraphs]
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


async def render_confirm(runtime, session, delivery) -> Rendered:
    return await _render(runtime, session, delivery, "confirm")


async def render_manage(runtime, session, delivery) -> Rendered:
    return await _render(runtime, session, delivery, "manage")


async def render_welcome(runtime, session, delivery) -> Rendered:
    return await _render(runtime, session, delivery, "welcome")


async def render_email_change(runtime, session, delivery) -> Rendered:
    return await _render(runtime, session, delivery, "email_change")


async def render_export(runtime, session, delivery) -> Rendered:
    return await _render(runtime, session, delivery, "export")
