"""A CSV import carried out in the background, with progress an admin can watch.

`begin(db, prepared, opts)` saves a `SubscriberImport` row ("running") and returns its
id; `carry_out(db, run_id, prepared, opts, on_done)` then writes the rows chunk by chunk
(`subscribers.import_write`), moving the row's progress on in each chunk's own
transaction, and ends it "done" (or "failed" with the reason, or "stopped" when the
process was stopped: the rows written so far stay; importing the same file again skips
them as already subscribed). `progress(session, run_id)` is what the page shows.

The progress lives in the database, not in the process, so any web process can show it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.engine import Database
from subscribers.import_write import Written, write_rows
from subscribers.importer import ImportOptions, Prepared, Skipped
from subscribers.models import SubscriberImport

log = logging.getLogger(__name__)
STALE = timedelta(minutes=5)  # a "running" import not moved on for this long was stopped with its process


@dataclass
class Progress:
    id: int
    status: str  # running, done, failed, stopped
    filename: str
    total: int
    done: int
    added: int
    skipped: list[dict]
    error: str

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100


def _skipped(rows: list[Skipped]) -> list[dict]:
    return [{"line": s.line, "reason": s.reason} for s in sorted(rows, key=lambda s: s.line)]


async def begin(db: Database, prepared: Prepared, opts: ImportOptions, started_by: str) -> int:
    async with db.transaction() as s:
        run = SubscriberImport(filename=opts.filename[:200], consent_source=prepared.source[:200],
                               started_by=started_by[:320], status="running", total=len(prepared.rows),
                               skipped=_skipped(prepared.report.skipped), error="",
                               started_at=opts.now, updated_at=opts.now)
        s.add(run)
        await s.flush()
        return run.id


async def carry_out(db: Database, run_id: int, prepared: Prepared, opts: ImportOptions, *, clock,
                    on_done: Callable[[AsyncSession, Written], Awaitable[None]] | None = None) -> Written | None:
    """Write the rows; the run's row follows. Never raises for a bad row or a lost database."""

    async def moved_on(s: AsyncSession, written: Written) -> None:
        await s.execute(update(SubscriberImport).where(SubscriberImport.id == run_id)
                        .values(done=written.done, added=written.added, updated_at=clock.now()))

    try:
        written = await write_rows(db, prepared, opts, on_chunk=moved_on)
    except asyncio.CancelledError:
        await asyncio.shield(_end(db, run_id, clock.now(), "stopped", "Serveren blev stoppet under importen."))
        raise
    except Exception as exc:  # the page says what went wrong; the rows written so far stay
        log.exception("subscriber import %s failed", run_id)
        await _end(db, run_id, clock.now(), "failed", f"{type(exc).__name__}: {exc}"[:1000])
        return None
    async with db.transaction() as s:
        run = await s.get(SubscriberImport, run_id)
        run.status, run.finished_at, run.updated_at = "done", clock.now(), clock.now()
        run.skipped = sorted(run.skipped + _skipped(written.skipped), key=lambda x: x["line"])
        if on_done is not None:
            await on_done(s, written)
    return written


async def _end(db: Database, run_id: int, now: datetime, status: str, error: str) -> None:
    try:
        async with db.transaction() as s:
            await s.execute(update(SubscriberImport).where(SubscriberImport.id == run_id)
                            .values(status=status, error=error, finished_at=now, updated_at=now))
    except Exception:  # the database itself is gone: the row ages into "stopped" on its own
        log.exception("could not record the end of subscriber import %s", run_id)


async def recent(s: AsyncSession, now: datetime, limit: int = 5) -> list[dict]:
    """The latest imports, newest first, for the import page."""
    rows = (await s.scalars(select(SubscriberImport).order_by(SubscriberImport.id.desc()).limit(limit))).all()
    return [{"id": r.id, "filename": r.filename, "status": _status(r, now), "added": r.added, "total": r.total,
             "started_at": r.started_at} for r in rows]


def _status(run: SubscriberImport, now: datetime) -> str:
    return "stopped" if run.status == "running" and now - run.updated_at > STALE else run.status


async def progress(s: AsyncSession, run_id: int, now: datetime) -> Progress | None:
    run = await s.get(SubscriberImport, run_id)
    if run is None:
        return None
    return Progress(run.id, _status(run, now), run.filename, run.total, run.done, run.added, list(run.skipped or []), run.error)
