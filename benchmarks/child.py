"""The measured side of each benchmark, run in its own process so that its time and
peak memory are its own (the parent seeds data, runs the sink and keeps the clock).

    python -m benchmarks.child JOB JSON-ARGS

A job sets itself up, prints "ready", waits for one line ("go") on stdin, does the
measured work, and prints one JSON line: what it did, seconds, and peak RSS in MB.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux carries ru_maxrss
    over from the parent through fork and exec, so a child of a parent that seeded 100,000
    subscribers would report the parent's peak."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cpu_seconds() -> float:
    """CPU time of this process, all threads (the database driver works in a thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _ready_then_go() -> None:
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


def _profiler(args: dict):
    """cProfile around the measured part when asked (`--profile DIR`): where the time goes."""
    if not args.get("profile"):
        return None
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    return profiler


async def worker(args: dict) -> dict:
    """The send worker, as `budbringer run --role worker` runs it: claim, render, build,
    (sign), send, record, until nothing is due."""
    from benchmarks.env import runtime_for
    from service.delivery.worker import Worker

    runtime = runtime_for(args["config"], frozen=False)
    w = Worker(runtime, name=args.get("name"))
    await _ready_then_go()
    profiler = _profiler(args)
    cpu_start = cpu_seconds()
    start = time.perf_counter()
    claimed = await w.drain(max_seconds=args.get("max_seconds", 900))
    took = time.perf_counter() - start
    if profiler:
        profiler.disable()
        profiler.dump_stats(args["profile"])
    await runtime.close()
    return {"claimed": claimed, "tally": w.tally, "seconds": took, "cpu_seconds": cpu_seconds() - cpu_start,
            "rss_mb": peak_rss_mb()}


def _raw_message(size: int) -> bytes:
    head = (b"From: nyheder@budbringer.example\r\nTo: modtager@example.dk\r\nSubject: Raw limit\r\n"
            b"Message-ID: <raw@budbringer.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
    line = b"Ledigheden i Region Midtjylland faldt igen i september, og raadet foelger op.\r\n"
    return head + line * max(1, (size - len(head)) // len(line))


async def raw(args: dict) -> dict:
    """The raw limit: aiosmtplib sending one pre-built message of the given size to the
    sink over the same number of connections as the worker uses, as fast as it can.

    With `"client": "transport"` the same, but through the product's own transport
    (`SmtpTransport.send`, what the worker calls): the ceiling of the send path itself."""
    size, count, connections = args["size"], args["count"], args["connections"]
    message = _raw_message(size)
    share = [count // connections + (1 if k < count % connections else 0) for k in range(connections)]
    if args.get("client") == "transport":
        from service.delivery.transport import SmtpTransport
        from service.settings import SmtpServer

        transport = SmtpTransport([SmtpServer(host="127.0.0.1", port=args["port"])], pool_size=connections)
        # Open the connections before the clock starts, as for aiosmtplib below.
        await asyncio.gather(*(transport.send("bounce@budbringer.example", f"opvarm{k}@example.dk", message)
                               for k in range(connections)))
        await _ready_then_go()
        cpu_start, start = cpu_seconds(), time.perf_counter()

        async def run_transport(n):
            for i in range(n):
                result = await transport.send("bounce@budbringer.example", f"modtager{i}@example.dk", message)
                assert result.ok, result

        await asyncio.gather(*(run_transport(n) for n in share))
        took, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
        await transport.close()
        return {"sent": count, "size": len(message), "seconds": took, "cpu_seconds": cpu,
                "rss_mb": peak_rss_mb(), "warm_up": connections}
    import aiosmtplib

    clients = [aiosmtplib.SMTP(hostname="127.0.0.1", port=args["port"], start_tls=False, use_tls=False)
               for _ in range(connections)]
    for c in clients:
        await c.connect()
    await _ready_then_go()
    cpu_start, start = cpu_seconds(), time.perf_counter()

    async def run(client, n):
        for i in range(n):
            await client.sendmail("bounce@budbringer.example", [f"modtager{i}@example.dk"], message)

    await asyncio.gather(*(run(c, n) for c, n in zip(clients, share)))
    took, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
    for c in clients:
        await c.quit()
    return {"sent": count, "size": len(message), "seconds": took, "cpu_seconds": cpu, "rss_mb": peak_rss_mb(),
            "warm_up": 0}


async def release(args: dict) -> dict:
    """Release the due campaigns (what the scheduler's release job runs): one delivery per
    recipient queued through the outbox."""
    from benchmarks.env import runtime_for
    from service.campaigns.release import release_due

    runtime = runtime_for(args["config"])
    await _ready_then_go()
    start = time.perf_counter()
    queued = await release_due(runtime)
    took = time.perf_counter() - start
    await runtime.close()
    return {"queued": queued, "seconds": took, "rss_mb": peak_rss_mb()}


async def fanout(args: dict) -> dict:
    """Match every unmatched item (the parent added one) to its subscribers and queue the
    alerts: what the scheduler's match job does."""
    from sqlalchemy import func, select

    from benchmarks.env import runtime_for
    from service.db.models import Delivery, Match
    from service.matching.match import match_pending_items

    runtime = runtime_for(args["config"])
    await _ready_then_go()
    start = time.perf_counter()
    items = await match_pending_items(runtime)
    took = time.perf_counter() - start
    async with runtime.db.reader() as s:
        matches = await s.scalar(select(func.count()).select_from(Match).where(Match.item_id == args["item_id"]))
        alerts = await s.scalar(select(func.count()).select_from(Delivery).where(Delivery.item_id == args["item_id"]))
    await runtime.close()
    return {"items": items, "matches": matches, "alerts": alerts, "seconds": took, "rss_mb": peak_rss_mb()}


async def digest(args: dict) -> dict:
    """One daily digest run: every subscriber's pending entries into one queued digest."""
    from benchmarks.env import runtime_for
    from service.digests.run import run_digest

    runtime = runtime_for(args["config"])
    await _ready_then_go()
    start = time.perf_counter()
    queued = await run_digest(runtime, "daily", args["period"])
    took = time.perf_counter() - start
    await runtime.close()
    return {"queued": queued, "seconds": took, "rss_mb": peak_rss_mb()}


JOBS = {"worker": worker, "raw": raw, "release": release, "fanout": fanout, "digest": digest}


def main() -> None:
    from service.eventloop import run

    job, args = sys.argv[1], json.loads(sys.argv[2])
    result = run(JOBS[job](args))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
