"""Admin: sources (add, edit, enable/disable, poll now, test fetch, health at a glance)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from service.audit import record_request
from service.db.models import ITEM_KINDS
from service.errors import DomainError, Invalid
from service.sources import admin as sources
from service.sources.fetch import FetchError
from service.sources.parse import FeedRejected
from service.sources.poll import poll_source
from service.sources.preview import test_fetch
from service.sources.statbank import StatbankError
from service.staff.auth import require_role
from service.web.keys import RUNTIME
from service.db.reference import Topic
from service.web.admin._common import page as render
from service.web.admin.flash import redirect
from service.web.admin.nav import NavLink, add

HEALTH_CLASS = {"ok": "good", "failing": "bad"}  # the badge's colour; the words come from labels.toml


def _form(data) -> sources.SourceForm:
    interval = str(data.get("interval_minutes", "30")).strip()
    return sources.SourceForm(name=str(data.get("name", "")), kind=str(data.get("kind", "feed")),
                              url=str(data.get("url", "")), item_kind=str(data.get("item_kind", "news")),
                              topics=[str(t) for t in data.getall("topics", [])],
                              interval_minutes=int(interval) if interval.isdigit() else 0, table=str(data.get("table", "")))


async def _ctx(request, s) -> dict:
    topics = (await s.execute(select(Topic.slug, Topic.name_da).where(Topic.retired.is_(False)).order_by(Topic.position))).all()
    return {"topics": [dict(t._mapping) for t in topics], "item_kinds": ITEM_KINDS, "kinds": sources.KINDS,
            "health_class": HEALTH_CLASS}


async def index(request: web.Request, message: str = "", errors: dict | None = None, typed: dict | None = None,
                status: int = 200) -> web.Response:
    runtime = request.app[RUNTIME]
    async with runtime.db.reader() as s:
        rows = await sources.list_sources(s)
        ctx = await _ctx(request, s)
    return render(request, "admin/sources/index.html", {"sources": rows, "message": message, "errors": errors or {},
                                                        "typed": typed or {}, **ctx}, status=status)


async def create(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    data = await request.post()
    slug = str(data.get("slug", ""))
    try:
        async with runtime.db.transaction() as s:
            sid = await sources.add_source(s, slug, _form(data), now=runtime.clock.now())
            await record_request(s, request, "source.add", f"source:{sid}", {"slug": slug, "url": str(data.get("url", ""))})
    except DomainError as exc:
        return await index(request, exc.message, getattr(exc, "fields", {}), dict(data), status=exc.status)
    raise web.HTTPSeeOther(f"/admin/sources/{sid}")


async def _show(request: web.Request, *, message: str = "", errors: dict | None = None, report=None,
                previews=None, preview_error: str = "", status: int = 200) -> web.Response:
    runtime = request.app[RUNTIME]
    async with runtime.db.reader() as s:
        src = sources.view(await sources.get_source(s, int(request.match_info["id"])))
        ctx = await _ctx(request, s)
    return render(request, "admin/sources/show.html", {
        "src": src, "message": message, "errors": errors or {}, "report": report, "previews": previews,
        "preview_error": preview_error, **ctx}, status=status)


async def show(request: web.Request) -> web.Response:
    return await _show(request)


async def save(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    sid = int(request.match_info["id"])
    data = await request.post()
    try:
        async with runtime.db.transaction() as s:
            changes = await sources.edit_source(s, sid, _form(data))
            await record_request(s, request, "source.edit", f"source:{sid}", changes)
    except Invalid as exc:
        return await _show(request, message=exc.message, errors=exc.fields, status=422)
    raise redirect(f"/admin/sources/{sid}", "source-saved")


async def toggle(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    sid = int(request.match_info["id"])
    enabled = (await request.post()).get("action") == "enable"
    async with runtime.db.transaction() as s:
        slug = await sources.set_enabled(s, sid, enabled, now=runtime.clock.now())
        await record_request(s, request, "source.enable" if enabled else "source.disable", f"source:{sid}", {"slug": slug})
    raise web.HTTPSeeOther(f"/admin/sources/{sid}")


async def poll_now(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    sid = int(request.match_info["id"])
    report = await poll_source(runtime, sid)
    async with runtime.db.transaction() as s:
        await record_request(s, request, "source.poll", f"source:{sid}", {"result": report.summary()})
    return await _show(request, report=report)


async def test(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    try:
        previews = await test_fetch(runtime, int(request.match_info["id"]))
    except (FetchError, FeedRejected, StatbankError, ValueError) as exc:
        return await _show(request, previews=[], preview_error=str(exc))
    return await _show(request, previews=previews)


def setup(app: web.Application) -> None:
    add(app, NavLink("/admin/sources", "Kilder", ("admin",), 60))
    admins = require_role("admin")
    app.router.add_get("/admin/sources", admins(index))
    app.router.add_post("/admin/sources", admins(create))
    app.router.add_get("/admin/sources/{id:\\d+}", admins(show))
    app.router.add_post("/admin/sources/{id:\\d+}", admins(save))
    app.router.add_post("/admin/sources/{id:\\d+}/enabled", admins(toggle))
    app.router.add_post("/admin/sources/{id:\\d+}/poll", admins(poll_now))
    app.router.add_post("/admin/sources/{id:\\d+}/test", admins(test))
