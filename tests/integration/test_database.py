"""The database layer under pressure: concurrent writers, an unreachable server, migrations."""

import asyncio
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select, update

from service.db.engine import Database, DatabaseUnavailable
from service.db.migrate import pending, upgrade
from service.db.models import RateEvent, Source
from service.settings import DatabaseSettings
from tests.conftest import free_port

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


async def test_item09_twenty_concurrent_writers_never_see_database_locked(db_url):
    """Each writer reads, then writes (the pattern that fails at once without BEGIN IMMEDIATE)."""
    db = Database(DatabaseSettings(url=db_url, busy_timeout_ms=30000))
    async with db.transaction() as s:
        s.add(Source(slug="counter", name="counter", kind="admin", topics=[], options={}, consecutive_failures=0,
                     created_at=NOW))

    async def writer(n: int) -> None:
        for _ in range(5):
            async with db.transaction() as s:
                current = await s.scalar(
                    select(Source.consecutive_failures).where(Source.slug == "counter").with_for_update()
                )
                s.add(RateEvent(bucket=f"writer:{n}", at=NOW))
                await s.execute(update(Source).where(Source.slug == "counter").values(consecutive_failures=current + 1))

    await asyncio.gather(*(writer(n) for n in range(20)))
    async with db.reader() as s:
        # No lost update: every read-modify-write saw the one before it.
        assert await s.scalar(select(Source.consecutive_failures).where(Source.slug == "counter")) == 100
        assert await s.scalar(select(func.count()).select_from(RateEvent)) == 100
    await db.dispose()


async def test_item10_unreachable_database_is_a_clear_error_after_retries():
    port = free_port()  # nothing listens here
    db = Database(DatabaseSettings(url=f"postgresql+asyncpg://postgres@127.0.0.1:{port}/test", connect_retries=2))
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    with pytest.raises(DatabaseUnavailable) as err:
        await db.wait_until_reachable(sleep=no_sleep)
    assert f"127.0.0.1:{port}" in str(err.value)
    assert len(waits) == 2  # three attempts, backing off between them
    await db.dispose()


