"""Poll sources: every due one (`poll_due_sources`), or one now (`poll_source`).

A source is claimed by moving its `next_poll_at` forward in one UPDATE that only
succeeds while it is still due, so two processes never poll the same source at once.
After the poll its health is recorded: success (last_success_at, failures reset, next
poll after the interval with ±10 % jitter) or failure (the reason in plain words,
consecutive_failures + 1, backoff doubling per failure up to six hours). A bad source
never stops the others. A 410 Gone disables the source with the reason.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from service import metrics
from service.db.models import Source
from service.sources.release_windows import next_poll_at
from service.sources.fetch import FetchError
from service.sources.info import SourceInfo, load_source
from service.sources.parse import FeedRejected
from service.sources.report import PollReport
from service.sources.statbank import StatbankError

log = logging.getLogger(__name__)

POLLED_KINDS = ("feed", "statbank")
MAX_BACKOFF = timedelta(hours=6)
_random = random.Random()


async def poll_due_sources(runtime) -> int:
    """Poll every enabled source that is due; return how many were polled."""
    now = runtime.clock.now()
    async with runtime.db.reader() as s:
        ids = list((await s.scalars(
            select(Source.id).where(
                Source.enabled.is_(True), Source.kind.in_(POLLED_KINDS),
                or_(Source.next_poll_at.is_(None), Source.next_poll_at <= now),
            ).order_by(Source.next_poll_at.is_not(None), Source.next_poll_at, Source.id)
        )).all())
    polled = 0
    for source_id in ids:
        if not await _claim(runtime, source_id, now):
            continue  # another process took it
        await poll_source(runtime, source_id)
        polled += 1
    return polled


async def poll_source(runtime, source_id: int) -> PollReport:
    """Poll one source now (due or not) and record its health; never raises for a bad source."""
    async with runtime.db.reader() as s:
        source = await load_source(s, source_id)
    report: PollReport
    gone = False
    try:
        report = await _poll(runtime, source)
    except FetchError as exc:
        report, gone = PollReport(error=str(exc)), exc.gone
    except (FeedRejected, StatbankError, ValueError) as exc:
        report = PollReport(error=str(exc))
    except Exception as exc:  # one bad source must never stop the others
        log.exception("polling source %s failed", source.slug)
        report = PollReport(error=f"an unexpected error ({type(exc).__name__}: {str(exc)[:200]})")
    await _record_health(runtime, source, report, gone)
    if report.error:
        log.warning("source %s: %s", source.slug, report.error)
    else:
        log.info("source %s: %s", source.slug, report.summary())
    return report


async def _poll(runtime, source: SourceInfo) -> PollReport:
    if source.kind == "feed":
        from service.sources.feeds import poll_feed

        return await poll_feed(runtime, source)
    if source.kind == "statbank":
        from service.sources.figures import poll_statbank

        return await poll_statbank(runtime, source)
    return PollReport(error=f"sources of kind {source.kind!r} are not polled")


async def _claim(runtime, source_id: int, now: datetime) -> bool:
    async with runtime.db.transaction() as s:
        result = await s.execute(
            update(Source)
            .where(Source.id == source_id, or_(Source.next_poll_at.is_(None), Source.next_poll_at <= now))
            .values(next_poll_at=now + timedelta(minutes=5))  # a lease; the poll sets the real time
        )
    return result.rowcount == 1


def next_poll(now: datetime, interval_minutes: int, failures: int) -> datetime:
    base = timedelta(minutes=interval_minutes)
    if failures:
        base = min(base * 2 ** min(failures, 10), max(MAX_BACKOFF, base))
    return now + base * _random.uniform(0.9, 1.1)


async def _record_health(runtime, source: SourceInfo, report: PollReport, gone: bool) -> None:
    metrics.count_poll(source.slug, report)
    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        row = await s.get(Source, source.id)
        if row is None:
            return
        row.last_polled_at = now
        if report.error:
            row.last_error = report.error[:2000]
            row.last_error_at = now
            row.consecutive_failures = (row.consecutive_failures or 0) + 1
            if gone:
                row.enabled = False
                row.disabled_reason = report.error
        else:
            row.last_success_at = now
            row.consecutive_failures = 0
            row.last_error = None
        row.next_poll_at = await next_poll_at(s, row, now, next_poll(now, row.interval_minutes, row.consecutive_failures),
                                              runtime.settings.calendar)  # the release calendar's windows
