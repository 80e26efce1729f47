"""Shared fixtures. What each tier may fake (in full: tests/<tier>/README.md):

- unit/: pure functions; no database, no network.
- integration/: a real SQLite file and a real PostgreSQL database (127.0.0.1:5432), a
  real SMTP server (aiosmtpd) on loopback; the clock is frozen.
- e2e/: the whole app over HTTP on loopback, mail out to aiosmtpd; a real browser
  (Debian's chromium) for pages.

The `db_kind` fixture runs a test on both databases. PostgreSQL tests are skipped when
the server is down, unless `CI` is set: then they fail.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import gc
import os
import shutil
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from service.clock import FrozenClock
from service.db.engine import Database
from service.db.migrate import upgrade
from service.settings import DatabaseSettings, Settings, load_settings

DATA = Path(__file__).parent / "data"
SECRET = "test-secret-key-that-is-long-enough-0123456789"
PG_ADMIN_URL = os.environ.get("BUDBRINGER_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def pytest_collection_finish(session) -> None:
    """The suite's process after collection is a service's after start-up: what is there
    stays. Frozen out of the collector's full passes as `budbringer run` does (service/cli/run.py),
    so a test that times the event loop sees the app's pauses, not pytest's heap being walked."""
    gc.freeze()


# ------------------------------------------------------------------ SMTP server


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)


@dataclass
class SmtpSink:
    """Collects what a real aiosmtpd server accepted. `script` lets a test make it refuse."""

    host: str
    port: int
    received: list[Received] = field(default_factory=list)
    # recipient -> SMTP reply to give at RCPT (e.g. "550 5.1.1 no such user")
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None  # reply to give after DATA instead of 250
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.rcpt_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.rcpt_tos]

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.received) < count and loop.time() < deadline:
            await asyncio.sleep(0.02)
        return self.received


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    sink = SmtpSink("127.0.0.1", free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port, decode_data=False)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


# ------------------------------------------------------------------ databases


def run_in_thread(coro_factory):
    """Run a coroutine to completion on its own loop in a thread (usable from inside a loop)."""
    box: dict = {}

    def target():
        try:
            box["value"] = asyncio.run(coro_factory())
        except BaseException as exc:  # handed back to the caller
            box["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _pg_required() -> bool:
    return bool(os.environ.get("CI"))


async def _pg_exec(url: str, *statements: str) -> None:
    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        for stmt in statements:
            await conn.execute(stmt)
    finally:
        await conn.close()


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file; each test gets a copy (much faster than migrating each time)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"

    async def make():
        db = Database(DatabaseSettings(url=f"sqlite+aiosqlite:///{path}"))
        await upgrade(db)
        await db.dispose()

    run_in_thread(make)
    return path


@pytest.fixture(scope="session")
def pg_template():
    """A migrated PostgreSQL database used as the TEMPLATE of each test's database."""
    name = f"bb_tpl_{uuid.uuid4().hex[:10]}"
    try:
        run_in_thread(lambda: _pg_exec(PG_ADMIN_URL, f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        if _pg_required():
            pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is required when CI is set: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")

    async def make():
        db = Database(DatabaseSettings(url=_pg_url(name)))
        await upgrade(db)
        await db.dispose()

    run_in_thread(make)
    yield name
    run_in_thread(lambda: _pg_exec(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_kind(request) -> str:
    return request.param


@pytest.fixture
async def db_url(db_kind, request, tmp_path):
    """A fresh, migrated database of the kind under test."""
    if db_kind == "sqlite":
        target = tmp_path / "bb.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"bb_t_{uuid.uuid4().hex[:12]}"
    await _pg_exec(PG_ADMIN_URL, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield _pg_url(name)
    await _pg_exec(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ------------------------------------------------------------------ settings, clock, runtime


@pytest.fixture
def clock() -> FrozenClock:
    # Monday 23 November 2026, 09:00 in Copenhagen.
    return FrozenClock(datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc))


def make_settings(db_url: str, tmp_path: Path, smtp_port: int | None = None, **sections) -> Settings:
    overrides: dict = {
        "service": {"secret_key": SECRET, "base_url": "http://127.0.0.1:8080", "data_dir": str(tmp_path / "var")},
        "database": {"url": db_url, "connect_retries": 0},
        "mail": {
            "transport": "smtp" if smtp_port else "file",
            "from": "nyheder@budbringer.example",
            "outbox_dir": str(tmp_path / "outbox"),
            "smtp": {"host": "127.0.0.1", "port": smtp_port or 25, "timeout_seconds": 5},
        },
        "delivery": {"retry_base_seconds": 60},
        "fetch": {"allow_networks": ["127.0.0.1/32"]},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(overrides.get(key), dict):
            overrides[key] = {**overrides[key], **value}
        else:
            overrides[key] = value
    return load_settings(None, env={}, **overrides)


@pytest.fixture
def settings(db_url, tmp_path, smtp_server) -> Settings:
    return make_settings(db_url, tmp_path, smtp_server.port)


@pytest.fixture
async def runtime(settings, clock):
    from service.wiring import build_runtime

    rt = build_runtime(settings, clock=clock)
    try:
        yield rt
    finally:
        await rt.close()


@pytest.fixture
async def client(runtime):
    """An HTTP client for the whole app, served on loopback."""
    from aiohttp.test_utils import TestClient, TestServer

    from service.web.app import create_app

    async with TestClient(TestServer(create_app(runtime), host="127.0.0.1")) as c:
        yield c
