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
from benchmarks import sending
from benchmarks.report import Figure, table

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
        self.relay_port = free_port()  # a sink that answers like a relay across a network
        self.parts = set(opts.only.split(","))

    def add(self, name: str, unit: str, value: float, note: str = "") -> None:
        f = self.figures.setdefault(name, Figure(name, unit, note=note))
        f.runs.append(value)
        print(f"  {name}: {value:,.2f} {unit}", file=sys.stderr, flush=True)

    def add_ratio(self, name: str, values: list[float], note: str) -> None:
        ratio = Figure(name, "%", note=note)
        ratio.runs = list(values)
        self.figures[name] = ratio

    # ------------------------------------------------------------ 1. send

    async def send(self, kind: str, processes_list: list[int]) -> None:
        """Digests: 1 (and 2) worker processes, a relay with latency, `budbringer run`'s default."""
        n = self.opts.messages
        async with E.database(kind, smtp_port=self.sink_port) as env:
            sending.write_config(self, env)
            rt = env.runtime()
            try:
                await E.queue_digests(rt, n)
            finally:
                await rt.close()
            for processes in processes_list:
                await sending.worker_runs(self, env, kind, "", processes, n, "digests of 10 items")
            if "relay" in self.parts:
                await sending.relay(self, env, kind, n)
            if "run" in self.parts and kind == "postgres":
                await sending.run_default(self, env, kind, n)

    async def _py_spy(self, proc: "Proc", name: str):
        """A sampling profile of a worker run (`--py-spy DIR`, needs py-spy): flame graph data."""
        if not self.opts.py_spy:
            return None
        self.opts.py_spy.mkdir(parents=True, exist_ok=True)
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")  # the venv's, if not on PATH
        spy = await asyncio.create_subprocess_exec(
            exe, "record", "--pid", str(proc.p.pid), "--format", "raw", "--rate", "250", "--nonblocking",
            *(["--idle", "--threads"] if self.opts.py_spy_idle else []),
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

    async def raw(self) -> None:
        await sending.raw(self, "send.raw", getattr(self, "message_size", 12_000))

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
        """GET / and POST / under 100 closed-loop clients, and signups arriving at a fixed rate
        (open loop) with a send worker beside the web process, to time the confirmation mail."""
        port = free_port()
        async with E.database(kind, smtp_port=self.sink_port) as env:
            url = f"http://127.0.0.1:{port}"
            # The service's own address (its cookies are not Secure over plain http); a signup
            # limit per address far above the load, which all comes from 127.0.0.1, and a cap
            # on confirmation mails per domain far above it too (every address is @example.dk).
            env.write_config(base_url=url, web=f"port = {port}\nsignup_per_ip_per_hour = 100000000",
                             subscribers="confirm_mails_per_domain = 100000000")
            web = await self._start(env, "web")
            try:
                await self._wait_for(url + "/healthz", web, env.root / "web.log")
                await self._closed(kind, url, env, "get")
                if self.opts.open_rate:
                    worker = await self._start(env, "worker")
                    try:
                        for _ in range(self.opts.runs):
                            await self._open(kind, url, env)
                    finally:
                        worker.terminate()
                        await worker.wait()
                await self._closed(kind, url, env, "post")
                self.add("rss.web", "MB", _vm_hwm_mb(web.pid))
            finally:
                web.terminate()
                await web.wait()

    async def _start(self, env, role: str):
        # Its log goes to a file: a pipe nobody reads fills up and stops the server mid-run.
        log = open(env.root / f"{role}.log", "wb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "service", "--config", str(env.config), "run", "--role", role,
            stdout=subprocess.DEVNULL, stderr=log, env=env.environ, cwd=ROOT)
        log.close()  # the child has its own copy
        return proc

    async def _load(self, env, *argv: str) -> dict:
        out = await asyncio.create_subprocess_exec(sys.executable, "-m", "benchmarks.load", *argv,
                                                   stdout=subprocess.PIPE, env=env.environ, cwd=ROOT)
        r = json.loads((await out.communicate())[0].decode().strip().splitlines()[-1])
        if r["errors"]:
            raise RuntimeError(f"signup {argv[1]}: {r['errors']} errors, first: {r['first_error']}")
        return r

    async def _closed(self, kind: str, url: str, env, mode: str) -> None:
        for _ in range(self.opts.runs):
            r = await self._load(env, url, mode, str(self.opts.clients), str(self.opts.requests))
            note = f"{self.opts.clients} concurrent clients (closed loop), {r['requests']} requests"
            self.add(f"signup.{kind}.{mode}.rps", "requests/s", r["rps"], note)
            self.add(f"signup.{kind}.{mode}.p50", "ms", r["p50_ms"], note)
            self.add(f"signup.{kind}.{mode}.p99", "ms", r["p99_ms"], note)

    async def _open(self, kind: str, url: str, env) -> None:
        from benchmarks.sink import arrivals

        rate, seconds = self.opts.open_rate, self.opts.open_seconds
        r = await self._load(env, url, "open", str(rate), str(seconds))
        rate_label = f"{rate:g}"
        note = f"signups arriving at {rate:g}/s for {seconds:g} s (open loop), latency from when each was due"
        self.add(f"signup.{kind}.open{rate_label}.p50", "ms", r["p50_ms"], note)
        self.add(f"signup.{kind}.open{rate_label}.p99", "ms", r["p99_ms"], note)
        due = r["due"]
        deadline = time.monotonic() + 60
        while True:  # every confirmation mail must reach the sink
            got = {k: v for k, v in (await arrivals(self.sink_port)).items() if k in due}
            if len(got) == len(due) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        if len(got) != len(due):
            raise RuntimeError(f"signup {kind}: {len(got)} of {len(due)} confirmation mails arrived within a minute")
        waits = sorted(got[k] - due[k] for k in due)
        self.add(f"signup.{kind}.confirm.p50", "s", waits[len(waits) // 2], "signup due → its confirmation at the sink, "
                 "with one `run --role worker` process beside the web process")
        self.add(f"signup.{kind}.confirm.p99", "s", waits[min(len(waits) - 1, round(0.99 * (len(waits) - 1)))],
                 "signup due → its confirmation at the sink")

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
    relay = None
    if "send" in only and "relay" in only:
        relay = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.sink", str(bench.relay_port), "--data-delay", str(sending.RELAY_DATA_DELAY),
            "--connect-delay", str(sending.RELAY_CONNECT_DELAY), stdout=subprocess.PIPE, cwd=ROOT)
        await relay.stdout.readline()
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
            if "newsletter" in only:
                for kind in dbs:
                    await sending.newsletter(bench, kind)
                if "send.raw.newsletter" not in bench.figures:
                    await sending.raw(bench, "send.raw.newsletter", bench.newsletter_size)
            await sending.raw(bench, "send.raw.transport", bench.message_size, client="transport")
            raw = {"send.raw": bench.figures["send.raw"].median,
                   "send.raw.newsletter": bench.figures["send.raw.newsletter"].median if "newsletter" in only else None}
            for f in [f for f in bench.figures.values() if f.name.startswith("send.e2e.")]:
                if f.name.replace("e2e", "ratio") in bench.figures:
                    continue  # measured run by run, against the raw limit right after each (sending.paired_raw)
                limit = raw["send.raw.newsletter"] if ".newsletter." in f.name else raw["send.raw"]
                bench.add_ratio(f.name.replace("e2e", "ratio"), [100 * r / limit for r in f.runs],
                                "median e2e / median raw (aiosmtplib, same size), same run")
            lap("send (setup and runs)")
        if "memory" in only:
            await sending.memory(bench)
            lap("memory (100,000 messages)")
        if "fanout" in only:
            for kind in dbs:
                await bench.fanout(kind)
                lap(f"fan-out on {kind} (setup and runs)")
        if "digest" in only:
            for kind in dbs:
                await bench.digest(kind)
                lap(f"digests on {kind} (setup and runs)")
        if "figures" in only:
            from benchmarks import figures

            for kind in dbs:
                await figures.run(bench, kind)
                lap(f"figures on {kind} (setup and runs)")
            if "send.raw" not in bench.figures:
                bench.message_size = getattr(bench, "alert_size", 12_000)
                await bench.raw()
            figures.floors(bench)
        if "signup" in only:
            for kind in dbs:
                await bench.signup(kind)
                lap(f"signup on {kind}")
        if "compare" in only:
            from benchmarks import compare

            await compare.run(bench)
            lap("compare (Budbringer, the other tools, raw; SQLite)")
    finally:
        for p in (sink, relay):
            if p is not None:
                p.terminate()
                await p.wait()
    for f in bench.figures.values():
        print(f.as_json(), flush=True)
    print("\n" + table(bench.figures), file=sys.stderr)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default="send,newsletter,relay,run,fanout,digest,figures,signup,memory",
                   help="comma-separated: send (digests; with newsletter, relay, run: those send figures too), "
                        "fanout, digest, figures, signup, memory; and compare (not by default: Budbringer beside "
                        "django-newsletter and Mailman 3, which it installs from PyPI under var/compare/)")
    p.add_argument("--db", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    p.add_argument("--runs", type=int, default=3, help="times each figure is measured")
    p.add_argument("--messages", type=int, default=4000, help="messages per send run")
    p.add_argument("--connections", type=int, default=0,
                   help="delivery.concurrency for the worker processes (0: the product's default)")
    p.add_argument("--batch", type=int, default=200, help="deliveries a worker claims at once")
    p.add_argument("--relay-connections", type=int, default=64,
                   help="delivery.concurrency for the relay 20 ms away (about rate × round trip)")
    p.add_argument("--dkim", action="store_true", help="sign every message (RSA 2048)")
    p.add_argument("--subscribers", type=int, default=100_000, help="subscribers for fan-out and digests")
    p.add_argument("--memory-messages", type=int, default=100_000, help="digests one worker sends in the memory run")
    p.add_argument("--figures-subscribers", type=int, default=10_000,
                   help="immediate subscribers waiting for a release (figures)")
    p.add_argument("--compare-subscribers", type=int, default=2000,
                   help="subscribers each tool sends the newsletter to (compare)")
    p.add_argument("--compare-tools", default="django_newsletter,mailman",
                   help="comma-separated, besides Budbringer (compare): django_newsletter, mailman")
    p.add_argument("--clients", type=int, default=100, help="concurrent clients on the signup page")
    p.add_argument("--requests", type=int, default=1000, help="requests per closed-loop signup run")
    p.add_argument("--open-rate", type=float, default=100, help="signups per second in the open-loop run (0: none)")
    p.add_argument("--open-seconds", type=float, default=10, help="how long signups keep arriving in the open loop")
    p.add_argument("--profile", type=Path, help="write cProfile stats of each worker run into this directory")
    p.add_argument("--py-spy", type=Path, help="record a py-spy sampling profile of each worker run here")
    p.add_argument("--py-spy-idle", action="store_true", help="with --py-spy: waiting time too, per thread")
    opts = p.parse_args()
    asyncio.run(main_async(opts))


if __name__ == "__main__":
    main()
