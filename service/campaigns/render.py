"""Mail for campaigns, one at a time: `compose_mail` (previews, test sends, and the reference
for the send worker's `service.campaigns.mailing`, which renders a campaign once for its
many recipients) and `render_draft_notice` (kind draft_notice: "a draft is ready" to
press officers).

The theme folder decides the look (`templates/themes/<theme>/email.{html,txt}`). A press
copy sent before the embargo carries "Under embargo til <local time>" in the subject and
at the top; a correction says "Rettelse" and links to the original. Merge fields
(`{fornavn}`, `{navn}`, `{hilsen}`: `service.campaigns.merge`) are filled per recipient
after rendering, escaped in the HTML part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from service.campaigns import merge
from service.campaigns.times import format_local
from service.campaigns.view import campaign_view
from service.db.campaigns import Campaign, CampaignAttachment, PressContact
from service.render.footer import footer
from service.render.message import Attachment, Rendered
from service.db.reference import Topic
from subscribers.models import Subscriber

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from service.db.models import Delivery
    from service.runtime import Runtime


class CampaignGone(LookupError):
    pass


def clean_subject(text: str) -> str:
    return " ".join(text.split())[:250]


async def render_one(runtime: "Runtime", session: "AsyncSession", delivery: "Delivery") -> Rendered:
    """One campaign delivery rendered alone, everything read afresh: test sends (their
    campaign may still be edited) and the reference the send worker's renderer
    (`service.campaigns.mailing`) is held to, byte for byte."""
    params = delivery.params or {}
    cid = delivery.campaign_id or params.get("campaign_id")
    c = await session.get(Campaign, cid) if cid else None
    if c is None:
        raise CampaignGone(f"campaign {cid} of delivery {delivery.id} no longer exists")
    lang = delivery.language if delivery.language in ("da", "en") else "da"
    part = params.get("part", "test")
    name = str(params.get("name") or "")
    if part == "sub" and delivery.subscriber_id:
        name = await session.scalar(select(Subscriber.name).where(Subscriber.id == delivery.subscriber_id)) or ""
    elif part == "press" and delivery.press_contact_id:
        name = await session.scalar(select(PressContact.name).where(PressContact.id == delivery.press_contact_id)) or ""
    return await compose_mail(runtime, session, c, part=part, lang=lang, created_at=delivery.created_at,
                              test=bool(params.get("test")), reader_name=name, subscriber_id=delivery.subscriber_id)


@dataclass(frozen=True)
class Unfilled:
    """A campaign mail as the theme renders it, before the reader's merge fields are filled."""

    subject: str
    html: str
    text: str
    unsubscribe_url: str | None
    headers: dict[str, str]
    attachments: tuple[Attachment, ...]


def reader_of(c: Campaign, part: str, name: str, lang: str) -> merge.Reader:
    """Who the merge fields speak to: a journalist (press copies, a press release's test) or a reader."""
    press = part == "press" or (part == "test" and c.kind == "press_release")
    return merge.Reader(name, "press" if press else "sub", lang)


def filled(mail: Unfilled, reader: merge.Reader) -> Rendered:
    return Rendered(
        subject=clean_subject(merge.fill(mail.subject, reader, escape=False)),
        text=merge.fill(mail.text, reader, escape=False), html=merge.fill(mail.html, reader, escape=True),
        unsubscribe_url=mail.unsubscribe_url, headers=dict(mail.headers), attachments=mail.attachments)


async def compose_mail(runtime: "Runtime", session: "AsyncSession", c: Campaign, *, part: str, lang: str,
                       created_at, test: bool = False, reader_name: str = "", subscriber_id: int | None = None,
                       item_ids: list[int] | None = None) -> Rendered:
    """One recipient's mail: rendered by the theme, then the merge fields filled for them.
    `c` may be unsaved (the editor's live preview), with its items given as `item_ids`."""
    under_embargo = bool(c.embargo_until and created_at < c.embargo_until)
    foot = await _footer(runtime, session, subscriber_id, c, part, lang, test)
    mail = await unfilled(runtime, session, c, lang=lang, under_embargo=under_embargo, test=test, foot=foot,
                          item_ids=item_ids)
    return filled(mail, reader_of(c, part, reader_name, lang))


async def unfilled(runtime: "Runtime", session: "AsyncSession", c: Campaign, *, lang: str, under_embargo: bool,
                   test: bool, foot: dict, item_ids: list[int] | None = None) -> Unfilled:
    """The theme's mail for this part of the audience, with `foot` as its footer."""
    settings = runtime.settings
    tz = settings.service.tz()
    base = settings.service.base_url
    view = await campaign_view(session, c, tz, base, lang, item_ids=item_ids)
    embargo_text = ""
    if under_embargo:
        when = format_local(c.embargo_until, tz, lang)
        embargo_text = f"Under embargo until {when}" if lang == "en" else f"Under embargo til {when}"
    subject = view.title
    if view.is_correction:
        subject = f"Rettelse: {subject}" if not subject.startswith("Rettelse") else subject
    if embargo_text:
        subject = f"{embargo_text}: {subject}"
    if test:
        subject = f"[TEST] {subject}"
    ctx = {
        "lang": lang,
        "c": view,
        "embargo_text": embargo_text,
        "test": test,
        "web_url": "" if under_embargo or c.id is None else f"{base}/archive/{c.id}",
        "original_url": f"{base}/archive/{c.corrects_id}" if c.corrects_id else "",
        "footer": foot,
    }
    html, text = runtime.templates.render_email(f"{c.theme}/email", ctx)
    atts = [] if c.id is None else (await session.execute(
        select(CampaignAttachment.filename, CampaignAttachment.content_type, CampaignAttachment.data)
        .where(CampaignAttachment.campaign_id == c.id).order_by(CampaignAttachment.id)
    )).all()
    return Unfilled(subject=subject, html=html, text=text, unsubscribe_url=foot["unsubscribe_url"] or None,
                    headers={"X-Budbringer-Kind": c.kind, "X-Budbringer-Campaign": str(c.id or 0)},
                    attachments=tuple(Attachment(a.filename, a.content_type, a.data) for a in atts))


