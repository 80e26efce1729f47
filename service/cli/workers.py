"""How many send-worker processes `budbringer run` starts, and keeping them running.

One Python process sends on one core. On PostgreSQL the workers share the outbox through
row locks (`FOR UPDATE SKIP LOCKED`), so `run` starts as many send-worker processes as the
host has cores (`--workers N` to choose), each `budbringer run --role worker --workers 1`
of its own; the process that started them only watches them. On SQLite there is one: it
takes one writer at a time, and a second process would spend its time waiting for the
first one's transactions instead of sending.

A worker process that ends by itself is started again (after 1 s, doubling to 30 s while
it keeps ending within a minute); on stop each gets SIGTERM and the shutdown grace to
finish what it sends, then SIGKILL (its claimed messages go back to the outbox when their
lease runs out, as after any crash). A worker process whose parent dies (SIGKILL too)
stops by itself within a second (`orphaned`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass

log = logging.getLogger("budbringer")


async def orphaned(stop: asyncio.Event) -> None:
    """In a worker process `run` started: stop when that process is gone (even by SIGKILL,
    which it cannot pass on), instead of sending on with nobody watching."""
    parent = os.environ.get(WorkerProcesses.PARENT)
    if not parent:
        return
    while not stop.is_set():
        if os.getppid() != int(parent):
            log.warning("the process that started this send worker (pid %s) is gone; stopping", parent)
            stop.set()
            return
        try:
            await asyncio.wait_for(stop.wait(), timeout=1.0)
        except asyncio.TimeoutError:
            pass


@dataclass(frozen=True)
class Plan:
    processes: int
    why: str


def plan(*, asked: int | None, sqlite: bool, cores: int | None = None) -> Plan:
    """How many send-worker processes, and the words for the first log line."""
    cores = cores or os.cpu_count() or 1
    if sqlite:
        note = f" (--workers {asked} asked for more)" if asked and asked > 1 else ""
        return Plan(1, "1 send-worker process: SQLite writes one transaction at a time, so a second process would "
                       f"only wait for the first{note}; PostgreSQL runs one per core")
    if asked:
        return Plan(asked, f"starting {asked} send-worker process{'es' if asked > 1 else ''} (--workers {asked})")
    return Plan(cores, f"starting {cores} send-worker process{'es' if cores > 1 else ''}, one per core "
                       "(--workers N to choose)")


class WorkerProcesses:
    """`n` child processes running the worker role, kept running until `stop()`."""

    def __init__(self, n: int, argv: list[str], grace: float):
        self.n, self.argv, self.grace = n, argv, grace
        self.procs: list[asyncio.subprocess.Process | None] = [None] * n
        self._tasks: list[asyncio.Task] = []
        self._stopping = False

    @staticmethod
    def command(config: str, *, verbose: bool, log_format: str) -> list[str]:
        """The command line of one worker process, with this process's config and logging."""
        return [sys.executable, "-m", "service", "--config", config, "--log-format", log_format,
                *(["-v"] if verbose else []), "run", "--role", "worker", "--workers", "1"]

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._keep(k), name=f"worker-process-{k}") for k in range(self.n)]

    PARENT = "BUDBRINGER_WORKER_PARENT"  # a worker process's parent, so that it stops when the parent dies

    def alive(self) -> bool:
        return all(p is not None and p.returncode is None for p in self.procs)

    async def _keep(self, k: int) -> None:
        delay = 1.0
        while not self._stopping:
            started = time.monotonic()
            proc = self.procs[k] = await asyncio.create_subprocess_exec(
                *self.argv, env={**os.environ, self.PARENT: str(os.getpid())})
            code = await proc.wait()
            if self._stopping:
                return
            delay = delay * 2 if time.monotonic() - started < 60 else 1.0
            delay = min(delay, 30.0)
            log.error("send-worker process %d (pid %d) ended with %s; starting it again in %.0f s",
                      k + 1, proc.pid, code, delay)
            await asyncio.sleep(delay)

    async def stop(self) -> None:
        self._stopping = True
        running = [p for p in self.procs if p is not None and p.returncode is None]
        for p in running:
            p.send_signal(signal.SIGTERM)
        if running:
            _, late = await asyncio.wait([asyncio.create_task(p.wait()) for p in running], timeout=self.grace + 5)
            for p in running:
                if p.returncode is None:
                    log.warning("send-worker process %d did not stop in time; killed", p.pid)
                    p.kill()
                    await p.wait()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
