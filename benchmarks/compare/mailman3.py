"""Mailman 3 beside them (`compare.mailman`): Mailman core in its own virtualenv
(var/compare/mailman-venv, pinned in benchmarks/compare/requirements-mailman.txt), its
runners started with `mailman start` for the whole comparison, its outgoing SMTP pointed
at the sink; one personalised list of N members (benchmarks/compare/mailman_list.py).

A round posts the newsletter to the list with `mailman inject` (as an MTA would hand it
over) and the clock runs from then until the sink holds N more messages: the in, pipeline
and out runners, each polling its queue directory (every second, Mailman's default), then
per member the message decorated for that member and one SMTP transaction, over one
connection the out runner keeps open.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import uuid
from contextlib import asynccontextmanager
from email.message import EmailMessage
from pathlib import Path

from benchmarks.compare import site_environ
from benchmarks.sink import count as sink_count

HERE = Path(__file__).parent
POSTING = "nyheder@budbringer.example"


def config(root: Path, smtp_port: int) -> str:
    """mailman.cfg: its files under `root`, outgoing mail to the sink, nothing listening
    that the benchmark does not use (no LMTP, no REST), no archiver."""
    return f"""[mailman]
site_owner: owner@budbringer.example
layout: bench

[paths.bench]
var_dir: {root / "var"}

[mta]
incoming: mailman.mta.null.NullMTA
smtp_host: 127.0.0.1
smtp_port: {smtp_port}

[runner.lmtp]
start: no

[runner.rest]
start: no

[archiver.prototype]
enable: no
"""


class Mailman:
    def __init__(self, python: Path, root: Path):
        self.root, self.cfg = root, root / "mailman.cfg"
        self.argv = [str(python.parent / "mailman")] + (["--run-as-root"] if os.geteuid() == 0 else []) + ["-C", str(self.cfg)]
        self.environ = {**site_environ(), "PYTHONPATH": str(HERE)}  # for `shell -r mailman_list.setup`

    def __call__(self, *args: str, check: bool = True) -> str:
        """`mailman ARGS`, its output read back from a file: `start` leaves daemons that hold
        what it was given, so a pipe would never end."""
        out, log = self.root / "command.out", self.root / "commands.log"
        with open(out, "wb") as stdout, open(log, "ab") as stderr:
            done = subprocess.run(self.argv + list(args), stdout=stdout, stderr=stderr, env=self.environ,
                                  stdin=subprocess.DEVNULL)
        if check and done.returncode != 0:
            raise RuntimeError(f"compare: mailman {args[0]} failed: {log.read_text(errors='replace')[-2000:]}")
        return out.read_text(errors="replace")

    def master_pid(self) -> int | None:
        path = self.root / "var" / "master.pid"
        return int(path.read_text().strip()) if path.exists() else None


@asynccontextmanager
async def running(python: Path, root: Path, smtp_port: int, n: int, names):
    """A fresh Mailman with the list of `n` members, its runners started; stopped afterwards."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / "mailman.cfg").write_text(config(root, smtp_port), encoding="utf-8")
    mm = Mailman(python, root)
    members = root / "members.txt"
    members.write_text("".join(f"{names(i)} <modtager{i}@example.dk>\n" for i in range(1, n + 1)), encoding="utf-8")
    got = int(mm("shell", "-r", "mailman_list.setup", POSTING, str(members)).split()[-1])
    if got != n:
        raise RuntimeError(f"compare: {got} Mailman members for {n}")
    mm("start")
    try:
        await _wait_for_runners(root / "var" / "logs" / "mailman.log")
        yield mm
    finally:
        pid = mm.master_pid()
        mm("stop", check=False)
        for _ in range(300):  # the master stops its runners, then itself
            if pid is None or not Path(f"/proc/{pid}").exists():
                break
            await asyncio.sleep(0.1)


async def _wait_for_runners(log: Path) -> None:
    for _ in range(600):
        text = log.read_text(errors="replace") if log.exists() else ""
        if all(f"{r} runner started" in text for r in ("in", "pipeline", "out")):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"compare: Mailman's runners did not start: {text[-2000:]}")


def post(text: str, html: str) -> bytes:
    """The newsletter as its editor would post it: text and HTML alternatives."""
    m = EmailMessage()
    m["From"] = "Beskæftigelsesrådet Midtjylland <redaktion@budbringer.example>"
    m["To"] = POSTING
    m["Subject"] = "Best Practice nr. 12 – jobcentre, der lykkes"
    m["Message-ID"] = f"<{uuid.uuid4().hex}@budbringer.example>"
    m.set_content(text)
    m.add_alternative(html, subtype="html")
    return bytes(m)


async def round_(bench, mm: Mailman, n: int, message: bytes) -> None:
    """One post to the list, timed until the sink has a copy for every member."""
    path = mm.root / "post.eml"
    path.write_bytes(message)
    before, octets_before = await sink_count(bench.sink_port)
    start = time.perf_counter()
    mm("inject", "-f", str(path), POSTING)
    while True:
        now, octets = await sink_count(bench.sink_port)
        if now - before >= n:
            break
        if time.perf_counter() - start > 900:
            raise RuntimeError(f"compare: Mailman delivered {now - before} of {n} in 15 minutes: "
                               f"{(mm.root / 'var' / 'logs' / 'smtp.log').read_text(errors='replace')[-2000:]}")
        await asyncio.sleep(0.01)
    took = time.perf_counter() - start
    await asyncio.sleep(0.5)
    after, _ = await sink_count(bench.sink_port)
    if after - before != n:
        raise RuntimeError(f"compare: Mailman delivered {after - before} for {n} members")
    bench.add("compare.mailman", "messages/s", n / took,
              f"{n:,} members, Mailman {pin()} (SQLite), a personalised list: from `mailman inject` until the sink "
              f"has every copy; ~{(octets - octets_before) // n // 1024} KB at the sink")


def pin() -> str:
    line = next(x for x in (HERE / "requirements-mailman.txt").read_text().splitlines() if x.startswith("mailman=="))
    return line.split("==", 1)[1]