def as_subscriber(c: Campaign, part: str) -> bool:
    """A newsletter's footer (and a press release's subscriber copy's) is a subscriber's."""
    return part == "sub" or (part == "test" and c.kind == "newsletter")


async def reason(runtime: "Runtime", session: "AsyncSession", c: Campaign, part: str, lang: str, test: bool) -> tuple[str, str]:
    """(why the reader gets this mail, the topic an unsubscribe link names)."""
    org = runtime.settings.service.organisation
    en = lang == "en"
    topics = list((c.audience or {}).get("topics") or [])
    if c.kind == "press_release":
        topics = [runtime.settings.campaigns.press_topic, *topics]
    slug = topics[0] if topics else ""
    if as_subscriber(c, part):
        name = await session.scalar(select(Topic.name_en if en else Topic.name_da).where(Topic.slug == slug)) or slug
        why = (f"You receive this because you subscribe to “{name}” from {org}." if en
               else f"Du får denne mail, fordi du abonnerer på »{name}« fra {org}.")
    else:
        why = (f"You receive this because you are on the press list of {org}. Reply to be removed."
               if en else f"Du får denne mail, fordi du står på presselisten hos {org}. Svar på mailen, hvis du vil afmeldes.")
    if test:
        why += " Test send – to you only." if en else " Testudsendelse – kun til dig."
    return why, slug


async def _footer(runtime: "Runtime", session: "AsyncSession", subscriber_id: int | None, c: Campaign, part: str,
                  lang: str, test: bool) -> dict:
    """Why the reader gets this mail. A newsletter's (and a press release's subscriber copy's)
    footer is a subscriber's; a press copy's is the press list's; a test says it is one."""
    why, slug = await reason(runtime, session, c, part, lang, test)
    if as_subscriber(c, part):
        sub = await session.get(Subscriber, subscriber_id) if subscriber_id and not test else None
        if sub is not None:
            return footer(runtime, lang=lang, reason=why, subscriber_id=sub.id, token_version=sub.token_version,
                          topic=slug)
    return footer(runtime, lang=lang, reason=why)


async def render_draft_notice(runtime: "Runtime", session: "AsyncSession", delivery: "Delivery") -> Rendered:
    params = delivery.params or {}
    c = await session.get(Campaign, params.get("campaign_id"))
    if c is None:
        raise CampaignGone(f"campaign {params.get('campaign_id')} no longer exists")
    base = runtime.settings.service.base_url
    ctx = {
        "lang": "da",
        "title": c.title,
        "lead": c.lead,
        "revised": bool(params.get("revised")),
        "period_label": params.get("period_label", ""),
        "edit_url": f"{base}/admin/campaigns/{c.id}",
        "footer": footer(runtime, lang="da", reason="Du får denne mail, fordi du er presseansvarlig i Budbringer."),
    }
    html, text = runtime.templates.render_email("draft_notice", ctx)
    prefix = "Reviderede tal – kladden er opdateret" if ctx["revised"] else "Ny kladde til pressemeddelelse"
    return Rendered(subject=clean_subject(f"{prefix}: {c.title}"), text=text, html=html,
                    headers={"X-Budbringer-Kind": "draft_notice"})


def preview_part(kind: str, part: str) -> str:
    """A newsletter is only ever seen as a subscriber sees it; a press release as press or subscriber."""
    return "sub" if kind == "newsletter" or part == "sub" else "press"


async def preview(runtime: "Runtime", session: "AsyncSession", campaign_id: int, *, part: str = "press",
                  lang: str = "da", reader_name: str = "") -> Rendered:
    """The campaign as a recipient would get it now, without queueing anything."""
    c = await session.get(Campaign, campaign_id)
    if c is None:
        raise CampaignGone(f"campaign {campaign_id} no longer exists")
    return await compose_mail(runtime, session, c, part=preview_part(c.kind, part), lang=lang,
                              created_at=runtime.clock.now(), reader_name=reader_name)


async def preview_unsaved(runtime: "Runtime", session: "AsyncSession", c: Campaign, item_ids: list[int], *,
                          part: str = "press", reader_name: str = "") -> Rendered:
    """The editor's live preview: what is typed now, not yet saved."""
    return await compose_mail(runtime, session, c, part=preview_part(c.kind, part), lang="da",
                              created_at=runtime.clock.now(), reader_name=reader_name, item_ids=item_ids)
