"""`budbringer run [--role web,worker,scheduler,bounces]` and `budbringer demo`.

One process may play every role (the default) or some of them; with PostgreSQL any
number of processes on any number of hosts share the work through the database. The
`bounces` role is the inbound SMTP endpoint for bounce reports (when `bounces.enabled`);
run it as its own process so that nothing sent to it can slow the web pages.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys

from service.cli.common import open_runtime, settings_or_exit
from service.cli.workers import WorkerProcesses, orphaned, plan
from service.runtime import Runtime

log = logging.getLogger("budbringer")

ROLES = ("web", "worker", "scheduler", "bounces")


def _roles(text: str) -> set[str]:
    roles = {r.strip() for r in text.split(",") if r.strip()}
    if "all" in roles:
        return set(ROLES)
    unknown = roles - set(ROLES)
    if unknown or not roles:
        raise argparse.ArgumentTypeError(f"roles are {', '.join(ROLES)} or all (got {text!r})")
    return roles


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError(f"a number of processes from 1 to 64 (got {text!r})")
    return n


async def serve(runtime: Runtime, roles: set[str], stop: asyncio.Event, workers: "WorkerProcesses | None" = None) -> None:
    """Run the chosen roles until `stop` is set; then shut down in order. With `workers`,
    the worker role runs in those processes instead of this one."""
    from aiohttp import web

    from service.sources.registry import sync_configured_sources

    await sync_configured_sources(runtime)
    runtime.liveness.start(set(roles) - {"web"})
    runner = scheduler = None
    tasks: list[asyncio.Task] = []
    if "web" in roles:
        from service.web.app import create_runner

        # Access lines go to "aiohttp.access", at WARNING (so: none) unless --verbose.
        runner = create_runner(runtime, access_log=logging.getLogger("aiohttp.access"), shutdown_timeout=SHUTDOWN_GRACE)
        await runner.setup()
        site = web.TCPSite(runner, runtime.settings.web.host, runtime.settings.web.port)
        await site.start()
        log.info("web: listening on http://%s:%s/", runtime.settings.web.host, runtime.settings.web.port)
    if "worker" in roles and workers is not None:
        workers.start()
        tasks.append(asyncio.create_task(_watch(runtime, workers, stop), name="worker-processes"))
    elif "worker" in roles:
        from service.delivery.worker import Worker

        tasks.append(asyncio.create_task(Worker(runtime).run_forever(stop), name="worker"))
        log.info("worker: sending through %s", runtime.settings.mail.transport)
    if "bounces" in roles and runtime.settings.bounces.enabled:
        from service.bounces.inbound import serve_bounces

        tasks.append(asyncio.create_task(serve_bounces(runtime, stop), name="bounces"))
    if "scheduler" in roles:
        from service.scheduler import build_scheduler

        scheduler = build_scheduler(runtime)
        scheduler.start()
        log.info("scheduler: started (%s)", runtime.settings.service.timezone)
    playing = set(roles) - (set() if runtime.settings.bounces.enabled else {"bounces"})
    tasks.append(asyncio.create_task(_heartbeats(runtime, playing, stop), name="heartbeats"))
    # What start-up made (modules, templates, the app) lives as long as the process: kept out
    # of the collector's full passes, which otherwise walk it all each time. During a
    # 50,000-row import such a pass held the event loop ~0.1 s, several times; frozen, ~0.03 s.
    gc.freeze()
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await _shut_down(runner, scheduler, tasks)
        log.info("stopped")


# Within the 30 s an orchestrator waits after SIGTERM (docs/operations.md), with room to close.
SHUTDOWN_GRACE = 20.0


async def _shut_down(runner, scheduler, tasks: list[asyncio.Task]) -> None:
    """Stop every role at once, each within the grace period, and leave nothing running.

    The caller closes the database next: a task still inside a database call then (a
    scheduled job cancelled mid-query was one) kept the process from ever exiting.
    """
    steps = [_finish(tasks, SHUTDOWN_GRACE)]
    if scheduler is not None:
        steps.append(scheduler.stop(SHUTDOWN_GRACE))
    if runner is not None:
        steps.append(runner.cleanup())
    await asyncio.gather(*steps)
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    if leftovers:
        log.warning("still running at shutdown, cancelled: %s",
                    ", ".join(sorted(f"{t.get_name()} ({getattr(t.get_coro(), '__qualname__', '?')})" for t in leftovers)))
        await _finish(leftovers, 0)


async def _finish(tasks: list[asyncio.Task], grace: float) -> None:
    """Wait up to `grace` seconds for `tasks`; cancel the rest and wait for them to unwind."""
    if not tasks:
        return
    _, late = await asyncio.wait(tasks, timeout=grace) if grace else (set(), set(tasks))
    for task in late:
        if grace:
            log.warning("%s still busy after %.0f s; cancelled", task.get_name(), grace)
        task.cancel()
    if late:
        await asyncio.wait(late, timeout=5)
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("%s ended with an error", task.get_name(), exc_info=task.exception())


async def _heartbeats(runtime: Runtime, roles: set[str], stop: asyncio.Event) -> None:
    """This process's row for `budbringer status`: every few seconds, and once more at the stop."""
    from service import heartbeats
    from service.web.health import role_health

    me, started = heartbeats.Identity.here(), runtime.clock.now()
    while not stop.is_set():
        late = [f"{role} not seen for {r['seconds_since_seen']} s" for role, r in role_health(runtime).items() if not r["ok"]]
        try:
            await heartbeats.beat(runtime.db, me, roles=roles, started_at=started, now=runtime.clock.now(),
                                  problem="; ".join(late))
        except Exception as exc:  # the database is away: the roles say so themselves; try again
            log.warning("heartbeat not written: %s", exc)
        try:
            await asyncio.wait_for(stop.wait(), timeout=heartbeats.INTERVAL)
        except asyncio.TimeoutError:
            pass
    try:
        await heartbeats.stopped(runtime.db, me, runtime.clock.now())
    except Exception as exc:
        log.warning("heartbeat not written at the stop: %s", exc)


