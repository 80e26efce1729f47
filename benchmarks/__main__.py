"""Run the benchmarks and print the figures.

    .venv/bin/python -m benchmarks                      # defaults: a few minutes on 2 cores
    .venv/bin/python -m benchmarks --only send --messages 20000 --runs 5
    .venv/bin/python -m benchmarks --subscribers 250000 --db postgres

Everything runs on loopback: an SMTP sink process, temporary SQLite files and fresh
PostgreSQL databases (dropped afterwards), the web process and a load tool. Each measured
piece runs in its own process (benchmarks/child.py); this process seeds data, starts
and times them, checks that they did what they claim (every message arrived, every
subscriber got its alert or digest), and prints one JSON line per figure and a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import text

from benchmarks import env as E
from benchmarks.report import Figure, table
from benchmarks.sink import count as sink_count

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process that says "ready", waits for "go" and prints one JSON line."""

    def __init__(self, argv: list[str], environ: dict[str, str]):
        self.argv, self.environ = argv, environ

    async def start(self) -> "Proc":
        self.p = await asyncio.create_subprocess_exec(
            *self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=self.environ, cwd=ROOT)
        line = await self.p.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError(f"{self.argv[2:4]} did not start: {line!r} {(await self.p.stderr.read())[-2000:]!r}")
        return self

    def go(self) -> None:
        self.p.stdin.write(b"go\n")

    async def result(self) -> dict:
        out, err = await self.p.communicate()
        if self.p.returncode != 0:
            raise RuntimeError(f"{self.argv[2:4]} failed ({self.p.returncode}): {err.decode()[-3000:]}")
        return json.loads(out.decode().strip().splitlines()[-1])


def child(job: str, args: dict, environ: dict[str, str]) -> Proc:
    return Proc([sys.executable, "-m", "benchmarks.child", job, json.dumps(args)], environ)


