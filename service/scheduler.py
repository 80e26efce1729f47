"""The scheduler role: what runs by itself, and when.

APScheduler (3.x, asyncio) fires the jobs; correctness never depends on it firing exactly
once. Every job is safe to run twice or late:

- polling, matching and campaign release look at what is due in the database;
- a digest is keyed by frequency and period (`DigestRun`), so the fall-back night, when a
  cron trigger at a local time can fire twice, or a clock stepped back, sends nothing
  twice; and at start the scheduler catches up a digest whose time passed while no
  scheduler ran (one catch-up digest, not one per missed period: `run_digest` takes every
  pending entry).

Jobs are wrapped so that an exception is logged and the next run goes on; `max_instances=1`
keeps a slow job from piling up behind itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

if TYPE_CHECKING:
    from service.runtime import Runtime

log = logging.getLogger("budbringer.scheduler")


@dataclass(frozen=True)
class Job:
    name: str
    trigger: BaseTrigger
    run: Callable[[], Awaitable[Any]]


def _hm(text: str) -> tuple[int, int]:
    hour, minute = text.split(":")
    return int(hour), int(minute)


def digest_trigger(runtime: "Runtime", frequency: str) -> CronTrigger:
    s = runtime.settings.schedule
    tz = runtime.settings.service.tz()
    if frequency == "daily":
        hour, minute = _hm(s.daily_digest)
        return CronTrigger(hour=hour, minute=minute, timezone=tz)
    hour, minute = _hm(s.weekly_digest)
    return CronTrigger(day_of_week=s.weekly_digest_day, hour=hour, minute=minute, timezone=tz)


def last_due(trigger: CronTrigger, now: datetime, lookback: timedelta) -> datetime | None:
    """The latest fire time of `trigger` at or before `now`, looking back at most `lookback`.

    Steps are taken in UTC: adding a second to an aware local time is wall-clock arithmetic
    in Python, and on the fall-back night that goes an hour back (and would loop forever).
    Comparisons are in UTC too: two aware datetimes in the same zone compare by wall clock,
    ignoring `fold`, so 02:30 summer time and 02:30 winter time would look equal.
    """
    utc = timezone.utc
    now = now.astimezone(utc)
    fire = trigger.get_next_fire_time(None, now - lookback)
    latest = None
    while fire is not None and fire.astimezone(utc) <= now and (latest is None or fire.astimezone(utc) > latest):
        latest = fire.astimezone(utc)
        fire = trigger.get_next_fire_time(fire, latest + timedelta(seconds=1))
    return latest


async def digest_job(runtime: "Runtime", frequency: str) -> int:
    """Run the digest for the period that is due now (a no-op when that period already ran)."""
    from service.digests.periods import period_key
    from service.digests.run import run_digest

    tz = runtime.settings.service.tz()
    now = runtime.clock.now()
    lookback = timedelta(days=2 if frequency == "daily" else 8)
    due = last_due(digest_trigger(runtime, frequency), now, lookback)
    if due is None:
        return 0
    return await run_digest(runtime, frequency, period_key(frequency, due.astimezone(tz)))


async def catch_up(runtime: "Runtime") -> int:
    """At start: run any digest whose time passed while no scheduler was running."""
    total = 0
    for frequency in ("daily", "weekly"):
        total += await digest_job(runtime, frequency)
    return total


async def poll_and_match(runtime: "Runtime") -> None:
    from service.matching.match import match_pending_items
    from service.sources.poll import poll_due_sources

    if await poll_due_sources(runtime):
        await match_pending_items(runtime)
        await figures_drafts(runtime)


async def match(runtime: "Runtime") -> None:
    """Pushed items and items whose embargo ended are matched here, not only after a poll."""
    from service.matching.match import match_pending_items

    await match_pending_items(runtime)
    await figures_drafts(runtime)


async def figures_drafts(runtime: "Runtime") -> None:
    """After matching: a press draft for each figures item announced (its own step: a draft
    that fails is tried again next round and never holds back subscribers' mail)."""
    from service.campaigns.draft_step import draft_new_figures

    await draft_new_figures(runtime)


async def release(runtime: "Runtime", arm: Callable[[datetime | None], None] | None = None) -> None:
    """Release what is due, then (with `arm`) set the timer for the next moment."""
    from service.campaigns.release import next_moment, release_due

    await release_due(runtime)
    if arm is not None:
        arm(await next_moment(runtime))


async def retention(runtime: "Runtime") -> None:
    from service.retention import purge

    await purge(runtime)


async def heartbeat(runtime: "Runtime") -> None:
    runtime.liveness.scheduler.beat()


def release_watch_job(runtime: "Runtime") -> Job:
    """Tight polling around the release calendar's moments, and late releases (service.releases.watch)."""
    from service.releases.watch import tick

    tz = runtime.settings.service.tz()
    seconds = runtime.settings.calendar.window_poll_seconds
    aligned = datetime(2026, 1, 1, tzinfo=tz)  # ticks on the whole minute (08:00:00, 08:00:05, …)
    return Job("release_watch", IntervalTrigger(seconds=seconds, start_date=aligned, timezone=tz), lambda: tick(runtime))


def jobs(runtime: "Runtime", arm: Callable[[datetime | None], None] | None = None) -> list[Job]:
    s = runtime.settings.schedule
    tz = runtime.settings.service.tz()
    return [
        Job("poll_sources", IntervalTrigger(seconds=s.source_check_seconds, timezone=tz), lambda: poll_and_match(runtime)),
        Job("match_items", IntervalTrigger(seconds=s.match_seconds, timezone=tz), lambda: match(runtime)),
        Job("release_campaigns", IntervalTrigger(seconds=s.campaign_check_seconds, timezone=tz), lambda: release(runtime, arm)),
        Job("daily_digest", digest_trigger(runtime, "daily"), lambda: digest_job(runtime, "daily")),
        Job("weekly_digest", digest_trigger(runtime, "weekly"), lambda: digest_job(runtime, "weekly")),
        Job("retention", CronTrigger(hour=3, minute=17, timezone=tz), lambda: retention(runtime)),
        Job("heartbeat", IntervalTrigger(seconds=15, timezone=tz), lambda: heartbeat(runtime)),
        release_watch_job(runtime),
    ]


def _guarded(job: Job, running: set[asyncio.Task]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        task = asyncio.current_task()
        if task is not None:
            task.set_name(job.name)
            running.add(task)
        try:
            await job.run()
        except Exception:  # one failed run must not stop the next; the log says why
            log.exception("scheduled job %s failed", job.name)
        finally:
            running.discard(task)  # type: ignore[arg-type]

    # APScheduler names a job after its function when it is given no name.
    run.__name__ = run.__qualname__ = job.name
    return run


class Scheduler:
    """APScheduler with every job, and a stop that lets the jobs running at that moment finish.

    APScheduler's own `shutdown(wait=False)` cancels a running job's task and returns at
    once; a job cancelled inside a database call was then still unwinding when the process
    closed its database and its event loop, and `budbringer run` could hang there instead
    of exiting on SIGTERM. `stop()` waits for running jobs first, and cancels (and waits
    for) only those still running after the grace period.
    """

    def __init__(self, runtime: "Runtime"):
        self.runtime = runtime
        self.aps = AsyncIOScheduler(timezone=runtime.settings.service.tz())
        self.running: set[asyncio.Task] = set()
        self._watch: asyncio.Task | None = None
        for job in jobs(runtime, self.arm_release):
            self.aps.add_job(_guarded(job, self.running), job.trigger, id=job.name, name=job.name,
                             max_instances=1, coalesce=True, misfire_grace_time=300)
        # At start: mark alive at once and catch up what was missed while down.
        for job in (Job("heartbeat_now", None, lambda: heartbeat(runtime)),  # type: ignore[arg-type]
                    Job("catch_up", None, lambda: catch_up(runtime))):  # type: ignore[arg-type]
            self.aps.add_job(_guarded(job, self.running), id=job.name, name=job.name)

    def start(self) -> None:
        """Call inside the running event loop."""
        self.aps.start()
        self.watch_campaigns()

    def watch_campaigns(self) -> None:
        """Set the release timer again whenever this process schedules a campaign."""
        self._watch = asyncio.create_task(self._campaign_changes(), name="release_timer")

    # A campaign leaves at its second: the poll (`release_campaigns`) finds what is
    # scheduled, and a timer is set for the exact moment of the next release or embargo
    # end (`campaigns.release.next_moment`). A campaign scheduled in this process sets it
    # at once (`runtime.nudges.campaigns`); one scheduled elsewhere, at the next poll.
    RELEASE_AT = "release_campaigns_at"

    def arm_release(self, at: datetime | None) -> None:
        """The release timer at `at` (UTC), or none; one timer, moved when the moment moves."""
        if self.aps.get_job(self.RELEASE_AT) is not None:
            self.aps.remove_job(self.RELEASE_AT)
        if at is None:
            return
        soon = self.runtime.clock.now() + timedelta(seconds=5)
        if at < self.runtime.clock.now():  # due and still there: the last round failed; again in a moment
            at = soon
        job = Job(self.RELEASE_AT, DateTrigger(run_date=at, timezone=timezone.utc),
                  lambda: release(self.runtime, self.arm_release))
        self.aps.add_job(_guarded(job, self.running), job.trigger, id=job.name, name=job.name,
                         max_instances=1, misfire_grace_time=300)

    async def _campaign_changes(self) -> None:
        from service.campaigns.release import next_moment

        changed = self.runtime.nudges.campaigns_changed
        while True:
            await changed.wait()
            changed.clear()
            try:
                self.arm_release(await next_moment(self.runtime))
            except Exception:  # the poll sets it again; the log says why
                log.exception("scheduler: the release timer could not be set")

    async def stop(self, grace: float) -> None:
        """No new runs; wait up to `grace` seconds for running jobs, then cancel the rest."""
        if self.aps.running:
            self.aps.pause()
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        running = set(self.running)
        if running:
            log.info("scheduler: waiting for %s", ", ".join(sorted(t.get_name() for t in running)))
            _, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                log.warning("scheduler: job task %s still running after %.0f s; cancelled", task.get_name(), grace)
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=5)
        if self.aps.running:
            self.aps.shutdown(wait=False)


def build_scheduler(runtime: "Runtime") -> Scheduler:
    """The scheduler with every job; call `.start()` inside the running loop, `await .stop()` to end."""
    return Scheduler(runtime)
