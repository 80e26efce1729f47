"""Schedule, reschedule and cancel: allowed until sending starts.

Each is one conditional UPDATE (`WHERE status IN ('draft', 'scheduled')`), so it cannot
race the release job: whichever commits first wins, and the loser gets a plain answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.campaigns import Campaign
from service.errors import Conflict, Invalid, NotFound

GRACE = timedelta(minutes=1)  # "now" typed into a form is a minute old by the time it arrives


def check(c: Campaign, *, scheduled_at: datetime, embargo_until: datetime | None, now: datetime) -> None:
    """Refuse a time that has passed, an embargo on a newsletter, or one that ends before the
    press gets the release (before anything is asked or written)."""
    problems = {}
    if scheduled_at < now - GRACE:
        problems["scheduled_at"] = "Tidspunktet er passeret"
    if embargo_until is not None:
        if c.kind != "press_release":
            problems["embargo_until"] = "Kun pressemeddelelser kan have embargo"
        elif embargo_until <= scheduled_at:
            problems["embargo_until"] = "Embargoen skal udløbe efter udsendelsen til pressen"
    if problems:
        raise Invalid(". ".join(problems.values()) + ".", problems)


async def schedule(
    session: AsyncSession,
    campaign_id: int,
    *,
    scheduled_at: datetime,
    embargo_until: datetime | None,
    now: datetime,
) -> None:
    c = await session.get(Campaign, campaign_id)
    if c is None:
        raise NotFound("Kampagnen findes ikke.")
    check(c, scheduled_at=scheduled_at, embargo_until=embargo_until, now=now)
    result = await session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status.in_(("draft", "scheduled")))
        .values(status="scheduled", scheduled_at=max(scheduled_at, now), embargo_until=embargo_until, updated_at=now)
    )
    if result.rowcount != 1:
        raise Conflict("Udsendelsen er allerede i gang eller annulleret.")


async def unschedule(session: AsyncSession, campaign_id: int, *, now: datetime) -> None:
    """Back to draft (keeps the content)."""
    result = await session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status == "scheduled")
        .values(status="draft", scheduled_at=None, embargo_until=None, updated_at=now)
    )
    if result.rowcount != 1:
        raise Conflict("Kampagnen er ikke planlagt, eller udsendelsen er begyndt.")


async def cancel(session: AsyncSession, campaign_id: int, *, now: datetime) -> None:
    result = await session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status.in_(("draft", "scheduled")))
        .values(status="cancelled", updated_at=now)
    )
    if result.rowcount != 1:
        raise Conflict("Udsendelsen er allerede begyndt og kan ikke annulleres.")
