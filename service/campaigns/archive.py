"""What the public may see, and from when: the one gate for `/archive` and `/feed.xml`.

A campaign is public once it is released (status sending or sent) AND its public time
has come: `embargo_until` if it has one, else when sending started. An item is public
when `public_at` is empty or past. The test is by time alone, so nothing under embargo
can show early even if the release job is late, and nothing depends on a flag set later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.campaigns.times import format_local
from service.campaigns.view import KIND_LABELS
from service.db.campaigns import Campaign
from service.db.models import Item

ITEM_LABELS = {
    "figures": "Ledighedstal", "analysis": "Analyse", "guideline": "Retningslinje", "best_practice": "Best practice",
    "news": "Nyhed", "event": "Arrangement", "press_release": "Pressemeddelelse",
}


@dataclass(frozen=True)
class Entry:
    key: str  # "campaign:12" / "item:34": the feed's id
    path: str  # permalink path
    kind_label: str
    title: str
    summary: str
    published: datetime
    published_label: str
    updated: datetime
    external_link: str | None = None


def campaign_public_at():
    return func.coalesce(Campaign.embargo_until, Campaign.started_at)


def public_campaigns(now: datetime):
    return and_(Campaign.status.in_(("sending", "sent")), Campaign.started_at.is_not(None), campaign_public_at() <= now)


def public_items(now: datetime):
    return or_(Item.public_at.is_(None), Item.public_at <= now)


async def latest(session: AsyncSession, now: datetime, tz: ZoneInfo, *, limit: int, offset: int = 0) -> list[Entry]:
    """Newest first, campaigns and items merged."""
    want = limit + offset
    crows = (await session.execute(
        select(Campaign.id, Campaign.kind, Campaign.title, Campaign.lead, campaign_public_at().label("pub"), Campaign.updated_at)
        .where(public_campaigns(now)).order_by(campaign_public_at().desc(), Campaign.id.desc()).limit(want)
    )).all()
    irows = (await session.execute(
        select(Item.id, Item.kind, Item.title, Item.summary, Item.link, Item.published_at, Item.updated_at, Item.public_at)
        .where(public_items(now)).order_by(Item.published_at.desc(), Item.id.desc()).limit(want)
    )).all()
    entries = [
        Entry(f"campaign:{r.id}", f"/archive/{r.id}", KIND_LABELS.get(r.kind, {}).get("da", r.kind), r.title, r.lead,
              r.pub, format_local(r.pub, tz), max(r.pub, r.updated_at))
        for r in crows
    ]
    for r in irows:
        pub = max(r.published_at, r.public_at) if r.public_at else r.published_at
        entries.append(Entry(f"item:{r.id}", f"/archive/items/{r.id}", ITEM_LABELS.get(r.kind, r.kind), r.title,
                             r.summary, pub, format_local(pub, tz), max(pub, r.updated_at), r.link))
    entries.sort(key=lambda e: e.published, reverse=True)
    return entries[offset:want]


async def public_campaign(session: AsyncSession, now: datetime, campaign_id: int) -> Campaign | None:
    return await session.scalar(select(Campaign).where(Campaign.id == campaign_id, public_campaigns(now)))


async def public_item(session: AsyncSession, now: datetime, item_id: int) -> Item | None:
    return await session.scalar(select(Item).where(Item.id == item_id, public_items(now)))


async def public_corrections(session: AsyncSession, now: datetime, campaign_id: int) -> list[tuple[int, str]]:
    rows = (await session.execute(
        select(Campaign.id, Campaign.title).where(Campaign.corrects_id == campaign_id, public_campaigns(now))
        .order_by(Campaign.id)
    )).all()
    return [(r.id, r.title) for r in rows]
