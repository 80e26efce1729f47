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
from service.delivery.mime import build
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
    batch: int  # which claim of this pump it came from
    dot_free: bool = False  # no line starts with "." (service.delivery.mime.build): nothing to double


class Beat(Protocol):
    def beat(self) -> None: ...


class Nudged(Protocol):
    outbox_changed: asyncio.Event  # set by whoever in this process just queued messages


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
    nudges: Nudged


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
        return await self._pump(batches=1)

    async def drain(self, max_seconds: float = 30) -> int:
        """Send until nothing is due (or `max_seconds` passed); returns how many were claimed."""
        return await self._pump(deadline=time.monotonic() + max_seconds)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Send whatever comes due until `stop` is set. A failed batch (the database, a bug)
        is logged and the loop waits, longer after each failure in a row; leases protect
        the rows meanwhile."""
        failures = 0
        while not stop.is_set():
            self.runtime.liveness.worker.beat()
            try:
                claimed = await self._pump(stop=stop)
                failures = 0
            except Exception:
                failures += 1
                log.exception("worker %s: batch failed (%d in a row)", self.name, failures)
                claimed = 0
            if claimed and not stop.is_set():
                continue
            delay = self.settings.idle_poll_seconds * min(2 ** failures, 30) if failures else self.settings.idle_poll_seconds
            await self._idle(stop, delay, nudged=not failures)

    async def _idle(self, stop: asyncio.Event, delay: float, *, nudged: bool) -> None:
        """Wait for the next poll, the stop, or (unless the last batch failed) word from this
        process that messages were queued (`runtime.nudges.outbox`)."""
        nudge = self.runtime.nudges.outbox_changed
        if nudged and nudge.is_set():
            nudge.clear()
            return
        waits = [asyncio.create_task(stop.wait())]
        if nudged:
            waits.append(asyncio.create_task(nudge.wait()))
        _, pending = await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        nudge.clear()

    def _count(self, outcomes: list[Outcome]) -> None:
        metrics.count(outcomes)
        for o in outcomes:
            self.tally[o.status] = self.tally.get(o.status, 0) + 1
            if o.status == "failed":
                self.failures = [*self.failures[-99:], (o.id, o.recipient, o.error or "")]

    def _batch_size(self) -> int:
        size = self.settings.batch_size
        if self.settings.rate_per_second > 0:  # never claim more than can be sent within half a lease
            size = min(size, max(1, int(self.settings.rate_per_second * self.settings.lease_seconds / 2)))
        return size

    async def _pump(self, *, batches: int | None = None, deadline: float | None = None,
                    stop: asyncio.Event | None = None) -> int:
        """Claim, prepare and send at once: while `concurrency` sends are out, the next
        messages are being rendered and the next batch is claimed, so neither the relay
        nor this process waits for the other. The next batch is claimed when fewer than
        `concurrency` messages are waiting to go, so a crash leaves at most a batch and
        that many claimed but unsent (taken back after their lease).

        Returns when nothing is due (or after `batches` batches, past `deadline`, on
        `stop`), with every outcome recorded."""
        queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        recorder = _Recorder(self)
        room = asyncio.Event()
        room.set()
        down: dict[int, TransportError] = {}  # batches for which no relay could be reached
        senders = [asyncio.create_task(self._sender(queue, recorder, room, down), name=f"send-{k}")
                   for k in range(self.settings.concurrency)]
        claimed = rounds = 0
        try:
            while (batches is None or rounds < batches) and not (stop and stop.is_set()) and \
                    (deadline is None or time.monotonic() < deadline):
                while queue.qsize() >= self.settings.concurrency:  # enough made to go on with
                    room.clear()
                    await room.wait()
                now = self.runtime.clock.now()
                async with recorder.writing:
                    ids = await claim_batch(self.runtime.db, worker=self.name, now=now, limit=self._batch_size(),
                                            lease_seconds=self.settings.lease_seconds)
                if not ids:
                    if recorder.outstanding == 0:
                        break
                    # What is still out may come back due at once (no reply after DATA: retried
                    # at once, once): look again when it has all been recorded.
                    await recorder.settled()
                    continue
                claimed += len(ids)
                rounds += 1
                if stop is not None:
                    self.runtime.liveness.worker.beat()
                await self._prepare(ids, now, rounds, queue, recorder)
        finally:
            for _ in senders:
                queue.put_nowait(None)
            results = await asyncio.gather(*senders, return_exceptions=True)
            await recorder.flush()
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return claimed

    # ------------------------------------------------------------------ prepare

    async def _prepare(self, ids: list[int], now: datetime, batch: int, queue: "asyncio.Queue[_Job | None]",
                       recorder: "_Recorder") -> None:
        """Look again at every recipient, then render and build each message and hand it to
        the senders as soon as it is made."""
        async with self.runtime.db.reader() as session:
            deliveries = list((await session.scalars(select(Delivery).where(Delivery.id.in_(ids)).order_by(Delivery.id))).all())
            recorder.next_at.update({d.id: d.next_attempt_at for d in deliveries})
            stop = await refused(session, deliveries)
            for n, d in enumerate(deliveries):
                base = Outcome(id=d.id, status="", recipient=d.recipient, subscriber_id=d.subscriber_id,
                               press_contact_id=d.press_contact_id, possible_duplicate=d.possible_duplicate)
                if d.id in stop:
                    base.status, base.error = "cancelled", stop[d.id]
                    await recorder.add(base)
                    continue
                try:
                    rendered = await self.runtime.renderers.render(self.runtime, session, d)
                    message, dot_free = build(rendered, self.mail, recipient=d.recipient, message_id=d.message_id,
                                              date=now, tz=self._tz)
                    if self.signer is not None:
                        signed = self.signer.sign(message)
                        # The signature goes on top: a header, whose folded lines start with a blank.
                        dot_free = dot_free and b"\n." not in signed[:len(signed) - len(message)]
                        message = signed
                except Exception as exc:  # one message that cannot be made must not stop the rest
                    log.warning("delivery %s (%s) could not be rendered: %s", d.id, d.kind, exc)
                    await recorder.add(policy.after_render_error(base, exc, attempts=d.attempts,
                                                                 created_at=d.created_at, now=now,
                                                                 settings=self.settings))
                    continue
                base.subject, base.body = rendered.subject, message
                recorder.outstanding += 1
                queue.put_nowait(_Job(d.id, d.recipient, self._envelope_from(d.message_id), message, base, d.attempts,
                                      d.created_at, (d.last_error or "").startswith("no reply at DATA"), batch,
                                      dot_free))
                if n % 4 == 3:
                    await asyncio.sleep(0)  # let the senders go on while the rest is made

    def _envelope_from(self, message_id: str) -> str:
        if self.mail.bounce_address:
            return return_path(self.mail.bounce_address, self._secret, message_id)
        return self.mail.from_address

    # ------------------------------------------------------------------ send

    async def _sender(self, queue: "asyncio.Queue[_Job | None]", recorder: "_Recorder", room: asyncio.Event,
                      down: dict[int, TransportError]) -> None:
        """One of `concurrency` sends at a time: take the next message, send it, record it."""
        while True:
            job = await queue.get()
            room.set()
            if job is None:
                return
            logs.delivery_id.set(job.delivery_id)
            if job.batch in down:  # no relay reachable: do not knock again for every message of the batch
                result: SendResult | TransportError = down[job.batch]
            else:
                await self.rate.wait()
                started = time.perf_counter()
                try:
                    result = await self.runtime.transport.send(job.envelope_from, job.recipient, job.message,
                                                               clean=True,  # built by service.delivery.mime
                                                               dot_free=job.dot_free)
                except TransportError as exc:
                    result = exc
                    if exc.stage == "connect":
                        down.setdefault(job.batch, exc)
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
            # Recorded before this sender takes the next message: sent-but-unrecorded stays
            # below the flush size plus the concurrency, which bounds what a crash can duplicate.
            await recorder.add(outcome, sent=True)


class _Recorder:
    """Writes outcomes in small batches as sends finish (one transaction per `flush_at`).

    Claims and records of one worker take turns (`writing`): on SQLite two write
    transactions of one process would otherwise wait on each other in the busy handler."""

    def __init__(self, worker: Worker):
        self.worker = worker
        self.next_at: dict[int, datetime] = {}
        self.pending: list[Outcome] = []
        self.flush_at = max(2 * worker.settings.concurrency, 16)
        self.writing = asyncio.Lock()
        self.outstanding = 0  # handed to the senders, not yet recorded
        self._settled = asyncio.Event()

    async def add(self, outcome: Outcome, sent: bool = False) -> None:
        self.pending.append(outcome)
        try:
            if len(self.pending) >= self.flush_at or (sent and self.outstanding == 1):
                await self.flush()
        finally:
            if sent:
                self.outstanding -= 1
                if self.outstanding == 0:
                    self._settled.set()

    async def settled(self) -> None:
        """Until every message handed to the senders has been recorded."""
        while self.outstanding:
            self._settled.clear()
            await self._settled.wait()

    async def flush(self) -> None:
        async with self.writing:
            batch, self.pending = self.pending, []
            if not batch:
                return
            await record(self.worker.runtime.db, batch, worker=self.worker.name, now=self.worker.runtime.clock.now(),
                         current_next=self.next_at, refused=self.worker.runtime.refused)
            for o in batch:
                self.next_at.pop(o.id, None)
            self.worker._count(batch)