class Bench:
    def __init__(self, opts):
        self.opts = opts
        self.figures: dict[str, Figure] = {}
        self.sink_port = free_port()

    def add(self, name: str, unit: str, value: float, note: str = "") -> None:
        f = self.figures.setdefault(name, Figure(name, unit, note=note))
        f.runs.append(value)
        print(f"  {name}: {value:,.2f} {unit}", file=sys.stderr, flush=True)

    # ------------------------------------------------------------ 1. send

    async def send(self, kind: str, processes_list: list[int]) -> None:
        n = self.opts.messages
        async with E.database(kind, smtp_port=self.sink_port) as env:
            extra = {"delivery": f"batch_size = {self.opts.batch}\nconcurrency = {self.opts.connections}"}
            if self.opts.dkim:
                extra["mail.dkim"] = self._dkim_key(env.root)
            env.write_config(**extra)
            rt = env.runtime()
            try:
                await E.add_subscribers(rt, n)
                await E.add_items(rt, 10)
                from service.digests.run import run_digest
                from service.matching.match import match_pending_items

                await match_pending_items(rt)
                queued = await run_digest(rt, "daily", "2026-11-23")
            finally:
                await rt.close()
            assert queued == n, f"{queued} digests queued for {n} subscribers"
            for processes in processes_list:
                for run in range(self.opts.runs):
                    await self._reset_deliveries(env)
                    before, octets_before = await sink_count(self.sink_port)
                    procs = [await child("worker", {"config": str(env.config), "name": f"bench-{k}",
                                                    "profile": self._profile_path(f"worker-{kind}-{processes}-{k}")},
                                         env.environ).start()
                             for k in range(processes)]
                    spies = [await self._py_spy(p, f"worker-{kind}-{processes}-{k}") for k, p in enumerate(procs)]
                    start = time.perf_counter()
                    for p in procs:
                        p.go()
                    results = [await p.result() for p in procs]
                    took = time.perf_counter() - start
                    for spy in spies:
                        if spy:
                            await spy.wait()
                    after, octets_after = await sink_count(self.sink_port)
                    sent = sum(r["tally"].get("sent", 0) for r in results)
                    if sent != n or after - before != n:
                        raise RuntimeError(f"send {kind}: {sent} recorded sent, {after - before} arrived, of {n}")
                    self.message_size = (octets_after - octets_before) // n
                    self.add(f"send.e2e.{kind}.{processes}proc", "messages/s", n / took,
                             f"{n} digests of 10 items, ~{self.message_size // 1024} KB, {self.opts.connections} "
                             f"connections per process{', DKIM' if self.opts.dkim else ''}")
                    self.add("rss.worker", "MB", max(r["rss_mb"] for r in results))
                    self.add(f"send.cpu.{kind}.{processes}proc", "% of one core per process",
                             100 * sum(r["cpu_seconds"] for r in results) / took / processes,
                             "worker CPU time (all threads) / wall time")

    async def _py_spy(self, proc: "Proc", name: str):
        """A sampling profile of a worker run (`--py-spy DIR`, needs py-spy): flame graph data."""
        if not self.opts.py_spy:
            return None
        self.opts.py_spy.mkdir(parents=True, exist_ok=True)
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")  # the venv's, if not on PATH
        spy = await asyncio.create_subprocess_exec(
            exe, "record", "--pid", str(proc.p.pid), "--format", "raw", "--rate", "250", "--nonblocking",
            "--output", str(self.opts.py_spy / f"{name}.txt"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await asyncio.sleep(0.5)  # let it attach
        return spy

    def _profile_path(self, name: str) -> str | None:
        if not self.opts.profile:
            return None
        self.opts.profile.mkdir(parents=True, exist_ok=True)
        return str(self.opts.profile / f"{name}.prof")

    def _dkim_key(self, root: Path) -> str:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path = root / "dkim.pem"
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        return f'enabled = true\ndomain = "budbringer.example"\nselector = "bench"\nprivate_key_file = "{path}"'

    async def _reset_deliveries(self, env) -> None:
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

    async def raw(self) -> None:
        size = getattr(self, "message_size", 12_000)
        for _ in range(self.opts.runs):
            p = await child("raw", {"port": self.sink_port, "size": size, "count": self.opts.messages,
                                    "connections": self.opts.connections}, dict(os.environ)).start()
            p.go()
            r = await p.result()
            self.add("send.raw", "messages/s", r["sent"] / r["seconds"],
                     f"aiosmtplib, pre-built {r['size'] // 1024} KB messages, {self.opts.connections} connections")

    # ------------------------------------------------------------ 2. fan-out

    async def fanout(self, kind: str) -> None:
        n = self.opts.subscribers
        async with E.database(kind) as env:
            rt = env.runtime()
            try:
                await E.add_subscribers(rt, n, frequencies=("immediate", "daily", "weekly"))
            finally:
                await rt.close()
            for run in range(self.opts.runs):
                rt = env.runtime()
                try:
                    (item_id,) = await E.add_items(rt, 1, first_figures=False, tag=f"fanout{run}-")
                finally:
                    await rt.close()
                p = await child("fanout", {"config": str(env.config), "item_id": item_id}, env.environ).start()
                p.go()
                r = await p.result()
                if r["matches"] != n:
                    raise RuntimeError(f"fan-out {kind}: {r['matches']} matches for {n} subscribers")
                self.add(f"fanout.{kind}", "s", r["seconds"],
                         f"1 item to {n:,} subscribers: {r['matches']:,} matches, {r['alerts']:,} alerts queued")
                self.add("rss.fanout", "MB", r["rss_mb"])

    # ------------------------------------------------------------ 3. digests

    async def digest(self, kind: str) -> None:
        n = self.opts.subscribers
        async with E.database(kind) as env:
            rt = env.runtime()
            try:
                await E.add_subscribers(rt, n, frequencies=("daily",))
                await E.add_items(rt, 5)
                from service.matching.match import match_pending_items

                await match_pending_items(rt)
            finally:
                await rt.close()
            for run in range(self.opts.runs):
                if run:
                    await self._reset_digests(env)
                p = await child("digest", {"config": str(env.config), "period": "2026-11-23"}, env.environ).start()
                p.go()
                r = await p.result()
                if r["queued"] != n:
                    raise RuntimeError(f"digest {kind}: {r['queued']} queued for {n} subscribers")
                self.add(f"digest.{kind}", "s", r["seconds"], f"{n:,} daily digests of 5 items each, queued")
                self.add("rss.digest", "MB", r["rss_mb"])

    async def _reset_digests(self, env) -> None:
        rt = env.runtime()
        try:
            async with rt.db.transaction() as s:
                await s.execute(text("UPDATE matches SET delivery_id = NULL"))
                await s.execute(text("DELETE FROM deliveries WHERE kind = 'digest'"))
                await s.execute(text("DELETE FROM digest_runs"))
        finally:
            await rt.close()

    # ------------------------------------------------------------ 4. signup page

    async def signup(self, kind: str) -> None:
        port = free_port()
        async with E.database(kind) as env:
            url = f"http://127.0.0.1:{port}"
            # The service's own address (its cookies are not Secure over plain http); a signup
            # limit per address far above the load, which all comes from 127.0.0.1.
            env.write_config(base_url=url, web=f"port = {port}\nsignup_per_ip_per_hour = 100000000")
            # Its log goes to a file: a pipe nobody reads fills up and stops the server mid-run.
            log = open(env.root / "web.log", "wb")
            web = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "service", "--config", str(env.config), "run", "--role", "web",
                stdout=subprocess.DEVNULL, stderr=log, env=env.environ, cwd=ROOT)
            try:
                await self._wait_for(url + "/healthz", web, env.root / "web.log")
                for mode in ("get", "post"):
                    for _ in range(self.opts.runs):
                        out = await asyncio.create_subprocess_exec(
                            sys.executable, "-m", "benchmarks.load", url, mode, str(self.opts.clients),
                            str(self.opts.requests), stdout=subprocess.PIPE, env=env.environ, cwd=ROOT)
                        r = json.loads((await out.communicate())[0].decode().strip().splitlines()[-1])
                        if r["errors"]:
                            raise RuntimeError(f"signup {mode}: {r['errors']} errors, first: {r['first_error']}")
                        note = f"{self.opts.clients} concurrent clients, {r['requests']} requests"
                        self.add(f"signup.{kind}.{mode}.rps", "requests/s", r["rps"], note)
                        self.add(f"signup.{kind}.{mode}.p50", "ms", r["p50_ms"], note)
                        self.add(f"signup.{kind}.{mode}.p99", "ms", r["p99_ms"], note)
                self.add("rss.web", "MB", _vm_hwm_mb(web.pid))
            finally:
                web.terminate()
                await web.wait()
                log.close()

    async def _wait_for(self, url: str, proc, log: Path) -> None:
        import aiohttp

        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                if proc.returncode is not None:
                    raise RuntimeError(f"web process exited: {log.read_text(errors='replace')[-2000:]}")
                try:
                    async with session.get(url) as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("web process did not answer /healthz")


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()} {platform.release()}"


