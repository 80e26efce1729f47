""""Var det nyttigt?": a subscriber's answer about one item they were sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import Feedback, Item


async def item_title(session: AsyncSession, item_id: int) -> str | None:
    """The title of the item asked about (None when it is gone)."""
    return await session.scalar(select(Item.title).where(Item.id == item_id))


async def record_feedback(session: AsyncSession, subscriber_id: int, item_id: int, useful: bool, *,
                          now: datetime) -> None:
    """One answer per item and subscriber; a second click changes the answer."""
    row = await session.scalar(select(Feedback).where(Feedback.item_id == item_id,
                                                      Feedback.subscriber_id == subscriber_id))
    if row is None:
        session.add(Feedback(item_id=item_id, subscriber_id=subscriber_id, useful=useful, at=now))
    else:
        row.useful, row.at = useful, now
