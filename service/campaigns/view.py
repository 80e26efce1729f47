"""The plain view model of a campaign that templates, pages and the feed all read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.campaigns.markdown import to_html, to_text
from service.campaigns.times import format_local
from service.db.campaigns import Campaign, CampaignAttachment, CampaignItem
from service.db.models import Item

KIND_LABELS = {  # for the mail and the feed; pages use the label filter
    "press_release": {"da": "Pressemeddelelse", "en": "Press release"},
    "newsletter": {"da": "Nyhedsbrev", "en": "Newsletter"},
}


@dataclass
class CampaignView:
    id: int
    kind: str
    kind_label: str
    title: str
    lead: str
    body_html: str
    body_text: str
    theme: str
    focus: str
    contact_name: str
    contact_email: str
    contact_phone: str
    status: str
    scheduled_at: datetime | None
    embargo_until: datetime | None
    public_at: datetime | None  # when the public may see it (None: not released)
    released_label: str
    corrects_id: int | None
    corrects_title: str = ""
    items: list[dict] = field(default_factory=list)
    attachments: list[dict] = field(default_factory=list)

    @property
    def is_correction(self) -> bool:
        return self.corrects_id is not None


def public_at(c: Campaign) -> datetime | None:
    """The moment a campaign becomes public: its embargo, else its release."""
    if c.status not in ("sending", "sent"):
        return None
    return c.embargo_until or c.started_at or c.scheduled_at


async def campaign_view(session: AsyncSession, c: Campaign, tz: ZoneInfo, base_url: str, lang: str = "da",
                        item_ids: list[int] | None = None) -> CampaignView:
    """`item_ids` for a campaign not saved yet (the editor's preview); else its saved items."""
    q = select(Item.id, Item.title, Item.summary, Item.link)
    if item_ids is not None:
        found = {r.id: r for r in (await session.execute(q.where(Item.id.in_(item_ids)))).all()} if item_ids else {}
        rows = [found[i] for i in dict.fromkeys(item_ids) if i in found]
    else:
        rows = (await session.execute(
            q.join(CampaignItem, CampaignItem.item_id == Item.id)
            .where(CampaignItem.campaign_id == c.id)
            .order_by(CampaignItem.position)
        )).all()
    items = [{"id": r.id, "title": r.title, "summary": r.summary,
              "link": r.link or f"{base_url}/archive/items/{r.id}"} for r in rows]
    corrects_title = ""
    if c.corrects_id is not None:
        corrects_title = await session.scalar(select(Campaign.title).where(Campaign.id == c.corrects_id)) or ""
    atts = [] if c.id is None else (await session.execute(
        select(CampaignAttachment.id, CampaignAttachment.filename, CampaignAttachment.size)
        .where(CampaignAttachment.campaign_id == c.id).order_by(CampaignAttachment.id)
    )).all()
    pub = public_at(c)
    return CampaignView(
        id=c.id, kind=c.kind, kind_label=KIND_LABELS.get(c.kind, {}).get(lang, c.kind), title=c.title, lead=c.lead,
        body_html=to_html(c.body_md), body_text=to_text(c.body_md), theme=c.theme, focus=c.focus,
        contact_name=c.contact_name, contact_email=c.contact_email, contact_phone=c.contact_phone,
        status=c.status, scheduled_at=c.scheduled_at, embargo_until=c.embargo_until, public_at=pub,
        released_label=format_local(pub, tz, lang) if pub else "", corrects_id=c.corrects_id,
        corrects_title=corrects_title, items=items,
        attachments=[{"id": a.id, "filename": a.filename, "size": a.size} for a in atts],
    )
