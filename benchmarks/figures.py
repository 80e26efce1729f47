"""The figures benchmark: how soon after Statistics Denmark publishes do the subscribers
have their alert?

Set-up (all on loopback): N immediate figures subscribers; two `statbank` sources (AUL01
and AUP01) pointing at the StatBank stand-in (tests/statbank_standin.py) running in this
process; one entry per run in the release calendar, each on a whole 5 s (as 08:00:00 is),
the stand-in flipping `updated` to that run's release at exactly that instant. The service
is `budbringer run --role scheduler,worker` in its own process, on the real clock, sending
to the benchmark's sink. Measured per run, from the instant of the release: the time until
the sink has accepted the first alert and the last one (the sink is asked every 10 ms), and
every subscriber must have got exactly one alert of that release.

The same run's raw limit (`send.raw`: pre-built messages of the alerts' size straight to
the sink) gives the floor for the last alert: N / raw rate.
"""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select, text

from benchmarks import env as E
from benchmarks.sink import count as sink_count

ROOT = Path(__file__).resolve().parent.parent
CPH = ZoneInfo("Europe/Copenhagen")
STEP = 5  # the release_watch tick, seconds; releases fall on a tick as 08:00:00 does
STARTUP = 6  # seconds the service may take to start
LEAD = 3  # seconds between the service being up and the first release
GAP = 10  # seconds between runs' releases, beyond the time the sends take


