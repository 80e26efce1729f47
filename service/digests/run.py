"""One digest run: `run_digest(runtime, frequency, period_key=None, subscriber_id=None)`.

- The `DigestRun` row (unique per frequency and period) makes a run happen once: a run
  that is done returns 0; a run left "running" by a crash goes on where it stopped.
- Subscribers are taken in chunks by id. Per chunk, one transaction: one `INSERT … SELECT`
  queues a delivery (key `digest:<run>:<subscriber>`) for every active, unsuppressed
  subscriber of this frequency with pending entries, and one `UPDATE` points those
  entries at it. A chunk is all or nothing, so a crash between chunks leaves nothing half
  done, and the keys make a repeated chunk a no-op.
- A run takes every pending entry made before it started, however old: after downtime
  across several periods the subscriber gets ONE catch-up digest, not one per period.
- Entries left waiting by a subscriber who switched from a digest to immediate go out
  with the next daily digest.
- No entries, no mail. The message itself is rendered when it is sent
  (`service.render.digest`), from the entries that point at the delivery.
- `subscriber_id`: an operator's run for one subscriber now. It gets its own run key
  ("<period>/s<id>"), so the scheduled run of the period still happens for everyone else
  (and finds this subscriber's entries already taken).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import exists, func, literal, select, text, update

from service.db.base import UtcDateTime
from service.db.dialect import as_text, insert_ignoring, prepare
from service.db.models import Delivery, DigestRun, Match
from service.delivery.outbox import enqueue_from, mail_domain
from service.digests.periods import FREQUENCIES, current_period
from subscribers.models import Subscriber
from subscribers.suppression import suppressed_active_ids

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from service.runtime import Runtime

log = logging.getLogger(__name__)
CHUNK = 20_000


def run_key(period: str, subscriber_id: int | None) -> str:
    return period if subscriber_id is None else f"{period}/s{subscriber_id}"


async def run_digest(
    runtime: "Runtime", frequency: str, period_key: str | None = None, subscriber_id: int | None = None,
    *, chunk_size: int = CHUNK,
) -> int:
    """Queue this period's digests (default: the period containing now); return how many were queued."""
    if frequency not in FREQUENCIES:
        raise ValueError(f"frequency must be one of {', '.join(FREQUENCIES)}")
    now = runtime.clock.now()
    period = period_key or current_period(frequency, now, runtime.settings.service.tz())
    run_id, status, started_at = await _open_run(runtime, frequency, run_key(period, subscriber_id), now)
    if status == "done":
        log.info("%s digest %s already ran (run %s)", frequency, period, run_id)
        return 0
    domain = mail_domain(runtime.settings.mail.from_address)
    async with runtime.db.reader() as s:
        await prepare(s)
        blocked = await suppressed_active_ids(s)
    if runtime.db.is_postgres:
        # Matching may have just added hundreds of thousands of entries; with stale statistics
        # the planner probes every pending entry per subscriber (minutes instead of seconds).
        async with runtime.db.transaction() as s:
            await s.execute(text("ANALYZE matches"))
    queued, after = 0, 0
    while True:
        async with runtime.db.transaction() as s:
            upto = await _chunk_end(s, frequency, after, chunk_size, subscriber_id)
            if upto is None:
                break
            queued += await queue_chunk(s, run_id, frequency, after, upto, started_at, now, domain, blocked, subscriber_id)
        after = upto
    async with runtime.db.transaction() as s:
        total = await s.scalar(select(func.count(Delivery.id)).where(Delivery.digest_run_id == run_id))
        await s.execute(update(DigestRun).where(DigestRun.id == run_id)
                        .values(status="done", finished_at=runtime.clock.now(), deliveries=total or 0))
    log.info("%s digest %s: %s queued (run %s)", frequency, period, queued, run_id)
    return queued


async def _open_run(runtime: "Runtime", frequency: str, key: str, now: "datetime") -> tuple[int, str, "datetime"]:
    async with runtime.db.transaction() as s:
        await s.execute(insert_ignoring(s, DigestRun, ["frequency", "period_key"], dict(
            frequency=frequency, period_key=key, status="running", started_at=now, deliveries=0)))
        row = (await s.execute(select(DigestRun.id, DigestRun.status, DigestRun.started_at)
                               .where(DigestRun.frequency == frequency, DigestRun.period_key == key))).one()
    return row.id, row.status, row.started_at


def _audience(frequency: str, subscriber_id: int | None):
    # Someone who moved from a digest to "immediate" may still have entries waiting (matched
    # while they were on the digest): no alert will ever carry those, so the next daily
    # digest does. Immediate subscribers have no other pending entries, so this adds none.
    frequencies = (frequency, "immediate") if frequency == "daily" else (frequency,)
    cond = [Subscriber.frequency.in_(frequencies), Subscriber.status == "active"]
    if subscriber_id is not None:
        cond.append(Subscriber.id == subscriber_id)
    return cond


async def _chunk_end(s: "AsyncSession", frequency: str, after: int, size: int, subscriber_id: int | None) -> int | None:
    ids = select(Subscriber.id).where(Subscriber.id > after, *_audience(frequency, subscriber_id)) \
        .order_by(Subscriber.id).limit(size).subquery()
    return await s.scalar(select(func.max(ids.c.id)))


async def queue_chunk(
    s: "AsyncSession", run_id: int, frequency: str, after: int, upto: int, started_at: "datetime",
    now: "datetime", domain: str, blocked: list[int], subscriber_id: int | None = None,
) -> int:
    """Queue the digests of subscribers with ids in (after, upto]; attach their entries."""
    key = literal(f"digest:{run_id}:") + as_text(Subscriber.id)
    taken = literal(started_at, UtcDateTime())
    pending = exists(select(Match.id).where(
        Match.subscriber_id == Subscriber.id, Match.delivery_id.is_(None), Match.created_at <= taken))
    where = [Subscriber.id > after, Subscriber.id <= upto, pending, *_audience(frequency, subscriber_id)]
    if blocked:
        where.append(Subscriber.id.not_in(blocked))
    rows = select(key.label("key"), Subscriber.email.label("recipient"), Subscriber.id.label("subscriber_id"),
                  literal(run_id).label("digest_run_id"), Subscriber.language.label("language")).where(*where)
    queued = await enqueue_from(s, rows, kind="digest", now=now, domain=domain, params={"frequency": frequency})
    match_key = literal(f"digest:{run_id}:") + as_text(Match.subscriber_id)
    mine = select(Delivery.id).where(Delivery.key == match_key, Delivery.status == "queued")
    await s.execute(
        update(Match)
        .where(Match.subscriber_id > after, Match.subscriber_id <= upto, Match.delivery_id.is_(None),
               Match.created_at <= taken, exists(mine))
        .values(delivery_id=mine.scalar_subquery())
        .execution_options(synchronize_session=False)
    )
    return queued