async def _watch(runtime: Runtime, workers: "WorkerProcesses", stop: asyncio.Event) -> None:
    """The worker role is alive here while its processes run; they stop with this one."""
    try:
        while not stop.is_set():
            if workers.alive():
                runtime.liveness.worker.beat()
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            except asyncio.TimeoutError:
                pass
    finally:
        await workers.stop()


def stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def run(args) -> int:
    if args.role == {"bounces"} and not settings_or_exit(args).bounces.enabled:
        print("The bounces role needs `bounces.enabled = true` (BUDBRINGER_BOUNCES__ENABLED=true).", file=sys.stderr)
        return 2
    async with open_runtime(args) as runtime:
        workers = None
        line = ", ".join(r for r in ROLES if r in args.role)
        if "worker" in args.role:
            planned = plan(asked=args.workers, sqlite=runtime.db.is_sqlite)
            line += f"; {planned.why}"
            if planned.processes > 1:
                workers = WorkerProcesses(planned.processes, WorkerProcesses.command(
                    str(args.config), verbose=args.verbose, log_format=args.log_format), grace=SHUTDOWN_GRACE)
        log.info("budbringer run: %s", line)
        stop = asyncio.Event()
        stop_on_signals(stop)
        watch = asyncio.create_task(orphaned(stop), name="parent") if WorkerProcesses.PARENT in os.environ else None
        try:
            await serve(runtime, args.role, stop, workers)
        finally:
            if watch is not None:
                watch.cancel()
                await asyncio.gather(watch, return_exceptions=True)
    return 0


def register(sub) -> None:
    p = sub.add_parser("run", help="run the service (web, worker and scheduler by default)")
    p.add_argument("--role", type=_roles, default=set(ROLES),
                   help="comma-separated: web, worker, scheduler, bounces (when bounces.enabled), or all")
    p.add_argument("--workers", type=_positive, default=None,
                   help="send-worker processes (default: one per core on PostgreSQL; always 1 on SQLite)")
    p.set_defaults(func=run)
