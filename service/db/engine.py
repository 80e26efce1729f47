"""Engine and sessions.

SQLite runs in WAL mode with a busy timeout, and every transaction starts with
`BEGIN IMMEDIATE`: a transaction that reads and then writes would otherwise fail at
once with "database is locked" under a concurrent writer (see shared/MEASURED.md).
`Database.reader()` gives plain deferred transactions for read-only work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from service.settings import DatabaseSettings

log = logging.getLogger(__name__)


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached; never treated as an empty database."""


class Database:
    def __init__(self, settings: DatabaseSettings):
        self.settings = settings
        self.url = make_url(settings.url)
        if settings.password_file is not None:  # a container secret, kept out of the url and the environment
            self.url = self.url.set(password=settings.password_file.read_text(encoding="utf-8").splitlines()[0])
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.is_postgres = self.url.get_backend_name() == "postgresql"
        self.engine = _create_engine(settings, self.url)
        self._writer = async_sessionmaker(self.engine, expire_on_commit=False)
        # Reads take no write lock on SQLite (BEGIN DEFERRED): /healthz, for one, must not
        # queue behind a long run of writes (a 50,000-row import) to say the database is up.
        self.read_engine = self.engine.execution_options(sqlite_begin="DEFERRED")
        self._reader = async_sessionmaker(self.read_engine, expire_on_commit=False)

    def session(self) -> AsyncSession:
        """A session for work that writes (BEGIN IMMEDIATE on SQLite). Use `async with db.session() as s, s.begin():`."""
        return self._writer()

    def reader(self) -> AsyncSession:
        """A session for read-only work."""
        return self._reader()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: committed on success, rolled back on error."""
        async with self._writer() as session, session.begin():
            yield session

    async def ping(self) -> None:
        async with self.read_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def wait_until_reachable(self, sleep=asyncio.sleep) -> None:
        """Try to reach the database a few times; raise DatabaseUnavailable with the reason."""
        attempts = self.settings.connect_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                await self.ping()
                return
            except (OSError, DBAPIError, OperationalError) as exc:
                reason = str(getattr(exc, "orig", exc)) or type(exc).__name__
                if attempt == attempts:
                    raise DatabaseUnavailable(f"cannot reach the database at {self.safe_url}: {reason}") from exc
                log.warning("database not reachable (attempt %d/%d): %s", attempt, attempts, reason)
                await sleep(min(2**attempt, 10))

    @property
    def safe_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _create_engine(settings: DatabaseSettings, url) -> AsyncEngine:
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url,
            echo=settings.echo,
            connect_args={"timeout": settings.busy_timeout_ms / 1000},
        )
        _sqlite_pragmas(engine, settings.busy_timeout_ms)
        return engine
    # JIT off: our statements are short or set-based over indexes, and compiling their plans
    # cost ~0.2 s each (a 100,000-subscriber fan-out went from 4.7 s to 3.2 s without it).
    return create_async_engine(
        url, echo=settings.echo, pool_size=settings.pool_size, pool_pre_ping=True,
        connect_args={"server_settings": {"jit": "off"}},
    )


def _sqlite_pragmas(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised by every SQLite test
        # Let SQLAlchemy (below) emit BEGIN itself instead of the driver's implicit one.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):  # pragma: no cover
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")
