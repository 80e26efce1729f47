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