async def main_async(opts) -> None:
    from service.eventloop import name as loop_name

    dbs = [d for d in opts.db.split(",") if d]
    if "postgres" in dbs and not await E.postgres_available():
        print("PostgreSQL is not reachable at", E.PG_ADMIN, "- skipping it", file=sys.stderr)
        dbs.remove("postgres")
    only = set(opts.only.split(","))
    bench = Bench(opts)
    sink = await asyncio.create_subprocess_exec(sys.executable, "-m", "benchmarks.sink", str(bench.sink_port),
                                                stdout=subprocess.PIPE, cwd=ROOT)
    await sink.stdout.readline()
    print(f"# {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {machine()}; event loop {loop_name()}", file=sys.stderr)
    try:
        started = time.perf_counter()

        def lap(what: str) -> None:
            nonlocal started
            print(f"# {what}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
            started = time.perf_counter()

        if "send" in only:
            for kind in dbs:
                await bench.send(kind, [1, 2] if kind == "postgres" else [1])
                if "send.raw" not in bench.figures:
                    await bench.raw()
            for f in [f for f in bench.figures.values() if f.name.startswith("send.e2e.")]:
                ratio = Figure(f.name.replace("e2e", "ratio"), "% of raw", note="median e2e / median raw, same run")
                ratio.runs = [100 * r / bench.figures["send.raw"].median for r in f.runs]
                bench.figures[ratio.name] = ratio
            lap("send (setup and runs)")
        if "fanout" in only:
            for kind in dbs:
                await bench.fanout(kind)
                lap(f"fan-out on {kind} (setup and runs)")
        if "digest" in only:
            for kind in dbs:
                await bench.digest(kind)
                lap(f"digests on {kind} (setup and runs)")
        if "signup" in only:
            for kind in dbs:
                await bench.signup(kind)
                lap(f"signup on {kind}")
    finally:
        sink.terminate()
        await sink.wait()
    for f in bench.figures.values():
        print(f.as_json(), flush=True)
    print("\n" + table(bench.figures), file=sys.stderr)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default="send,fanout,digest,signup", help="comma-separated: send, fanout, digest, signup")
    p.add_argument("--db", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    p.add_argument("--runs", type=int, default=3, help="times each figure is measured")
    p.add_argument("--messages", type=int, default=4000, help="messages per send run")
    p.add_argument("--connections", type=int, default=8, help="SMTP connections per worker process")
    p.add_argument("--batch", type=int, default=200, help="deliveries a worker claims at once")
    p.add_argument("--dkim", action="store_true", help="sign every message (RSA 2048)")
    p.add_argument("--subscribers", type=int, default=100_000, help="subscribers for fan-out and digests")
    p.add_argument("--clients", type=int, default=100, help="concurrent clients on the signup page")
    p.add_argument("--requests", type=int, default=1000, help="requests per signup run")
    p.add_argument("--profile", type=Path, help="write cProfile stats of each worker run into this directory")
    p.add_argument("--py-spy", type=Path, help="record a py-spy sampling profile of each worker run here")
    opts = p.parse_args()
    asyncio.run(main_async(opts))


if __name__ == "__main__":
    main()
