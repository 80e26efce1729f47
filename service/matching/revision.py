"""The scope of an announced revision of figures: which areas changed by at least the
configured amount (`[figures] revision_min_count` for counts, `revision_min_points` for
rates; 0 means any change). The `RevisedAreas` rule (service.matching.rules) then lets
through only subscribers whose own municipalities are among them, and those who chose no
municipality when the region's total is.

The changes come from the item's `ItemRevision` of this revision (docs/figures.md):
`{"areas": {"751": {"value": [old, new], "rate": [old, new]}}, ...}`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import Item, ItemRevision
from service.matching.rules import RevisionScope
from service.settings import FiguresSettings

RATE_FIELDS = ("rate", "rate_previous", "rate_year_ago")


def moved(diff: dict[str, list[Any]], cfg: FiguresSettings) -> bool:
    """Did any of this area's numbers change by at least the threshold (and at all)?"""
    for field, pair in diff.items():
        old, new = (pair + [None, None])[:2] if isinstance(pair, list) else (None, None)
        if old is None or new is None:
            continue
        change = abs(float(new) - float(old))
        least = cfg.revision_min_points if field in RATE_FIELDS else cfg.revision_min_count
        if change > 1e-9 and change >= least - 1e-9:
            return True
    return False


def scope_of(changes: dict[str, Any], region: str, cfg: FiguresSettings) -> RevisionScope:
    areas = changes.get("areas") or {}
    return RevisionScope(frozenset(code for code, diff in areas.items() if isinstance(diff, dict) and moved(diff, cfg)),
                         region)


async def revision_scope(s: AsyncSession, item_id: int, revision: int, region: str,
                         cfg: FiguresSettings) -> RevisionScope | None:
    """The scope when this revision of a figures item is being announced; None otherwise."""
    kind = await s.scalar(select(Item.kind).where(Item.id == item_id))
    if kind != "figures":
        return None
    changes = await s.scalar(select(ItemRevision.changes).where(ItemRevision.item_id == item_id,
                                                               ItemRevision.revision == revision))
    return scope_of(changes or {}, region, cfg)
