"""The send figures beyond the first (issue 19), each against the limit of the same run:

- `worker_runs`: worker processes (benchmarks/child.py `worker`) drain the outbox; the
  clock runs from "go" until the last is done, and the sink must hold every message.
- `relay`: the same digests to a sink that waits like a relay across a network (20 ms
  before the reply to a message, 50 ms before its greeting): `send.e2e.<db>.relay20ms.1proc`,
  and `send.relay.<db>` as a percentage of the zero-latency figure of the same run.
- `run_default`: `budbringer run --role worker` with its default number of send-worker
  processes (as many as cores on PostgreSQL): `send.e2e.<db>.run`.
- `newsletter`: a ~21 KB Danish Markdown newsletter (benchmarks/data/nyhedsbrev.md, with a
  greeting merge field) released to N subscribers (`campaign.release.<db>`, the release
  job), then sent by one worker process: `send.e2e.<db>.newsletter.1proc`.
- `raw`: aiosmtplib alone with a pre-built message of the measured size (`send.raw`,
  `send.raw.newsletter`), and the product's own transport the same way (`send.raw.transport`).
- `memory`: one worker process sending 100,000 digests: `rss.worker.100k`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text

from benchmarks import env as E
from benchmarks.sink import count as sink_count

ROOT = Path(__file__).resolve().parent.parent
NEWSLETTER = Path(__file__).parent / "data" / "nyhedsbrev.md"
NEWSLETTER_WHAT = "newsletters (~21 KB of Markdown, greeting by name)"
RELAY_DATA_DELAY, RELAY_CONNECT_DELAY = 0.020, 0.050


def write_config(bench, env, *, port: int | None = None, idle: float | None = None,
                 connections: int | None = None) -> None:
    """The env's config for a send run: the sink at `port` (the plain one unless given), the
    batch and connections asked for, DKIM when asked."""
    o = bench.opts
    body = f"batch_size = {o.batch}"
    if connections or o.connections:
        body += f"\nconcurrency = {connections or o.connections}"
    if idle:
        body += f"\nidle_poll_seconds = {idle}"
    extra = {"delivery": body}
    if o.dkim:
        extra["mail.dkim"] = bench._dkim_key(env.root)
    env.smtp_port = port or bench.sink_port
    env.write_config(**extra)


async def reset_deliveries(env) -> None:
    rt = env.runtime()
    try:
        async with rt.db.transaction() as s:
            await s.execute(text(
                "UPDATE deliveries SET status = 'queued', attempts = 0, sent_at = NULL, lease_until = NULL, "
                "claimed_by = NULL, body = NULL, subject = NULL, last_error = NULL, possible_duplicate = false"))
        if rt.db.is_postgres:  # fresh statistics, as after a real digest run
            async with rt.db.transaction() as s:
                await s.execute(text("ANALYZE deliveries"))
    finally:
        await rt.close()


async def worker_runs(bench, env, kind: str, label: str, processes: int, n: int, what: str, *,
                      port: int | None = None, runs: int | None = None, size_attr: str = "message_size",
                      name: str | None = None) -> list[float]:
    """Drain `n` queued deliveries with `processes` worker processes, `runs` times; the
    figure is `send.e2e.<kind>.<label><processes>proc` unless `name` is given."""
    from benchmarks.__main__ import child

    port = port or bench.sink_port
    rates = []
    for _ in range(runs or bench.opts.runs):
        await reset_deliveries(env)
        before, octets_before = await sink_count(port)
        tag = f"worker-{kind}-{label}{processes}"
        procs = [await child("worker", {"config": str(env.config), "name": f"bench-{k}",
                                        "profile": bench._profile_path(f"{tag}-{k}")}, env.environ).start()
                 for k in range(processes)]
        spies = [await bench._py_spy(p, f"{tag}-{k}") for k, p in enumerate(procs)]
        start = time.perf_counter()
        for p in procs:
            p.go()
        results = [await p.result() for p in procs]
        took = time.perf_counter() - start
        for spy in spies:
            if spy:
                await spy.wait()
        after, octets_after = await sink_count(port)
        sent = sum(r["tally"].get("sent", 0) for r in results)
        if sent != n or after - before != n:
            raise RuntimeError(f"send {kind} {label}: {sent} recorded sent, {after - before} arrived, of {n}")
        size = (octets_after - octets_before) // n
        setattr(bench, size_attr, size)
        conn = f"{bench.opts.connections} connections" if bench.opts.connections else "default connections (8)"
        bench.add(name or f"send.e2e.{kind}.{label}{processes}proc", "messages/s", n / took,
                  f"{n} {what}, ~{size // 1024} KB, {conn} per process{', DKIM' if bench.opts.dkim else ''}")
        bench.add(f"rss.worker{'.' + label.rstrip('.') if label else ''}", "MB", max(r["rss_mb"] for r in results))
        bench.add(f"send.cpu.{kind}.{label}{processes}proc", "% of one core per process",
                  100 * sum(r["cpu_seconds"] for r in results) / took / processes,
                  "worker CPU time (all threads) / wall time")
        rates.append(n / took)
        if name is None and port == bench.sink_port:
            await paired_raw(bench, f"send.e2e.{kind}.{label}{processes}proc", n / took, size, n)
    return rates


PAIRED_RAW_MESSAGES = 5_000


async def paired_raw(bench, e2e_name: str, rate: float, size: int, n: int) -> None:
    """The raw limit measured right after an end-to-end run, with messages of its size, and
    that run as a percentage of it (`send.ratio.*`). This machine's speed drifts by tens of
    per cent within minutes (a shared host): a ratio of two medians measured minutes apart
    moved with it, a ratio of neighbours much less."""
    raw_name = "send.raw.newsletter" if ".newsletter." in e2e_name else "send.raw"
    await raw(bench, raw_name, size, count=min(n, PAIRED_RAW_MESSAGES), runs=1)
    bench.add(e2e_name.replace("send.e2e.", "send.ratio."), "%", 100 * rate / bench.figures[raw_name].runs[-1],
              "this run / the raw limit measured right after it (aiosmtplib, messages of the same size)")


async def relay(bench, env, kind: str, n: int) -> None:
    """Digests to the sink that waits like a relay across a network."""
    write_config(bench, env, port=bench.relay_port, connections=bench.opts.relay_connections)
    try:
        await worker_runs(bench, env, kind, "relay20ms.", 1, n,
                          f"digests to a relay 20 ms away, delivery.concurrency = {bench.opts.relay_connections}",
                          port=bench.relay_port)
    finally:
        write_config(bench, env)
    zero = bench.figures.get(f"send.e2e.{kind}.1proc")
    late = bench.figures[f"send.e2e.{kind}.relay20ms.1proc"]
    if zero is not None:
        bench.add_ratio(f"send.relay.{kind}", [100 * r / zero.median for r in late.runs],
                        "relay 20 ms away as % of the zero-latency median, same run")


async def run_default(bench, env, kind: str, n: int) -> None:
    """`budbringer run --role worker` as an operator starts it: its own number of processes."""
    write_config(bench, env, idle=0.05)
    try:
        for _ in range(bench.opts.runs):
            await _run_once(bench, env, kind, n)
    finally:
        write_config(bench, env)


async def _run_once(bench, env, kind: str, n: int) -> None:
    await reset_deliveries(env)
    rt = env.runtime()
    try:  # held back until "go": the processes start, connect and find nothing due
        async with rt.db.transaction() as s:
            await s.execute(text("UPDATE deliveries SET next_attempt_at = :later"),
                            {"later": E.NOW.replace(year=2100)})
    finally:
        await rt.close()
    log_path = env.root / "run.log"
    log = open(log_path, "wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", "--config", str(env.config), "-v", "run", "--role", "worker",
        stdout=subprocess.DEVNULL, stderr=log, env=env.environ, cwd=ROOT)
    try:
        workers = await _wait_for_workers(proc, log_path)
        before, _ = await sink_count(bench.sink_port)
        rt = env.runtime()
        start = time.perf_counter()
        try:
            async with rt.db.transaction() as s:
                await s.execute(text("UPDATE deliveries SET next_attempt_at = :now"), {"now": E.NOW})
        finally:
            await rt.close()
        deadline = start + 600
        while True:
            now_count, _ = await sink_count(bench.sink_port)
            if now_count - before >= n:
                break
            if time.perf_counter() > deadline or proc.returncode is not None:
                raise RuntimeError(f"run {kind}: {now_count - before} of {n} arrived: "
                                   f"{log_path.read_text(errors='replace')[-2000:]}")
            await asyncio.sleep(0.01)
        took = time.perf_counter() - start
    finally:
        proc.terminate()
        await proc.wait()
        log.close()
    first = log_path.read_text(errors="replace").splitlines()[0].split(": ", 1)[-1]
    bench.add(f"send.e2e.{kind}.run", "messages/s", n / took,
              f"{n} digests, `budbringer run --role worker`: {workers} send-worker process(es); first line: {first}")
    await paired_raw(bench, f"send.e2e.{kind}.run", n / took, bench.message_size, n)


async def _wait_for_workers(proc, log_path: Path) -> int:
    """Wait until every send-worker process says it is sending; return how many there are."""
    for _ in range(300):
        lines = log_path.read_text(errors="replace").splitlines() if log_path.exists() else []
        expected = next((int(line.split("starting ")[1].split()[0]) for line in lines if "send-worker process" in line
                         and "starting " in line), None)
        ready = sum(1 for line in lines if "worker: sending through" in line)
        if expected is not None and ready >= expected:
            await asyncio.sleep(0.3)  # let each make its first (empty) claim
            return expected
        if proc.returncode is not None:
            break
        await asyncio.sleep(0.1)
    raise RuntimeError(f"budbringer run did not start its workers: {log_path.read_text(errors='replace')[-2000:]}")


@asynccontextmanager
async def released_newsletter(bench, kind: str, n: int, release_name: str):
    """A database with `n` subscribers and the newsletter released to them (the release
    job timed as `release_name`): `n` deliveries queued."""
    from benchmarks.__main__ import child

    async with E.database(kind) as env:
        write_config(bench, env)
        rt = env.runtime()
        try:
            await E.add_subscribers(rt, n)
            await E.add_newsletter(rt, NEWSLETTER.read_text(encoding="utf-8"), topics=["ledighedstal"])
        finally:
            await rt.close()
        p = await child("release", {"config": str(env.config)}, env.environ).start()
        p.go()
        r = await p.result()
        if r["queued"] != n:
            raise RuntimeError(f"newsletter {kind}: {r['queued']} queued for {n} subscribers")
        bench.add(release_name, "s", r["seconds"], f"a newsletter released to {n:,} subscribers")
        yield env


async def newsletter(bench, kind: str) -> None:
    """A newsletter released to N subscribers, then sent by one worker process."""
    n = bench.opts.messages
    async with released_newsletter(bench, kind, n, f"campaign.release.{kind}") as env:
        await worker_runs(bench, env, kind, "newsletter.", 1, n, NEWSLETTER_WHAT, size_attr="newsletter_size")


async def raw(bench, name: str, size: int, client: str = "aiosmtplib", *, count: int | None = None,
              runs: int | None = None, cpu_name: str | None = None) -> None:
    """The client alone: `count` (`--messages`) pre-built messages of `size` bytes, `runs` times."""
    from benchmarks.__main__ import child

    for _ in range(runs or bench.opts.runs):
        p = await child("raw", {"port": bench.sink_port, "size": size, "count": count or bench.opts.messages,
                                "connections": bench.opts.connections or 8, "client": client},
                        dict(os.environ)).start()
        p.go()
        r = await p.result()
        bench.add(name, "messages/s", r["sent"] / r["seconds"],
                  f"{client}, pre-built {r['size'] // 1024} KB messages, {bench.opts.connections or 8} connections")
        bench.add(cpu_name or name.replace("send.raw", "send.raw.cpu"), "µs per message", 1e6 * r["cpu_seconds"] / r["sent"],
                  "client CPU time per message")


async def memory(bench, kind: str = "sqlite") -> None:
    """Peak memory of one worker process sending `--memory-messages` digests."""
    n = bench.opts.memory_messages
    async with E.database(kind) as env:
        write_config(bench, env)
        rt = env.runtime()
        try:
            await E.queue_digests(rt, n)
        finally:
            await rt.close()
        label = f"{n // 1000}k." if n >= 1000 else f"{n}."
        await worker_runs(bench, env, kind, label, 1, n, "digests (memory run)", runs=1, size_attr="memory_size")
