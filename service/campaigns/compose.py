"""Compose: create and edit a campaign (press release or newsletter) while it is unsent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.campaigns.themes import check_theme
from service.db.campaigns import Campaign, CampaignItem
from service.db.models import Item
from service.delivery.headers import HeaderError, unstructured
from service.errors import Conflict, Invalid, NotFound

KINDS = ("press_release", "newsletter")
MEDIA_TYPES = ("national", "regional", "local", "broadcast", "trade", "agency")  # words: labels.toml [media_type]
EDITABLE = ("draft", "scheduled")


@dataclass
class CampaignForm:
    kind: str
    title: str
    lead: str = ""
    body_md: str = ""
    theme: str = "standard"
    focus: str = ""
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    # Press contacts: empty list = any. Subscribers: topic slugs.
    media_types: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    beats: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    item_ids: list[int] = field(default_factory=list)  # newsletter: picked items, in order
    segment_id: int | None = None  # press: a saved segment instead of the filter above

    def audience(self) -> dict[str, Any]:
        press: dict[str, Any] = {"media_types": self.media_types, "regions": self.regions, "beats": self.beats}
        if self.segment_id:
            press = {"segment_id": self.segment_id, "media_types": [], "regions": [], "beats": []}
        return {"press": press, "topics": self.topics}


def validate(form: CampaignForm, templates_root: Path) -> None:
    problems: dict[str, str] = {}
    if form.kind not in KINDS:
        problems["kind"] = "Vælg pressemeddelelse eller nyhedsbrev"
    if not form.title.strip():
        problems["title"] = "Skriv en overskrift"
    elif len(form.title) > 300:
        problems["title"] = "Højst 300 tegn"
    else:
        try:  # the title becomes the mail's subject: refused now, not when every message is built
            unstructured("Subject", form.title)
        except HeaderError:
            problems["title"] = "Overskriften må ikke indeholde linjeskift eller kontroltegn"
    if len(form.body_md) > 200_000:
        problems["body_md"] = "Teksten er for lang"
    if form.contact_email:
        try:
            form.contact_email = validate_email(form.contact_email, check_deliverability=False).normalized
        except EmailNotValidError:
            problems["contact_email"] = "Ugyldig e-mailadresse"
    bad = [m for m in form.media_types if m not in MEDIA_TYPES]
    if bad:
        problems["media_types"] = "Ukendt medietype: " + ", ".join(bad)
    if form.kind == "newsletter" and not form.topics:
        problems["topics"] = "Vælg mindst ét emne, hvis abonnenter skal have nyhedsbrevet"
    try:
        check_theme(templates_root, form.theme)
    except Invalid as exc:
        problems.update(exc.fields)
    if problems:
        raise Invalid("Ret de markerede felter.", problems)


def _apply(c: Campaign, form: CampaignForm, now: datetime) -> None:
    c.title = form.title.strip()
    c.lead = form.lead.strip()
    c.body_md = form.body_md
    c.theme = form.theme
    c.focus = form.focus.strip()
    c.contact_name = form.contact_name.strip()
    c.contact_email = form.contact_email
    c.contact_phone = form.contact_phone.strip()
    c.audience = form.audience()
    c.updated_at = now


async def _set_items(session: AsyncSession, campaign_id: int, item_ids: list[int]) -> None:
    await session.execute(delete(CampaignItem).where(CampaignItem.campaign_id == campaign_id))
    wanted = list(dict.fromkeys(item_ids))
    found = set((await session.scalars(select(Item.id).where(Item.id.in_(wanted)))).all()) if wanted else set()
    for pos, item_id in enumerate(i for i in wanted if i in found):
        session.add(CampaignItem(campaign_id=campaign_id, item_id=item_id, position=pos))


async def create_campaign(
    session: AsyncSession, form: CampaignForm, *, now: datetime, templates_root: Path, user_id: int | None = None
) -> int:
    validate(form, templates_root)
    c = Campaign(kind=form.kind, status="draft", created_by=user_id, created_at=now)
    _apply(c, form, now)
    session.add(c)
    await session.flush()
    await _set_items(session, c.id, form.item_ids)
    return c.id


async def load_editable(session: AsyncSession, campaign_id: int) -> Campaign:
    c = await session.get(Campaign, campaign_id, with_for_update=session.bind.dialect.name == "postgresql")
    if c is None:
        raise NotFound("Kampagnen findes ikke.")
    if c.status not in EDITABLE:
        raise Conflict("Kampagnen er sendt eller annulleret og kan ikke længere ændres.")
    return c


async def update_campaign(
    session: AsyncSession, campaign_id: int, form: CampaignForm, *, now: datetime, templates_root: Path
) -> None:
    c = await load_editable(session, campaign_id)
    form.kind = c.kind  # the kind never changes
    validate(form, templates_root)
    _apply(c, form, now)
    await _set_items(session, c.id, form.item_ids)
