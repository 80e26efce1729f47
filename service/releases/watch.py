"""Polling around the expected release moments, and releases that do not come.

- when a `statbank` source looks next is `service.sources.release_windows.next_poll_at`;
- `tick` (the scheduler's `release_watch` job, every `window_poll_seconds`): while a
  window is open, poll what is due and match it at once; then `mark_seen` and `flag_late`.
- `flag_late`: an entry not seen `late_after_minutes` after its moment is flagged (the
  dashboard shows it) and each active press officer gets a notice, once per entry and
  moment (a moved entry can be late again at its new time).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import User
from service.db.releases import FiguresPart, ReleaseEntry
from service.delivery.outbox import enqueue, mail_domain
from service.render.formatting import datetime_local, month_name

if TYPE_CHECKING:
    from service.runtime import Runtime

log = logging.getLogger(__name__)


async def window_open(runtime: "Runtime", now: datetime) -> bool:
    cfg = runtime.settings.calendar
    async with runtime.db.reader() as s:
        return await s.scalar(select(ReleaseEntry.id).where(
            ReleaseEntry.seen_at.is_(None), ReleaseEntry.at <= now,
            ReleaseEntry.at > now - timedelta(minutes=cfg.window_minutes)).limit(1)) is not None


async def mark_seen(s: AsyncSession, now: datetime) -> int:
    """Entries whose every table has its part of the period in: seen (when the last one came)."""
    open_rows = (await s.scalars(select(ReleaseEntry).where(ReleaseEntry.seen_at.is_(None),
                                                            ReleaseEntry.at <= now + timedelta(days=1)))).all()
    done = 0
    for entry in open_rows:
        parts = (await s.execute(select(FiguresPart.table_id, FiguresPart.first_seen_at).where(
            FiguresPart.period == entry.period, FiguresPart.table_id.in_(list(entry.tables or [])),
            FiguresPart.first_seen_at >= entry.at - timedelta(days=1)))).all()
        got = {p.table_id: p.first_seen_at for p in parts}
        if entry.tables and all(t in got for t in entry.tables):
            entry.seen_at = max(got.values())
            done += 1
    return done


async def flag_late(runtime: "Runtime", now: datetime) -> int:
    """Flag entries not seen `late_after_minutes` after their moment and tell the press officers."""
    cfg = runtime.settings.calendar
    tz = runtime.settings.service.tz()
    base = runtime.settings.service.base_url
    flagged = 0
    async with runtime.db.transaction() as s:
        await mark_seen(s, now)
        late = (await s.scalars(select(ReleaseEntry).where(
            ReleaseEntry.seen_at.is_(None), ReleaseEntry.late_at.is_(None),
            ReleaseEntry.at <= now - timedelta(minutes=cfg.late_after_minutes),
            ReleaseEntry.at > now - timedelta(days=2)))).all()
        if not late:
            return 0
        officers = (await s.execute(select(User.id, User.email).where(User.role == "press", User.active.is_(True)))).all()
        domain = mail_domain(runtime.settings.mail.from_address)
        for entry in late:
            entry.late_at = now
            flagged += 1
            tables = ", ".join(entry.tables or [])
            when = datetime_local(entry.at, tz)
            text = (f"Danmarks Statistik skulle have offentliggjort {tables} for {month_name(entry.period)} "
                    f"{when}, men Budbringer har ikke set tallene {cfg.late_after_minutes} minutter efter.\n\n"
                    f"Budbringer bliver ved med at kigge efter dem og sender ud, så snart de kommer. "
                    f"Tjek Statistikbankens udgivelseskalender, og ret tidspunktet i Budbringers kalender, "
                    f"hvis udgivelsen er flyttet.")
            for u in officers:
                await enqueue(
                    s, key=f"late_release:{entry.id}:{int(entry.at.timestamp())}:{u.id}", kind="notice",
                    recipient=u.email, now=now, domain=domain, language="da",
                    params={"subject": f"Forsinket udgivelse: {tables} for {month_name(entry.period)}", "text": text,
                            "link": f"{base}/admin/calendar", "link_label": "Åbn udgivelseskalenderen",
                            "reason": "Du får denne mail, fordi du er presseansvarlig i Budbringer."},
                )
            log.warning("release %s of %s expected %s not seen: flagged late", entry.period, tables, when)
    return flagged


async def tick(runtime: "Runtime") -> None:
    """The `release_watch` job: poll tightly while a window is open, then check for late releases."""
    from service.matching.match import match_pending_items
    from service.sources.poll import poll_due_sources

    now = runtime.clock.now()
    if await window_open(runtime, now) and await poll_due_sources(runtime):
        await match_pending_items(runtime)
    await flag_late(runtime, runtime.clock.now())


async def late_entries(s: AsyncSession, now: datetime) -> list[ReleaseEntry]:
    """Flagged late in the last two days (the dashboard's panel): still missing, or come since."""
    return list((await s.scalars(select(ReleaseEntry).where(
        ReleaseEntry.late_at.is_not(None), or_(ReleaseEntry.seen_at.is_(None),
                                               and_(ReleaseEntry.seen_at > now - timedelta(days=1))),
        ReleaseEntry.at > now - timedelta(days=2)).order_by(ReleaseEntry.at))).all())
