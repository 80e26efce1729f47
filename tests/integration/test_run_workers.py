"""`budbringer run` starts one send-worker process per core on PostgreSQL, each its own
process, and says so in its first log line; on SQLite it stays one and says why. Real
processes, real PostgreSQL and SQLite, mail to a real aiosmtpd."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from service.db.models import Delivery
from tests.conftest import PG_ADMIN_URL, SECRET, _pg_exec, _pg_url, make_settings
from tests.integration import _delivery as h

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, url: str, smtp_port: int) -> dict[str, str]:
    # Small batches, and each process capped at 30 messages/s: one process alone would take
    # 2 s over 60 messages, so the others (looking every 0.2 s) share them. Uncapped, one
    # sends all 60 in a tenth of a second and which process claims them is luck.
    return {**os.environ, "BUDBRINGER_SERVICE__SECRET_KEY": SECRET, "BUDBRINGER_SERVICE__DATA_DIR": str(tmp_path / "var"),
            "BUDBRINGER_DATABASE__URL": url, "BUDBRINGER_MAIL__TRANSPORT": "smtp",
            "BUDBRINGER_MAIL__SMTP__HOST": "127.0.0.1", "BUDBRINGER_MAIL__SMTP__PORT": str(smtp_port),
            "BUDBRINGER_DELIVERY__IDLE_POLL_SECONDS": "0.2", "BUDBRINGER_DELIVERY__BATCH_SIZE": "5",
            "BUDBRINGER_DELIVERY__RATE_PER_SECOND": "30"}


def _children(pid: int) -> list[str]:
    """The command lines of a process's children (Linux /proc)."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                out.append(Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                pass
    return out


class Run:
    """`budbringer run --role worker …` with its log lines collected as they come."""

    async def start(self, env, *args) -> "Run":
        config = Path(env["BUDBRINGER_SERVICE__DATA_DIR"]).parent / "config.toml"
        config.write_text("# all from the environment\n", encoding="utf-8")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "service", "--config", str(config), "run", "--role", "worker", *args, env=env,
            cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        self.lines: list[str] = []
        self.reading = asyncio.create_task(self._read())
        await self.until(lambda: self.lines)
        return self

    async def _read(self) -> None:
        while line := await self.proc.stderr.readline():
            self.lines.append(line.decode())

    async def until(self, ready, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not ready() and time.monotonic() < deadline and self.proc.returncode is None:
            await asyncio.sleep(0.05)

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    async def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.proc.wait(), 40)
        await self.reading
        return "".join(self.lines)


@pytest.fixture
async def pg_url(request):
    template = request.getfixturevalue("pg_template")
    name = f"bb_t_{uuid.uuid4().hex[:12]}"
    await _pg_exec(PG_ADMIN_URL, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield _pg_url(name)
    await _pg_exec(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
@pytest.mark.parametrize("asked", [None, 3])
async def test_on_postgresql_one_worker_process_per_core_each_its_own(pg_url, tmp_path, smtp_server, clock, asked):
    from service.wiring import build_runtime

    expected = asked or os.cpu_count()
    runtime = build_runtime(make_settings(pg_url, tmp_path, smtp_server.port), clock=clock)
    try:
        run = await Run().start(_env(tmp_path, pg_url, smtp_server.port), *(["--workers", str(asked)] if asked else []))
        try:
            first = run.lines[0]
            assert "budbringer run: worker; starting" in first and f"starting {expected} send-worker process" in first
            assert ("--workers N to choose" in first) if asked is None else (f"(--workers {asked})" in first)
            await run.until(lambda: run.count("worker: sending through smtp") >= expected)
            assert run.count("worker: sending through smtp") == expected, run.lines
            children = _children(run.proc.pid)
            assert len(children) == expected and all("run --role worker --workers 1" in c for c in children), children
            # Work they share through the database: each message once, and by more than one process.
            await h.queue(runtime, [f"fler{i}@example.dk" for i in range(60)], kind="notice", params=h.NOTICE,
                          not_before=clock.now().replace(year=2020))
            await smtp_server.wait_for(60, timeout=30)
        finally:
            log = await run.stop()
        assert run.proc.returncode == 0, log
        async with runtime.db.reader() as s:
            rows = (await s.execute(select(Delivery.status, Delivery.claimed_by))).all()
        assert {r.status for r in rows} == {"sent"} and len(rows) == 60
        assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == sorted(f"fler{i}@example.dk" for i in range(60))
        assert len({r.claimed_by for r in rows}) >= 2
    finally:
        await runtime.close()


async def test_on_sqlite_one_worker_process_and_the_reason(tmp_path, smtp_server, sqlite_template):
    import shutil

    shutil.copy(sqlite_template, tmp_path / "run.db")
    env = _env(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/run.db", smtp_server.port)
    run = await Run().start(env, "--workers", "4")
    try:
        assert "1 send-worker process: SQLite writes one transaction at a time" in run.lines[0], run.lines
        assert "--workers 4 asked for more" in run.lines[0]
        await run.until(lambda: run.count("worker: sending through smtp"))
        assert _children(run.proc.pid) == []  # it sends itself
    finally:
        log = await run.stop()
    assert run.proc.returncode == 0, log
    assert log.count("worker: sending through smtp") == 1


@pytest.mark.postgres
async def test_the_worker_processes_stop_when_their_parent_is_killed(pg_url, tmp_path, smtp_server):
    """SIGKILL cannot be passed on: the worker processes notice that their parent is gone
    and stop by themselves, instead of sending on unwatched."""
    run = await Run().start(_env(tmp_path, pg_url, smtp_server.port), "--workers", "2")
    await run.until(lambda: run.count("worker: sending through smtp") >= 2)
    children = [int(p) for task in Path(f"/proc/{run.proc.pid}/task").iterdir()
                for p in (task / "children").read_text().split()]
    assert len(children) == 2
    run.proc.kill()
    await run.proc.wait()
    deadline = time.monotonic() + 20
    while any(Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid) for pid in children) \
            and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid)]
    await run.reading


def _state(pid: int) -> str:
    try:
        return next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("State:"))
    except (OSError, StopIteration):
        return "zombie"
