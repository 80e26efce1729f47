"""What an operator checks first, read from the database every process shares.

One read for `budbringer status`: the processes and their roles (heartbeats), the send
queue (due now, the oldest due message, being sent, deferred, failed), the sources whose
last poll failed, the latest digest runs and the next scheduled campaign.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.campaigns import Campaign
from service.db.models import Delivery, DigestRun, Source
from service.heartbeats import ProcessSeen, processes


@dataclass(frozen=True)
class Queue:
    due: int
    oldest_due_at: datetime | None
    oldest_due_id: int | None
    sending: int
    deferred_later: int  # deferred or queued with a next attempt in the future
    failed: int
    possible_duplicates: int


@dataclass(frozen=True)
class FailingSource:
    slug: str
    name: str
    failures: int
    last_error: str
    last_error_at: datetime | None
    last_success_at: datetime | None


@dataclass(frozen=True)
class DigestSeen:
    frequency: str
    period_key: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    deliveries: int


@dataclass(frozen=True)
class CampaignDue:
    id: int
    kind: str
    title: str
    status: str
    scheduled_at: datetime | None
    embargo_until: datetime | None


@dataclass(frozen=True)
class Status:
    now: datetime
    processes: list[ProcessSeen]
    queue: Queue
    failing_sources: list[FailingSource]
    digests: list[DigestSeen]
    next_campaign: CampaignDue | None


async def read_status(s: AsyncSession, now: datetime) -> Status:
    return Status(now, await processes(s), await _queue(s, now), await _failing(s), await _digests(s),
                  await _next_campaign(s))


async def _queue(s: AsyncSession, now: datetime) -> Queue:
    waiting = Delivery.status.in_(("queued", "deferred"))
    due = await s.scalar(select(func.count()).select_from(Delivery).where(waiting, Delivery.next_attempt_at <= now))
    first = (await s.execute(select(Delivery.id, Delivery.next_attempt_at).where(waiting, Delivery.next_attempt_at <= now)
                             .order_by(Delivery.next_attempt_at, Delivery.id).limit(1))).first()
    oldest_id, oldest = first if first is not None else (None, None)
    counts = dict((await s.execute(select(Delivery.status, func.count()).group_by(Delivery.status))).all())
    later = await s.scalar(select(func.count()).select_from(Delivery).where(waiting, Delivery.next_attempt_at > now))
    duplicates = await s.scalar(select(func.count()).select_from(Delivery).where(Delivery.possible_duplicate.is_(True)))
    return Queue(due or 0, oldest, oldest_id, counts.get("sending", 0), later or 0, counts.get("failed", 0),
                 duplicates or 0)


async def _failing(s: AsyncSession) -> list[FailingSource]:
    rows = (await s.scalars(select(Source).where(Source.enabled.is_(True), Source.consecutive_failures > 0)
                            .order_by(Source.slug))).all()
    return [FailingSource(r.slug, r.name, r.consecutive_failures, r.last_error or "", r.last_error_at,
                          r.last_success_at) for r in rows]


async def _digests(s: AsyncSession) -> list[DigestSeen]:
    """The latest run of each frequency."""
    out = []
    for frequency in ("daily", "weekly"):
        run = await s.scalar(select(DigestRun).where(DigestRun.frequency == frequency)
                             .order_by(DigestRun.started_at.desc(), DigestRun.id.desc()).limit(1))
        if run is not None:
            out.append(DigestSeen(run.frequency, run.period_key, run.status, run.started_at, run.finished_at,
                                  run.deliveries or 0))
    return out


async def _next_campaign(s: AsyncSession) -> CampaignDue | None:
    row = await s.scalar(select(Campaign).where(Campaign.status.in_(("scheduled", "sending")))
                         .order_by(Campaign.scheduled_at.is_(None), Campaign.scheduled_at, Campaign.id).limit(1))
    if row is None:
        return None
    return CampaignDue(row.id, row.kind, row.title, row.status, row.scheduled_at, row.embargo_until)
