"""`budbringer source list | poll` and `budbringer api-token add` through the real CLI."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from service.cli import main
from service.db.models import ApiToken, Source
from service.sources.registry import sync_configured_sources
from service.sources.tokens import token_hash
from tests.conftest import SECRET, make_settings
from tests.integration._sources import FeedServer


@pytest.fixture
async def feeds():
    server = FeedServer()
    server.serve("/nyheder.rss", "nyheder.rss.xml")
    async with TestServer(server.app(), host="127.0.0.1") as ts:
        server.url = lambda path: str(ts.make_url(path))
        yield server


async def cli(config, *argv):
    # In a thread, so this loop keeps serving the feed server while the command runs its own.
    return await asyncio.to_thread(main, ["--config", str(config), *argv])


async def test_source_commands_and_token(tmp_path, db_url, feeds, monkeypatch, capsys, runtime, db_kind):
    monkeypatch.setenv("BUDBRINGER_SERVICE__SECRET_KEY", SECRET)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "{db_url}"\n\n[fetch]\nallow_networks = ["127.0.0.1/32"]\n\n'
        f'[[sources]]\nslug = "nyheder"\nname = "Nyheder"\nurl = "{feeds.url("/nyheder.rss")}"\ntopics = ["analyser"]\n',
        encoding="utf-8",
    )
    assert await cli(config, "source", "poll", "nyheder") == 0
    assert "nyheder: 6 new, 0 updated, 0 unchanged" in capsys.readouterr().out
    assert await cli(config, "source", "list") == 0
    out = capsys.readouterr().out
    assert "nyheder" in out and "feed" in out and "last ok 20" in out
    assert await cli(config, "source", "poll", "ukendt") == 2

    assert await cli(config, "api-token", "add", "Intranet CMS") == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    async with runtime.db.reader() as s:
        row = await s.scalar(select(ApiToken))
    assert token.startswith("bb_") and row.token_hash == token_hash(token) and row.name == "Intranet CMS"


async def test_sync_keeps_admin_sources_and_redirected_urls(tmp_path, db_url, runtime, db_kind):
    async with runtime.db.transaction() as s:
        s.add(Source(slug="admin-made", name="Fra admin", kind="feed", url="https://example.dk/a.rss",
                     created_at=runtime.clock.now(), topics=[], options={}, consecutive_failures=0))
    settings = make_settings(db_url, tmp_path, sources=[
        {"slug": "cfg", "name": "Konfig", "url": "https://example.dk/cfg.rss", "interval_minutes": 10},
        {"slug": "tal", "name": "Tal", "kind": "statbank", "url": "https://api.statbank.dk/v1", "table": "AUL01"},
    ])
    runtime.settings = settings
    await sync_configured_sources(runtime)
    async with runtime.db.transaction() as s:
        rows = {r.slug: r for r in (await s.scalars(select(Source))).all()}
        assert set(rows) == {"admin-made", "cfg", "tal"}
        assert rows["tal"].options["table"] == "AUL01" and rows["cfg"].interval_minutes == 10
        rows["cfg"].url = "https://example.dk/moved.rss"  # as a permanent redirect would
    await sync_configured_sources(runtime)
    runtime.settings = make_settings(db_url, tmp_path, sources=[
        {"slug": "cfg", "name": "Konfig 2", "url": "https://example.dk/cfg.rss"}])
    await sync_configured_sources(runtime)
    async with runtime.db.reader() as s:
        rows = {r.slug: r for r in (await s.scalars(select(Source))).all()}
    assert rows["cfg"].url == "https://example.dk/moved.rss" and rows["cfg"].name == "Konfig 2"
    assert set(rows) == {"admin-made", "cfg", "tal"}  # nothing deleted
