"""`budbringer demo`: the whole service on a fresh machine, no network needed.

- SQLite in `var/`, a generated secret key in `var/secret`.
- The bundled sample feeds and StatBank answers (`service/data/samples/`) served by a
  small local server on 127.0.0.1, watched as ordinary sources.
- A few confirmed demo subscribers and an admin user (password printed once).
- Mail written as .eml files to `var/outbox/`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from sqlalchemy import func, select

from service.cli.common import print_problems
from service.db.migrate import upgrade
from service.paths import SAMPLES
from service.settings import ConfigError, load_settings

log = logging.getLogger("budbringer.demo")

DEMO_DIR = Path("var")

# (email, name, audience slug, frequency, topic slugs, municipality codes)
DEMO_SUBSCRIBERS = [
    ("jobcenter.aarhus@example.dk", "Jobcenter Aarhus", "jobcenter", "immediate",
     ["ledighedstal", "retningslinjer", "best-practice", "analyser"], ["751"]),
    ("udvalg.viborg@example.dk", "Anne Madsen", "politiker", "daily", ["ledighedstal", "analyser", "resultater"], ["791"]),
    ("redaktion@example.dk", "Lokalavisen", "presse", "immediate", ["ledighedstal", "presse"], []),
]


def _sample_app() -> web.Application:
    """Feeds as files; StatBank's tableinfo and data calls answered from the fixtures."""
    statbank = SAMPLES / "statbank"
    release = "2026M10"

    def table(request: web.Request) -> str:
        name = request.match_info.get("table", "AUL01")
        return name if name in ("AUL01", "AUP01") else "AUL01"

    async def tableinfo(request: web.Request) -> web.Response:
        return web.FileResponse(statbank / f"tableinfo-{table(request)}-{release}.json",
                                headers={"Content-Type": "application/json"})

    async def data(request: web.Request) -> web.Response:
        body = (statbank / f"data-{table(request)}-{release}.csv").read_bytes()
        return web.Response(body=body, content_type="text/csv", charset="utf-8")

    app = web.Application()
    app.router.add_static("/feeds/", SAMPLES / "feeds")
    for method in ("GET", "POST"):
        app.router.add_route(method, "/v1/tableinfo/{table}", tableinfo)
        app.router.add_route(method, "/v1/tableinfo", tableinfo)
        app.router.add_route(method, "/v1/data/{table}/{fmt}", data)
        app.router.add_route(method, "/v1/data", data)
    return app


def _secret() -> str:
    path = DEMO_DIR / "secret"
    if not path.exists():
        DEMO_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def demo_settings(config: Path, sample_port: int, web_port: int):
    base = f"http://127.0.0.1:{sample_port}"
    feed = lambda slug, name, file, kind, topics: {  # noqa: E731
        "slug": slug, "name": name, "kind": "feed", "url": f"{base}/feeds/{file}",
        "item_kind": kind, "topics": topics, "interval_minutes": 5,
    }
    return load_settings(
        config if config.exists() else None,
        service={"secret_key": _secret(), "base_url": f"http://127.0.0.1:{web_port}", "data_dir": str(DEMO_DIR)},
        database={"url": f"sqlite+aiosqlite:///{DEMO_DIR}/budbringer.db"},
        web={"host": "127.0.0.1", "port": web_port},
        mail={"transport": "file", "outbox_dir": str(DEMO_DIR / "outbox")},
        fetch={"allow_networks": ["127.0.0.1/32"]},
        sources=[
            feed("nyheder", "Nyheder fra Beskæftigelsesrådet", "nyheder.rss.xml", "news", []),
            feed("retningslinjer", "Retningslinjer for jobcentrene", "retningslinjer.atom.xml", "guideline", ["retningslinjer"]),
            feed("best-practice", "Best Practice", "best-practice.rss.xml", "best_practice", ["best-practice"]),
            {"slug": "ledighed", "name": "Ledighedstal (Danmarks Statistik, AUL01)", "kind": "statbank",
             "url": f"{base}/v1", "table": "AUL01", "item_kind": "figures", "topics": ["ledighedstal"],
             "interval_minutes": 15},
            {"slug": "ledighed-pct", "name": "Ledighed i procent (Danmarks Statistik, AUP01)", "kind": "statbank",
             "url": f"{base}/v1", "table": "AUP01", "item_kind": "figures", "topics": ["ledighedstal"],
             "interval_minutes": 15},
        ],
    )