async def _standin():
    from tests.statbank_standin import StatbankStandin

    standin = StatbankStandin()
    runner = web.AppRunner(standin.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return standin, runner, f"http://127.0.0.1:{port}/v1"


async def _seed(env, url: str, n: int) -> list[int]:
    """Two statbank sources that know last month's release, then n immediate subscribers."""
    from service.db.models import Source
    from service.sources.poll import poll_source

    rt = E.runtime_for(env.config, frozen=False)
    try:
        now = rt.clock.now()
        async with rt.db.transaction() as s:
            for table in ("AUL01", "AUP01"):
                s.add(Source(slug=table.lower(), name=table, kind="statbank", url=url, item_kind="figures",
                             topics=["ledighedstal"], options={"table": table}, interval_minutes=30, enabled=True,
                             created_at=now, consecutive_failures=0))
        async with rt.db.reader() as s:
            ids = list((await s.scalars(select(Source.id).order_by(Source.id))).all())
        for sid in ids:  # last month's release: known before anyone subscribes
            report = await poll_source(rt, sid)
            if report.error:
                raise RuntimeError(f"figures: the stand-in's first answer failed: {report.error}")
        from service.matching.match import match_pending_items

        await match_pending_items(rt)
        await E.add_subscribers(rt, n, frequencies=("immediate",))
        return ids
    finally:
        await rt.close()


async def _plan(env, ids: list[int], releases: list[datetime], periods: list[str]) -> None:
    """The releases in the calendar; a look at the tables (nothing new) plans the next for the first moment."""
    from service.releases.calendar import EntryForm, add_entry
    from service.sources.poll import poll_source

    rt = E.runtime_for(env.config, frozen=False)
    try:
        async with rt.db.transaction() as s:
            for at, period in zip(releases, periods):
                await add_entry(s, EntryForm(period, ["AUL01", "AUP01"], at, "Beskæftigelsesrådets kommentar",
                                             at + timedelta(minutes=30)), rt.clock.now())
        for sid in ids:
            await poll_source(rt, sid)
    finally:
        await rt.close()


async def _started(proc, log) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise RuntimeError(f"the service exited: {log.read_text(errors='replace')[-2000:]}")
        if "scheduler: started" in log.read_text(errors="replace"):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("the service did not start within 60 s")


async def _watch(port: int, before: int, n: int, release: float, limit: float) -> tuple[float, float]:
    """Seconds from `release` to the sink's first and its n-th new message."""
    first = last = math.nan
    while time.time() < release + limit:
        got = (await sink_count(port))[0] - before
        now = time.time()
        if got > 0 and math.isnan(first):
            first = now - release
        if got >= n:
            last = now - release
            break
        await asyncio.sleep(0.01)
    return first, last


async def _alerts_per_subscriber(env, period: str, n: int) -> tuple[int, int]:
    """Alerts of `period` recorded as sent, and to how many subscribers (the worker records
    its last sends a moment after the sink has them: wait up to 30 s for all n)."""
    rt = E.runtime_for(env.config, frozen=False)
    try:
        deadline = time.monotonic() + 30
        while True:
            async with rt.db.reader() as s:
                row = (await s.execute(text(
                    "SELECT count(*), count(DISTINCT d.subscriber_id) FROM deliveries d JOIN items i ON i.id = d.item_id "
                    "WHERE d.kind = 'alert' AND d.status = 'sent' AND i.period = :p"), {"p": period})).one()
            if int(row[0]) >= n or time.monotonic() > deadline:
                return int(row[0]), int(row[1])
            await asyncio.sleep(0.2)
    finally:
        await rt.close()


async def run(bench, kind: str) -> None:
    from tests.statbank_standin import made_up_release, shift

    n, runs = bench.opts.figures_subscribers, bench.opts.runs
    limit = max(60.0, n / 100)  # a run that takes longer than this has failed
    standin, runner, url = await _standin()
    try:
        async with E.database(kind, smtp_port=bench.sink_port) as env:
            delivery = f"batch_size = {bench.opts.batch}" + (f"\nconcurrency = {bench.opts.connections}"
                                                             if bench.opts.connections else "")  # 0: the default
            env.write_config(delivery=delivery,
                             fetch='allow_networks = ["127.0.0.1/32"]')  # the stand-in is on loopback
            base = "2027M01"
            standin.publish(made_up_release(shift(base, -1), seed=1))
            ids = await _seed(env, url, n)
            start = time.time() + STARTUP + LEAD  # the service's start-up comes first
            first_at = math.ceil(start / STEP) * STEP
            spacing = math.ceil((GAP + n / 300) / STEP) * STEP
            instants = [first_at + k * spacing for k in range(runs)]
            periods = [shift(base, k) for k in range(runs)]
            releases = [datetime.fromtimestamp(t, timezone.utc) for t in instants]
            await _plan(env, ids, releases, periods)
            for at, period in zip(instants, periods):
                local = datetime.fromtimestamp(at, timezone.utc).astimezone(CPH)
                standin.publish_at(made_up_release(period, seed=int(period.replace("M", "")),
                                                   updated=local.strftime("%Y-%m-%dT%H:%M:%S")), at)
            log_path = env.root / "service.log"
            log = open(log_path, "wb")
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "service", "--config", str(env.config), "run", "--role", "scheduler,worker",
                stdout=subprocess.DEVNULL, stderr=log, env=env.environ, cwd=ROOT)
            try:
                await _started(proc, log_path)
                if time.time() > instants[0] - 1:
                    raise RuntimeError("figures: the set-up took longer than the lead before the first release")
                for at, period in zip(instants, periods):
                    before, octets = await sink_count(bench.sink_port)
                    await asyncio.sleep(max(0.0, at - time.time() - 0.5))
                    first, last = await _watch(bench.sink_port, before, n, at, limit)
                    sent, people = await _alerts_per_subscriber(env, period, n)
                    if math.isnan(last) or sent != n or people != n:
                        kept = ROOT / "var" / f"bench-figures-{kind}-service.log"
                        kept.parent.mkdir(parents=True, exist_ok=True)
                        kept.write_bytes(log_path.read_bytes())
                        raise RuntimeError(f"figures {kind}: {sent} alerts recorded as sent to {people} subscribers of "
                                           f"{n} (the sink: {'all' if not math.isnan(last) else 'not all'} within "
                                           f"{limit:.0f} s); the service's log is kept in {kept}")
                    bench.alert_size = ((await sink_count(bench.sink_port))[1] - octets) // n
                    note = f"{n:,} immediate subscribers, both tables at once, polled by the release calendar"
                    bench.add(f"figures.first.{kind}", "s", first, note + ": the first alert at the sink")
                    bench.add(f"figures.all.{kind}", "s", last, note + ": the last alert at the sink")
            finally:
                proc.terminate()
                await proc.wait()
                log.close()
    finally:
        await runner.cleanup()


def floors(bench) -> None:
    """The raw limit's floor for the last alert: N messages at the same run's raw rate."""
    from benchmarks.report import Figure

    raw = bench.figures.get("send.raw")
    if raw is None:
        return
    n = bench.opts.figures_subscribers
    for name in [f for f in bench.figures if f.startswith("figures.all.")]:
        floor = Figure(name.replace("figures.all", "figures.raw_floor"), "s",
                       note=f"{n:,} messages at the raw rate of this run ({raw.median:,.0f}/s)")
        floor.runs = [n / r for r in raw.runs]
        bench.figures[floor.name] = floor
        ratio = Figure(name.replace("figures.all", "figures.ratio"), "% of raw",
                       note="raw floor / last alert (100 % = as fast as the raw limit)")
        ratio.runs = [100 * (n / raw.median) / r for r in bench.figures[name].runs]
        bench.figures[ratio.name] = ratio

