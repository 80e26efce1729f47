"""The scheduler's figures step: every figures item matching has announced gets its press
draft (`service.campaigns.drafts.draft_from_figures`), once per revision.

Matching does not know about campaigns. This step runs after it in the same scheduler
jobs and finds its work in the database: a matched figures item (`matched_revision` is its
`revision`) that no campaign follows yet, or whose unsent draft is older than the item's
last change; of several figures items of one period only the latest. A draft that fails is logged and tried again on the next round; it never
holds back subscribers' mail, which matching has already queued.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import aliased

from service.campaigns.drafts import UNSENT, draft_from_figures
from service.db.campaigns import Campaign
from service.db.models import Item

if TYPE_CHECKING:
    from service.runtime import Runtime

log = logging.getLogger(__name__)


def _followed():
    """A campaign already follows the item's current state (or was sent: then it stays)."""
    return exists(select(Campaign.id).where(
        Campaign.figures_item_id == Item.id,
        or_(Campaign.status.not_in(UNSENT), Campaign.updated_at >= Item.updated_at),
    ))


def _superseded():
    """A later figures item of the same period (a revision stored as a new item) drives the draft."""
    newer = aliased(Item)
    return exists(select(newer.id).where(newer.kind == "figures", newer.period == Item.period, newer.id > Item.id))


async def figures_waiting(runtime: "Runtime") -> list[int]:
    async with runtime.db.reader() as s:
        rows = (await s.execute(
            select(Item.id, Item.data)
            .where(Item.kind == "figures", Item.revision >= 1, Item.matched_revision == Item.revision,
                   Item.data.is_not(None), ~_followed(), ~_superseded())
            .order_by(Item.id)
        )).all()
    return [r.id for r in rows if r.data]


async def draft_new_figures(runtime: "Runtime") -> int:
    """Make or update the draft of each waiting figures item; return how many were made."""
    done = 0
    for item_id in await figures_waiting(runtime):
        try:
            if await draft_from_figures(runtime, item_id):
                done += 1
        except Exception:  # a press draft must never hold back the rest; the next round tries again
            log.exception("press draft for figures item %s failed; it is tried again on the next round", item_id)
    return done


__all__ = ["draft_new_figures", "figures_waiting"]
