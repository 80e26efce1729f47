"""Mail for campaigns: `render_campaign` (kinds press_release, newsletter) and
`render_draft_notice` (kind draft_notice: "a draft is ready" to press officers).

The theme folder decides the look (`templates/themes/<theme>/email.{html,txt}`). A press
copy sent before the embargo carries "Under embargo til <local time>" in the subject and
at the top; a correction says "Rettelse" and links to the original.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from service.campaigns.times import format_local
from service.campaigns.view import campaign_view
from service.db.models import Campaign, CampaignAttachment
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


def _clean_subject(text: str) -> str:
    return " ".join(text.split())[:250]


async def render_campaign(runtime: "Runtime", session: "AsyncSession", delivery: "Delivery") -> Rendered:
    params = delivery.params or {}
    cid = delivery.campaign_id or params.get("campaign_id")
    c = await session.get(Campaign, cid) if cid else None
    if c is None:
        raise CampaignGone(f"campaign {cid} of delivery {delivery.id} no longer exists")
    settings = runtime.settings
    tz = settings.service.tz()
    lang = delivery.language if delivery.language in ("da", "en") else "da"
    base = settings.service.base_url
    view = await campaign_view(session, c, tz, base, lang)
    part = params.get("part", "test")
    under_embargo = bool(c.embargo_until and delivery.created_at < c.embargo_until)
    embargo_text = ""
    if under_embargo:
        when = format_local(c.embargo_until, tz, lang)
        embargo_text = f"Under embargo until {when}" if lang == "en" else f"Under embargo til {when}"
    subject = view.title
    if view.is_correction:
        subject = f"Rettelse: {subject}" if not subject.startswith("Rettelse") else subject
    if embargo_text:
        subject = f"{embargo_text}: {subject}"
    if params.get("test"):
        subject = f"[TEST] {subject}"
    foot = await _footer(runtime, session, delivery, c, part, lang)
    ctx = {
        "lang": lang,
        "c": view,
        "embargo_text": embargo_text,
        "test": bool(params.get("test")),
        "web_url": "" if under_embargo else f"{base}/archive/{c.id}",
        "original_url": f"{base}/archive/{c.corrects_id}" if c.corrects_id else "",
        "footer": foot,
    }
    html, text = runtime.templates.render_email(f"{c.theme}/email", ctx)
    atts = (await session.execute(
        select(CampaignAttachment.filename, CampaignAttachment.content_type, CampaignAttachment.data)
        .where(CampaignAttachment.campaign_id == c.id).order_by(CampaignAttachment.id)
    )).all()
    unsubscribe = foot["unsubscribe_url"] or None
    return Rendered(
        subject=_clean_subject(subject), text=text, html=html, unsubscribe_url=unsubscribe,
        headers={"X-Budbringer-Kind": c.kind, "X-Budbringer-Campaign": str(c.id)},
        attachments=tuple(Attachment(a.filename, a.content_type, a.data) for a in atts),
    )


async def _footer(runtime: "Runtime", session: "AsyncSession", delivery: "Delivery", c: Campaign, part: str, lang: str) -> dict:
    org = runtime.settings.service.organisation
    if part == "sub" and delivery.subscriber_id:
        sub = await session.get(Subscriber, delivery.subscriber_id)
        if sub is not None:
            topics = list((c.audience or {}).get("topics") or [])
            if c.kind == "press_release":
                topics = [runtime.settings.campaigns.press_topic, *topics]
            slug = topics[0] if topics else ""
            name = await session.scalar(select(Topic.name_en if lang == "en" else Topic.name_da).where(Topic.slug == slug)) or slug
            reason = (f"You receive this because you subscribe to “{name}” from {org}." if lang == "en"
                      else f"Du får denne mail, fordi du abonnerer på »{name}« fra {org}.")
            return footer(runtime, lang=lang, reason=reason, subscriber_id=sub.id,
                          token_version=sub.token_version, topic=slug)
    if part == "press":
        reason = (f"You receive this because you are on the press list of {org}. Reply to be removed."
                  if lang == "en" else f"Du får denne mail, fordi du står på presselisten hos {org}. Svar på mailen, hvis du vil afmeldes.")
        return footer(runtime, lang=lang, reason=reason)
    return footer(runtime, lang=lang, reason="Testudsendelse – kun til dig." if lang != "en" else "Test send – to you only.")


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
    return Rendered(subject=_clean_subject(f"{prefix}: {c.title}"), text=text, html=html,
                    headers={"X-Budbringer-Kind": "draft_notice"})


async def preview(runtime: "Runtime", session: "AsyncSession", campaign_id: int, *, part: str = "press",
                  lang: str = "da") -> Rendered:
    """The campaign as a recipient would get it now, without queueing anything."""
    from service.db.models import Delivery

    probe = Delivery(id=0, key="preview", kind="press_release", recipient="preview@invalid", campaign_id=None,
                     params={"campaign_id": campaign_id, "part": part}, language=lang,
                     created_at=runtime.clock.now(), subscriber_id=None)
    return await render_campaign(runtime, session, probe)