async def _seed(runtime) -> str | None:
    """Demo subscribers (confirmed) and an admin user; returns the admin password when made now."""
    from service.db.reference import Audience, Municipality, Topic
    from subscribers.models import Subscriber
    from service.db.models import User

    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        if not await s.scalar(select(func.count()).select_from(Subscriber)):
            topics = {t.slug: t for t in (await s.scalars(select(Topic))).all()}
            audiences = {a.slug: a for a in (await s.scalars(select(Audience))).all()}
            munis = {m.code: m for m in (await s.scalars(select(Municipality))).all()}
            for email, name, audience, freq, topic_slugs, codes in DEMO_SUBSCRIBERS:
                sub = Subscriber(
                    email=email, name=name, audience_id=audiences[audience].id if audience in audiences else None,
                    frequency=freq, language="da", status="active", created_at=now - timedelta(days=30),
                    confirmed_at=now - timedelta(days=30),
                )
                sub.topics = [topics[t] for t in topic_slugs if t in topics]
                sub.municipalities = [munis[c] for c in codes]
                s.add(sub)
        if await s.scalar(select(func.count()).select_from(User)):
            return None
    try:
        from service.staff.passwords import hash_password
    except ImportError:
        return None
    password = secrets.token_urlsafe(12)
    async with runtime.db.transaction() as s:
        s.add(User(email="admin@example.dk", name="Demo admin", role="admin",
                   password_hash=hash_password(password), created_at=now))
    return password


async def run_demo(args) -> int:
    from service.cli.run import _stop_on_signals, serve
    from service.wiring import build_runtime

    runner = web.AppRunner(_sample_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sample_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        settings = demo_settings(args.config, sample_port, args.port)
    except ConfigError as exc:
        print_problems(exc.problems)
        return 2
    runtime = build_runtime(settings)
    try:
        await upgrade(runtime.db)
        password = await _seed(runtime)
        if args.once:
            return await _once(runtime)
        # A first round at once, so the sample items are in var/outbox within seconds of
        # starting (the scheduler's own poll comes round only after its interval).
        polled, matched = await _first_round(runtime)
        print(f"\nBudbringer demo: http://127.0.0.1:{args.port}/  (admin: http://127.0.0.1:{args.port}/admin/)")
        if password:
            print(f"Admin login: admin@example.dk / {password}  (shown once)")
        print(f"Polled {polled} sample sources and matched {matched} items: the worker writes their mail to "
              f"{settings.mail.outbox_dir}/ as .eml files now. Ctrl-C stops.\n")
        stop = asyncio.Event()
        _stop_on_signals(stop)
        await serve(runtime, {"web", "worker", "scheduler"}, stop)
        return 0
    finally:
        await runtime.close()
        await runner.cleanup()


async def _first_round(runtime) -> tuple[int, int]:
    """Register the sample sources, poll them and match what came: (sources polled, items matched)."""
    from service.matching.match import match_pending_items
    from service.sources.poll import poll_due_sources
    from service.sources.registry import sync_configured_sources

    await sync_configured_sources(runtime)
    polled = await poll_due_sources(runtime)
    return polled, await match_pending_items(runtime)


async def _once(runtime) -> int:
    """Poll every source, match, build today's digest, send everything, and report."""
    from service.delivery.worker import Worker
    from service.digests.run import run_digest

    polled, matched = await _first_round(runtime)
    digests = await run_digest(runtime, "daily")
    sent = await Worker(runtime).drain()
    outbox = runtime.settings.mail.outbox_dir
    print(f"polled {polled} sources, matched {matched} items, queued {digests} digests, sent {sent} messages")
    for path in sorted(outbox.glob("*.eml"))[-10:]:
        print(f"  {path}")
    return 0
