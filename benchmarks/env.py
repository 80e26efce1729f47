"""What a benchmark needs on loopback: a database (a temporary SQLite file or a fresh
PostgreSQL database), a config file for the service processes, and subscribers and items
written in bulk the way the product stores them."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import uuid
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import insert, select, text

PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
SECRET = "benchmark-secret-" + "x" * 40
MUNIS = ["751", "730", "615", "657", "741", "791"]  # Aarhus, Randers, Horsens, Skive, Samsø, Viborg
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc)


class Env:
    """One database with the schema, and a config file pointing at it and at the sink."""

    def __init__(self, kind: str, root: Path, url: str, smtp_port: int | None):
        self.kind, self.root, self.url, self.smtp_port = kind, root, url, smtp_port
        self.config = root / "config.toml"
        self.environ = {**os.environ, "BUDBRINGER_SERVICE__SECRET_KEY": SECRET, "PYTHONPATH": str(Path.cwd())}

    def write_config(self, base_url: str = "https://nyheder.example.dk", **extra: str) -> Path:
        lines = [
            "[service]", f'base_url = "{base_url}"', f'data_dir = "{self.root / "var"}"', "",
            "[database]", f'url = "{self.url}"', "pool_size = 10", "",
            "[mail]", 'from = "nyheder@budbringer.example"',
        ]
        if self.smtp_port:
            lines += ['transport = "smtp"', "", "[mail.smtp]", 'host = "127.0.0.1"', f"port = {self.smtp_port}"]
        else:
            lines += ['transport = "file"', f'outbox_dir = "{self.root / "outbox"}"']
        for section, body in extra.items():
            lines += ["", f"[{section}]", body]
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return self.config

    def runtime(self):
        return runtime_for(self.config)


def runtime_for(config: Path, *, frozen: bool = True):
    """A runtime from the config file; on the benchmark's frozen clock unless asked not to."""
    from service.clock import FrozenClock
    from service.wiring import build_runtime
    from service.settings import load_settings

    settings = load_settings(Path(config), env={"BUDBRINGER_SERVICE__SECRET_KEY": SECRET})
    return build_runtime(settings, clock=FrozenClock(NOW) if frozen else None)


