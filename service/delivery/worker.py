"""The send worker: claim a batch, look again, render, build, send, record.

    claim (one UPDATE … RETURNING, leased)          service.delivery.claim
    → look again: still active? suppressed?         service.delivery.recheck
    → render (the kind's renderer) and build MIME   deps.renderers (service.wiring.RENDERERS), service.delivery.mime
    → DKIM when configured                          service.delivery.dkim
    → send, `concurrency` at a time, rate-capped    runtime.transport, service.delivery.ratelimit
    → decide each outcome                           service.delivery.policy
    → record the batch in one transaction           service.delivery.record

Nothing is coordinated in memory: any number of workers, in any number of processes,
share the outbox through the database.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select

from service import logs
from service.bounces.returnpath import return_path
from service.db.models import Delivery
from service.delivery import metrics, policy
from service.delivery.claim import claim_batch
from service.delivery.dkim import Signer
from service.delivery.mime import build_message
from service.delivery.policy import Outcome
from service.delivery.ratelimit import SendRate
from service.delivery.recheck import refused
from service.delivery.record import Refused, record
from service.delivery.transport import SendResult, Transport, TransportError

if TYPE_CHECKING:
    from service.clock import Clock
    from service.db.engine import Database
    from service.render.registry import Renderers
    from service.render.templates import Templates
    from service.settings import Settings
    from subscribers.links import Links

log = logging.getLogger(__name__)


@dataclass
class _Job:
    delivery_id: int
    recipient: str
    envelope_from: str
    message: bytes
    outcome: Outcome
    attempts: int
    created_at: datetime
    timed_out_before: bool


class Beat(Protocol):
    def beat(self) -> None: ...


class Liveness(Protocol):
    worker: Beat


class WorkerDeps(Protocol):
    """What the worker is handed (a `service.runtime.Runtime` has it all): the outbox's
    database, the clock, the transport, the renderers and what they render with, what a
    refused address does, and where the loop reports that it is alive."""

    settings: "Settings"
    db: "Database"
    clock: "Clock"
    transport: Transport
    templates: "Templates"
    links: "Links"
    renderers: "Renderers"
    refused: Refused
    liveness: Liveness


class Worker:
    def __init__(self, runtime: WorkerDeps, name: str | None = None):
        self.runtime = runtime
        self.settings = runtime.settings.delivery
        self.mail = runtime.settings.mail
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.signer = Signer.from_settings(self.mail.dkim)
        self.rate = SendRate(self.settings)
        self._secret = runtime.settings.service.secret()
        self._tz = runtime.settings.service.tz()
        # Outcomes this worker recorded (sent, deferred, failed, cancelled), for reports.
        self.tally: dict[str, int] = {}
        self.failures: list[tuple[int, str, str]] = []  # (delivery id, recipient, reason), the latest 100

    # ------------------------------------------------------------------ loop

    async def run_once(self) -> int:
        """Claim one batch and see it through; returns how many deliveries were claimed."""
        now = self.runtime.clock.now()
        ids = await claim_batch(self.runtime.db, worker=self.name, now=now, limit=self._batch_size(),
                                lease_seconds=self.settings.lease_seconds)
        if not ids:
            return 0
        jobs, done, next_at = await self._prepare(ids, now)
        recorder = _Recorder(self, next_at)
        recorder.pending.extend(done)
        await self._send_all(jobs, recorder)
        await recorder.flush()
        return len(ids)

    def _count(self, outcomes: list[Outcome]) -> None:
        metrics.count(outcomes)
        for o in outcomes:
            self.tally[o.status] = self.tally.get(o.status, 0) + 1
            if o.status == "failed":
                self.failures = [*self.failures[-99:], (o.id, o.recipient, o.error or "")]

    async def run_forever(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            self.runtime.liveness.worker.beat()
            try:
                claimed = await self.run_once()
                failures = 0
            except Exception:  # the database or a bug: log, wait, go on; leases protect the rows
                failures += 1
                log.exception("worker %s: batch failed (%d in a row)", self.name, failures)
                claimed = 0
            if claimed:
                continue
            delay = self.settings.idle_poll_seconds * min(2 ** failures, 30) if failures else self.settings.idle_poll_seconds
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
            except asyncio.TimeoutError:
                pass

    async def drain(self, max_seconds: float = 30) -> int:
        """Send until nothing is due (or `max_seconds` passed); returns how many were claimed."""
        deadline = time.monotonic() + max_seconds
        total = 0
        while time.monotonic() < deadline:
            claimed = await self.run_once()
            if not claimed:
                break
            total += claimed
        return total

    def _batch_size(self) -> int:
        size = self.settings.batch_size
        if self.settings.rate_per_second > 0:  # never claim more than can be sent within half a lease
            size = min(size, max(1, int(self.settings.rate_per_second * self.settings.lease_seconds / 2)))
        return size

    # ------------------------------------------------------------------ prepare

    async def _prepare(self, ids: list[int], now: datetime) -> tuple[list[_Job], list[Outcome], dict[int, datetime]]:
        jobs: list[_Job] = []
        done: list[Outcome] = []
        async with self.runtime.db.reader() as session:
            deliveries = list((await session.scalars(select(Delivery).where(Delivery.id.in_(ids)).order_by(Delivery.id))).all())
            next_at = {d.id: d.next_attempt_at for d in deliveries}
            stop = await refused(session, deliveries)
            for d in deliveries:
                base = Outcome(id=d.id, status="", recipient=d.recipient, subscriber_id=d.subscriber_id,
                               press_contact_id=d.press_contact_id, possible_duplicate=d.possible_duplicate)
                if d.id in stop:
                    base.status, base.error = "cancelled", stop[d.id]
                    done.append(base)
                    continue
                try:
                    rendered = await self.runtime.renderers.render(self.runtime, session, d)
                    message = build_message(rendered, self.mail, recipient=d.recipient, message_id=d.message_id,
                                            date=now, tz=self._tz)
                    if self.signer is not None:
                        message = self.signer.sign(message)
                except Exception as exc:  # one message that cannot be made must not stop the rest
                    log.warning("delivery %s (%s) could not be rendered: %s", d.id, d.kind, exc)
                    done.append(policy.after_render_error(base, exc, attempts=d.attempts, created_at=d.created_at,
                                                          now=now, settings=self.settings))
                    continue
                base.subject, base.body = rendered.subject, message
                jobs.append(_Job(d.id, d.recipient, self._envelope_from(d.message_id), message, base, d.attempts,
                                 d.created_at, (d.last_error or "").startswith("no reply at DATA")))
        return jobs, done, next_at

    def _envelope_from(self, message_id: str) -> str:
        if self.mail.bounce_address:
            return return_path(self.mail.bounce_address, self._secret, message_id)
        return self.mail.from_address

    # ------------------------------------------------------------------ send

    async def _send_all(self, jobs: list[_Job], recorder: "_Recorder") -> None:
        if not jobs:
            return
        gate = asyncio.Semaphore(self.settings.concurrency)
        relay_down: list[TransportError] = []

        async def one(job: _Job) -> None:
            logs.delivery_id.set(job.delivery_id)  # each send runs in its own task: its own context
            async with gate:
                if relay_down:  # no relay reachable: do not knock again for every message
                    result: SendResult | TransportError = relay_down[0]
                else:
                    await self.rate.wait()
                    started = time.perf_counter()
                    try:
                        result = await self.runtime.transport.send(job.envelope_from, job.recipient, job.message)
                    except TransportError as exc:
                        result = exc
                        if exc.stage == "connect":
                            relay_down.append(exc)
                    except Exception as exc:  # an unexpected transport bug: retry later, keep the batch going
                        log.exception("transport failed for delivery %s", job.delivery_id)
                        result = TransportError(f"{type(exc).__name__}: {exc}")
                    metrics.SEND_SECONDS.observe(time.perf_counter() - started)
                outcome = policy.after_send(job.outcome, result, attempts=job.attempts, created_at=job.created_at,
                                            already_duplicate=job.timed_out_before, now=self.runtime.clock.now(),
                                            settings=self.settings)
                if isinstance(result, TransportError) and result.maybe_sent:
                    metrics.POSSIBLE_DUPLICATES.inc()
                if outcome.status != "sent":
                    outcome.body = None
                # Recorded while the slot is held: sent-but-unrecorded stays below flush size + concurrency,
                # which bounds the duplicates a crash can cause.
                await recorder.add(outcome)

        await asyncio.gather(*(one(j) for j in jobs))


class _Recorder:
    """Writes outcomes in small batches as sends finish (one transaction per `flush_at`)."""

    def __init__(self, worker: Worker, next_at: dict[int, datetime]):
        self.worker = worker
        self.next_at = next_at
        self.pending: list[Outcome] = []
        self.flush_at = max(2 * worker.settings.concurrency, 16)
        self._lock = asyncio.Lock()

    async def add(self, outcome: Outcome) -> None:
        self.pending.append(outcome)
        if len(self.pending) >= self.flush_at:
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            batch, self.pending = self.pending, []
            if not batch:
                return
            await record(self.worker.runtime.db, batch, worker=self.worker.name, now=self.worker.runtime.clock.now(),
                         current_next=self.next_at, refused=self.worker.runtime.refused)
            self.worker._count(batch)
