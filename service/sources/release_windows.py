"""When a `statbank` source looks next, by the release calendar (service.releases).

A table with an entry in the calendar is looked at every `window_poll_seconds` from its
moment for `window_minutes` (doubling on errors, up to a minute), until its part of that
period is in; outside those windows every `idle_poll_minutes`, but never later than the
next moment. A table not in the calendar keeps its source's own interval.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import Source
from service.db.releases import FiguresPart, ReleaseEntry
from service.settings import CalendarSettings

MAX_WINDOW_BACKOFF = timedelta(minutes=1)


async def _entries_for(s: AsyncSession, table: str, now: datetime, cfg: CalendarSettings) -> list[ReleaseEntry]:
    rows = (await s.scalars(select(ReleaseEntry).where(
        ReleaseEntry.at >= now - timedelta(minutes=cfg.window_minutes), ReleaseEntry.seen_at.is_(None))
        .order_by(ReleaseEntry.at))).all()
    return [r for r in rows if table in (r.tables or [])]


async def next_poll_at(s: AsyncSession, source: Source, now: datetime, default: datetime,
                       cfg: CalendarSettings) -> datetime:
    """The next poll of a statbank source, by the calendar (`default`: by its own interval)."""
    table = str((source.options or {}).get("table") or "")
    if source.kind != "statbank" or not table:
        return default
    upcoming = await _entries_for(s, table, now, cfg)
    if not upcoming:
        return default
    window = timedelta(minutes=cfg.window_minutes)
    for entry in upcoming:
        if entry.at <= now < entry.at + window:
            have = await s.scalar(select(FiguresPart.id).where(FiguresPart.source_id == source.id,
                                                               FiguresPart.period == entry.period))
            if have is None:
                step = timedelta(seconds=cfg.window_poll_seconds) * 2 ** min(source.consecutive_failures or 0, 6)
                return now + min(step, MAX_WINDOW_BACKOFF)
    later = [e.at for e in upcoming if e.at > now]
    idle = now + timedelta(minutes=cfg.idle_poll_minutes)
    return min([idle, *later])