async def _pg(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN.replace("+asyncpg", ""))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@asynccontextmanager
async def database(kind: str, smtp_port: int | None = None):
    """A migrated, empty database of `kind` ("sqlite" or "postgres"), removed afterwards."""
    from service.db.engine import Database
    from service.db.migrate import upgrade
    from service.settings import DatabaseSettings

    root = Path(tempfile.mkdtemp(prefix="budbringer-bench-"))
    name = None
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{root / 'bench.db'}"
    else:
        name = f"bb_bench_{uuid.uuid4().hex[:10]}"
        await _pg(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    try:
        db = Database(DatabaseSettings(url=url))
        await upgrade(db)
        await db.dispose()
        env = Env(kind, root, url, smtp_port)
        env.write_config()
        yield env
    finally:
        if name:
            await _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(root, ignore_errors=True)


async def postgres_available() -> bool:
    try:
        await asyncio.wait_for(_pg("SELECT 1"), 3)
        return True
    except Exception:
        return False


# ---------------------------------------------------------------- bulk data


async def add_subscribers(runtime, n: int, *, start: int = 1, frequencies=("daily",)) -> None:
    """`n` active subscribers: all follow ledighedstal, every second also analyser, every
    third also retningslinjer; a fifth chose one municipality; every tenth is a politician;
    every seventh reads English; frequencies taken in turn from `frequencies`."""
    from service.db.reference import Audience, Topic
    from subscribers.models import Subscriber, subscriber_municipalities, subscriber_topics

    async with runtime.db.transaction() as s:
        topics = dict((await s.execute(select(Topic.slug, Topic.id))).all())
        politician = await s.scalar(select(Audience.id).where(Audience.slug == "politiker"))
        ids = range(start, start + n)
        rows = [dict(id=i, email=f"modtager{i}@example.dk", name=f"Modtager {i}", organisation="",
                     frequency=frequencies[i % len(frequencies)], language="en" if i % 7 == 0 else "da",
                     status="active", token_version=1, created_at=NOW, confirmed_at=NOW, soft_bounces=0,
                     audience_id=politician if i % 10 == 0 else None) for i in ids]
        for k in range(0, len(rows), 10_000):
            await s.execute(insert(Subscriber), rows[k:k + 10_000])
        st = [dict(subscriber_id=i, topic_id=topics["ledighedstal"]) for i in ids]
        st += [dict(subscriber_id=i, topic_id=topics["analyser"]) for i in ids if i % 2 == 0]
        st += [dict(subscriber_id=i, topic_id=topics["retningslinjer"]) for i in ids if i % 3 == 0]
        for k in range(0, len(st), 20_000):
            await s.execute(insert(subscriber_topics), st[k:k + 20_000])
        sm = [dict(subscriber_id=i, municipality_code=MUNIS[i % len(MUNIS)]) for i in ids if i % 5 == 0]
        for k in range(0, len(sm), 20_000):
            await s.execute(insert(subscriber_municipalities), sm[k:k + 20_000])
    if runtime.db.is_postgres:
        async with runtime.db.transaction() as s:
            await s.execute(text("ANALYZE"))


def figures_data() -> dict:
    areas = [{"code": "000", "name": "Hele landet", "level": "country", "value": 82385.0, "previous": 84943.0,
              "year_ago": 87271.0, "change_month": -2558.0, "change_year": -4886.0},
             {"code": "082", "name": "Region Midtjylland", "level": "region", "value": 21585.0, "previous": 22255.0,
              "year_ago": 22865.0, "change_month": -670.0, "change_year": -1280.0}]
    for i, code in enumerate(MUNIS):
        v = 1000.0 + 300 * i
        areas.append({"code": code, "name": f"Kommune {code}", "level": "municipality", "value": v,
                      "previous": v + 10 * i - 20, "year_ago": v + 50, "change_month": 20 - 10 * i,
                      "change_year": -50.0})
    return {"table": "AUL01", "period": "2026M09", "previous_period": "2026M08", "year_ago_period": "2025M09",
            "unit": "Antal", "updated": "2026-10-29T08:00:00", "areas": areas}


SUMMARY = ("Ledigheden i Region Midtjylland faldt igen i september. Rådet ser på, hvordan jobcentrene "
           "kan hjælpe flere langtidsledige i gang, og følger op på de nye retningslinjer. ")


async def add_items(runtime, n: int, *, first_figures: bool = True, tag: str = "") -> list[int]:
    """`n` unmatched items on ledighedstal (every third on analyser as well), all about the
    six municipalities; the first carries figures (a table in the mail) when asked."""
    from service.db.models import Item, item_municipalities, item_topics
    from service.db.reference import Topic

    ids = []
    async with runtime.db.transaction() as s:
        topics = dict((await s.execute(select(Topic.slug, Topic.id))).all())
        for k in range(n):
            figures = first_figures and k == 0
            item = Item(kind="figures" if figures else "news",
                        title="Ledigheden faldt i september" if figures else f"Nyt fra Beskæftigelsesrådet nr. {k}{tag}",
                        summary=SUMMARY * 2, summary_html="", link=f"https://example.dk/nyt/{tag}{k}",
                        urgent=False, data=figures_data() if figures else None, content_hash=f"{tag}{k}",
                        published_at=NOW, created_at=NOW, updated_at=NOW, revision=1, matched_revision=0,
                        announce_revision=False)
            s.add(item)
            await s.flush()
            rows = [{"item_id": item.id, "topic_id": topics["ledighedstal"]}]
            if k % 3 == 1:
                rows.append({"item_id": item.id, "topic_id": topics["analyser"]})
            await s.execute(insert(item_topics), rows)
            await s.execute(insert(item_municipalities), [{"item_id": item.id, "municipality_code": m} for m in MUNIS])
            ids.append(item.id)
    return ids


async def queue_digests(runtime, n: int) -> None:
    """`n` daily subscribers, 10 items matched (the first a figures table), one digest each queued."""
    from service.digests.run import run_digest
    from service.matching.match import match_pending_items

    await add_subscribers(runtime, n)
    await add_items(runtime, 10)
    await match_pending_items(runtime)
    queued = await run_digest(runtime, "daily", "2026-11-23")
    assert queued == n, f"{queued} digests queued for {n} subscribers"


async def add_newsletter(runtime, body_md: str, *, topics: list[str]) -> int:
    """A newsletter to the subscribers of `topics`, due now (the release job sends it)."""
    from service.campaigns.compose import CampaignForm, create_campaign
    from service.campaigns.schedule import schedule

    async with runtime.db.transaction() as s:
        cid = await create_campaign(s, CampaignForm(
            kind="newsletter", title="Best Practice nr. 12 – jobcentre, der lykkes", lead="Tre ting, der virker.",
            body_md=body_md, topics=topics, contact_name="Mette Madsen", contact_email="mette@example.dk",
            contact_phone="+45 12 34 56 78", focus="Langtidsledighed"), now=NOW, templates_root=runtime.templates.root)
        await schedule(s, cid, scheduled_at=NOW, embargo_until=None, now=NOW)
    return cid


def python() -> str:
    return sys.executable