def test_item10_run_refuses_to_start_on_an_unreachable_or_empty_database(tmp_path, capsys, monkeypatch):
    from service.cli import main

    monkeypatch.setenv("BUDBRINGER_SERVICE__SECRET_KEY", "k" * 40)
    monkeypatch.setenv("BUDBRINGER_DATABASE__CONNECT_RETRIES", "0")
    monkeypatch.setenv("BUDBRINGER_DATABASE__URL", f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/test")
    with pytest.raises(SystemExit) as exit_:
        main(["--config", str(tmp_path / "config.toml"), "run"])
    assert exit_.value.code == 3
    assert "cannot reach the database" in capsys.readouterr().err

    # Reachable but never migrated: refuse, and say what to do — never start on an empty schema.
    monkeypatch.setenv("BUDBRINGER_DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path}/new.db")
    with pytest.raises(SystemExit) as exit_:
        main(["--config", str(tmp_path / "config.toml"), "run"])
    assert exit_.value.code == 3
    assert "budbringer db upgrade" in capsys.readouterr().err

    assert main(["--config", str(tmp_path / "config.toml"), "db", "upgrade"]) == 0
    assert main(["--config", str(tmp_path / "config.toml"), "db", "status"]) == 0


async def test_migrations_are_idempotent(db_url):
    db = Database(DatabaseSettings(url=db_url))
    assert not await pending(db)
    await upgrade(db)  # a second upgrade is a no-op, not an error
    assert not await pending(db)
    await db.dispose()


def test_sqlite_online_backup_is_a_consistent_copy_that_restores(tmp_path, capsys, monkeypatch):
    import sqlite3

    from service.cli import main

    monkeypatch.setenv("BUDBRINGER_SERVICE__SECRET_KEY", "k" * 40)
    monkeypatch.setenv("BUDBRINGER_DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path}/live.db")
    config = ["--config", str(tmp_path / "config.toml")]
    assert main([*config, "db", "upgrade"]) == 0
    # The service holds the database open (WAL) while the copy is taken.
    live = sqlite3.connect(tmp_path / "live.db")
    live.execute("INSERT INTO suppressions (email_hash, reason, note, created_at, created_by) "
                 "VALUES ('ab' || hex(randomblob(8)), 'manual', 'før backup', '2026-11-23 10:00:00', 'test')")
    live.commit()

    assert main([*config, "db", "backup", str(tmp_path / "copy.db")]) == 0
    assert "integrity ok" in capsys.readouterr().out
    assert main([*config, "db", "backup", str(tmp_path / "copy.db")]) == 2  # never overwrites
    live.close()

    # Restoring is starting on the copy: it is current and complete.
    monkeypatch.setenv("BUDBRINGER_DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path}/copy.db")
    assert main([*config, "db", "status"]) == 0
    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("SELECT note FROM suppressions").fetchall() == [("før backup",)]
    assert copy.execute("SELECT count(*) FROM municipalities").fetchone() == (19,)


# ------------------------------------------------------------------ catalogue 10: the database goes away mid-run

ONLY_POSTGRES = pytest.mark.parametrize("db_kind", [pytest.param("postgres", marks=pytest.mark.postgres)])


def _through(proxy, db_url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(db_url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


@ONLY_POSTGRES
async def test_item10_start_waits_for_a_database_that_comes_back(db_url, db_kind):
    from tests.integration._proxy import TcpProxy

    proxy = TcpProxy("127.0.0.1", 5432)  # not listening yet: the server is "down"
    db = Database(DatabaseSettings(url=_through(proxy, db_url), connect_retries=3))
    waits: list[float] = []

    async def server_comes_back(seconds: float) -> None:
        waits.append(seconds)
        await proxy.up()

    try:
        await db.wait_until_reachable(sleep=server_comes_back)
        assert waits == [2]  # one failed try, one wait, then through
        assert not await pending(db)  # and it is the real, migrated database
    finally:
        await db.dispose()
        await proxy.down()


@ONLY_POSTGRES
async def test_item10_database_lost_mid_run_then_back_nothing_lost_nothing_twice(db_url, tmp_path, clock, smtp_server,
                                                                                  db_kind, caplog):
    """The web app and the send worker run; the database vanishes (connections reset, port
    closed) and comes back. Meanwhile /healthz says 503 with the reason, a page says "try
    again" instead of crashing, the worker keeps running and logs why; afterwards signups
    and mail work again, and the mail sent before is not sent twice."""
    import logging
    import re

    from aiohttp.test_utils import TestClient, TestServer

    from service.delivery.worker import Worker
    from service.wiring import build_runtime
    from service.web.app import create_app
    from tests.conftest import make_settings
    from tests.integration._proxy import TcpProxy

    proxy = TcpProxy("127.0.0.1", 5432)
    await proxy.up()
    settings = make_settings(_through(proxy, db_url), tmp_path, smtp_server.port, delivery={"idle_poll_seconds": 0.05})
    runtime = build_runtime(settings, clock=clock)
    stop = asyncio.Event()
    form = {"email": "", "topics": ["analyser"], "frequency": "immediate", "language": "da", "consent": "yes",
            "website": ""}
    caplog.set_level(logging.WARNING)
    try:
        async with TestClient(TestServer(create_app(runtime), host="127.0.0.1")) as c:
            worker = asyncio.create_task(Worker(runtime).run_forever(stop))
            page = await (await c.get("/")).text()
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            r = await c.post("/", data={**form, "email": "foer@example.dk", "csrf_token": token})
            assert r.status == 200
            await smtp_server.wait_for(1)
            assert len(smtp_server.to("foer@example.dk")) == 1

            await proxy.down()
            health = await c.get("/healthz")
            assert health.status == 503
            assert "database" in (body := await health.json()) and body["status"] == "error"
            r = await c.post("/", data={**form, "email": "under@example.dk", "csrf_token": token})
            assert r.status in (500, 503) and "Prøv igen" in await r.text()
            await asyncio.sleep(1.0)
            assert not worker.done()  # still running, waiting for the database
            assert any("batch failed" in rec.getMessage() for rec in caplog.records)

            await proxy.up()
            clock.advance(minutes=1)
            r = await c.post("/", data={**form, "email": "efter@example.dk", "csrf_token": token})
            assert r.status == 200
            await smtp_server.wait_for(2, timeout=10)
            assert (await c.get("/healthz")).status == 200
            stop.set()
            await asyncio.wait_for(worker, timeout=10)
    finally:
        stop.set()
        await runtime.close()
        await proxy.down()
    assert len(smtp_server.to("efter@example.dk")) == 1
    assert len(smtp_server.to("foer@example.dk")) == 1  # not sent again after the outage
    assert smtp_server.to("under@example.dk") == []  # refused during the outage, and said so


async def test_item09_twenty_signups_at_once_over_http_while_the_worker_sends(client, runtime, smtp_server, db_kind,
                                                                               caplog):
    """Twenty people press "Tilmeld" at the same moment while the send worker claims and
    records mail: every one gets the normal answer (no 500, no "database is locked" anywhere),
    and every confirmation mail goes out once."""
    import re

    from service.delivery.worker import Worker
    from subscribers.models import Subscriber

    caplog.set_level("WARNING")
    runtime.settings.web.signup_per_ip_per_hour = 100
    page = await (await client.get("/")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"topics": ["analyser"], "frequency": "immediate", "language": "da", "consent": "yes", "website": "",
            "csrf_token": token}
    worker = Worker(runtime)

    async def keep_sending():
        for _ in range(20):
            await worker.run_once()
            await asyncio.sleep(0)

    answers = await asyncio.gather(*(client.post("/", data={**form, "email": f"person{n}@example.dk"})
                                     for n in range(20)), keep_sending())
    for r in answers[:-1]:
        body = await r.text()
        assert r.status == 200 and "Tjek din indbakke" in body, body[:300]
        assert "locked" not in body
    await worker.drain()
    async with runtime.db.reader() as s:
        assert await s.scalar(select(func.count()).select_from(Subscriber)) == 20
    assert sorted(m.rcpt_tos[0] for m in smtp_server.received) == sorted(f"person{n}@example.dk" for n in range(20))
    assert not [r.getMessage() for r in caplog.records if r.levelname in ("ERROR", "CRITICAL") or "locked" in r.getMessage()]
