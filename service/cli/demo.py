"""`budbringer demo`: the whole service on a fresh machine, no network needed.

- SQLite in `var/`, a generated secret key in `var/secret`.
- The bundled sample feeds and StatBank answers (`service/data/samples/`) served by a
  small local server on 127.0.0.1, watched as ordinary sources.
- A few confirmed demo subscribers and an admin user, admin@example.dk, whose password is
  kept in `var/admin-password` (shown with the login at every start;
  `budbringer demo --reset-password` makes a new one).
- Mail written as .eml files to `var/outbox/`.

Other `budbringer` commands run in the same directory find the demo by itself (no
config.toml, and the secret in `var/secret`: see `service.cli.common`).
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
from service.cli.run import serve, stop_on_signals
from service.db.migrate import upgrade
from service.paths import DEMO_DIR, DEMO_SECRET, SAMPLES
from service.settings import ConfigError, load_settings

log = logging.getLogger("budbringer.demo")

ADMIN_EMAIL = "admin@example.dk"
PASSWORD_FILE = DEMO_DIR / "admin-password"

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
    path = DEMO_SECRET
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


async def _seed(runtime) -> None:
    """Demo subscribers (confirmed) and the admin user (its password in var/admin-password)."""
    from service.db.reference import Audience, Municipality, Topic
    from subscribers.models import Subscriber
    from service.db.models import User
    from service.db.releases import ReleaseEntry
    from service.releases.calendar import import_calendar, parse_calendar

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
        if not await s.scalar(select(func.count()).select_from(ReleaseEntry)):  # a sample release calendar
            tz, cfg = runtime.settings.service.tz(), runtime.settings.calendar
            await import_calendar(s, parse_calendar((SAMPLES / "release-calendar.toml").read_bytes(), tz, cfg), now)
        if await s.scalar(select(func.count()).select_from(User)):
            return
    await reset_password(runtime)


async def reset_password(runtime) -> str:
    """A new password for the demo admin (made if missing), kept in var/admin-password."""
    from service.staff.auth import set_password
    from service.staff.users import add_user
    from service.db.models import User

    password = secrets.token_urlsafe(12)
    async with runtime.db.transaction() as s:
        user_id = await s.scalar(select(User.id).where(User.email == ADMIN_EMAIL))
        if user_id is None:
            await add_user(s, ADMIN_EMAIL, role="admin", password=password, name="Demo admin", now=runtime.clock.now())
        else:
            await set_password(s, user_id, password)  # ends the admin's sessions
    PASSWORD_FILE.write_text(password + "\n", encoding="utf-8")
    PASSWORD_FILE.chmod(0o600)
    return password


async def login_line(runtime) -> str:
    """Where to log in and where the password is; says so when the kept one no longer works."""
    from service.db.models import User
    from service.staff.passwords import verify_password

    admin = f"{runtime.settings.service.base_url}/admin/"
    reset = "`budbringer demo --reset-password` makes a new one"
    async with runtime.db.reader() as s:
        hashed = await s.scalar(select(User.password_hash).where(User.email == ADMIN_EMAIL))
    if not PASSWORD_FILE.exists() or hashed is None:
        return f"Admin: {admin}  There is no kept demo admin password; {reset}."
    kept = PASSWORD_FILE.read_text(encoding="utf-8").strip()
    if not await asyncio.to_thread(verify_password, hashed, kept):
        return f"Admin: {admin}  The password in {PASSWORD_FILE} was changed since; {reset}."
    return f"Admin: {admin}  Log in as {ADMIN_EMAIL}, password in {PASSWORD_FILE} ({kept})."


async def run_demo(args) -> int:
    from service.wiring import build_runtime

    # No keep-alive: an idle connection from the last poll would still be open at the stop.
    runner = web.AppRunner(_sample_app(), access_log=None, keepalive_timeout=0)
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
        await _seed(runtime)
        if args.reset_password:
            password = await reset_password(runtime)
            print(f"New password for {ADMIN_EMAIL}: {password} (kept in {PASSWORD_FILE}); "
                  f"their sessions have ended. Log in at {settings.service.base_url}/admin/")
            return 0
        if args.once:
            return await _once(runtime)
        # A first round at once, so the sample items are in var/outbox within seconds of
        # starting (the scheduler's own poll comes round only after its interval).
        news = await _first_round(runtime)
        print(f"\nBudbringer demo: {settings.service.base_url}/")
        print(await login_line(runtime))
        print(f"{news} Ctrl-C stops.\n")
        stop = asyncio.Event()
        stop_on_signals(stop)
        await serve(runtime, {"web", "worker", "scheduler"}, stop)
        return 0
    finally:
        await runtime.close()
        await runner.cleanup()


async def _counts(runtime) -> tuple[int, int]:
    from service.db.models import Delivery, Item

    async with runtime.db.reader() as s:
        return (await s.scalar(select(func.count()).select_from(Item)) or 0,
                await s.scalar(select(func.count()).select_from(Delivery)) or 0)


async def _first_round(runtime) -> str:
    """Register the sample sources, poll those due and match what came; say what happened."""
    from service.db.models import Source
    from service.matching.match import match_pending_items
    from service.render.formatting import datetime_local
    from service.scheduler import figures_drafts
    from service.sources.poll import poll_due_sources
    from service.sources.registry import sync_configured_sources

    await sync_configured_sources(runtime)
    items, mails = await _counts(runtime)
    polled = await poll_due_sources(runtime)
    await match_pending_items(runtime)
    await figures_drafts(runtime)  # as the scheduler does after matching
    new_items, new_mails = (after - before for after, before in zip(await _counts(runtime), (items, mails)))
    outbox = runtime.settings.mail.outbox_dir
    kept = f"The mail so far is in {outbox}/ ({len(list(outbox.glob('*.eml')))} .eml files)."
    if new_items or new_mails:
        return (f"Read {polled} sample sources: {new_items} new items, {new_mails} messages queued; "
                f"the worker writes them to {outbox}/ as .eml files now.")
    if polled:
        return f"Read the {polled} sample sources again: nothing new. {kept}"
    async with runtime.db.reader() as s:
        last = await s.scalar(select(func.max(Source.last_polled_at)).where(Source.kind.in_(("feed", "statbank"))))
    when = datetime_local(last, runtime.settings.service.tz(), lang="en") if last else "the first start"
    return (f"The samples were already read ({when}) and are not due again yet, so there is nothing new. {kept}")


async def _once(runtime) -> int:
    """Poll every source, match, build today's digest, send everything, and report."""
    from service.delivery.worker import Worker
    from service.digests.run import run_digest

    news = await _first_round(runtime)
    digests = await run_digest(runtime, "daily")
    sent = await Worker(runtime).drain()
    outbox = runtime.settings.mail.outbox_dir
    print(f"{news}\nQueued {digests} digests; sent {sent} messages.")
    for path in sorted(outbox.glob("*.eml"))[-10:]:
        print(f"  {path}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("demo", help="run on SQLite with bundled sample sources served locally; mail to .eml files")
    p.add_argument("--port", type=int, default=8080, help="web port (default 8080)")
    p.add_argument("--once", action="store_true", help="poll, match, send once, print what happened and exit")
    p.add_argument("--reset-password", action="store_true",
                   help="give the demo admin (admin@example.dk) a new password, keep it in var/admin-password, exit")
    p.set_defaults(func=run_demo)
