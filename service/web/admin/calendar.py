"""Admin: the release calendar (admins and press officers): expected StatBank releases, added,
moved, deleted, or imported from a calendar file (service.releases.calendar)."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from service.audit import record_request
from service.campaigns.times import to_local_input
from service.errors import DomainError, Invalid
from service.releases import calendar
from service.releases.published import release_view
from service.staff.auth import require_role
from service.web.admin.flash import redirect
from service.web.admin.nav import NavLink, add
from service.web.keys import RUNTIME
from service.web.templating import render

ROLES = ("admin", "press")
SHOWN_DAYS = 60
MAX_FILE = 200_000


def _form(request: web.Request, data) -> calendar.EntryForm:
    runtime = request.app[RUNTIME]
    try:
        return calendar.checked(data.get("period"), data.get("tables"), data.get("at"), data.get("follow_up"),
                                data.get("follow_up_at") or None, runtime.settings.service.tz(), runtime.settings.calendar)
    except ValueError as exc:
        field = "period" if "period" in str(exc) else "tables" if "tabel" in str(exc) else "at"
        raise Invalid(f"Ret feltet: {exc}.", {field: str(exc)}) from None


def _typed_time(at, tz) -> str:
    return to_local_input(at, tz).replace("T", " ")


def _typed(data) -> dict:
    return {k: str(data.get(k, "")) for k in ("period", "tables", "at", "follow_up", "follow_up_at")}


async def index(request: web.Request, message: str = "", errors: dict | None = None, typed: dict | None = None,
                problems: list[str] | None = None, status: int = 200) -> web.Response:
    runtime = request.app[RUNTIME]
    now, tz, cfg = runtime.clock.now(), runtime.settings.service.tz(), runtime.settings.calendar
    async with runtime.db.reader() as s:
        rows = await calendar.entries(s, since=now - timedelta(days=SHOWN_DAYS))
    views = [(release_view(e, tz), e) for e in rows]
    return render(request, "admin/calendar/index.html", {
        "upcoming": [(v, e) for v, e in views if v.at >= now or not v.seen],
        "past": [(v, e) for v, e in views if v.at < now and v.seen][::-1],
        "message": message, "errors": errors or {}, "problems": problems or [], "cfg": cfg,
        "typed": typed or {"at": "", "follow_up": cfg.follow_up, "tables": "AUL01, AUP01"},
    }, status=status)


async def create(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    data = await request.post()
    try:
        form = _form(request, data)
        async with runtime.db.transaction() as s:
            eid = await calendar.add_entry(s, form, runtime.clock.now())
            await record_request(s, request, "release.add", f"release:{eid}",
                                 {"period": form.period, "tables": form.tables, "at": form.at.isoformat()})
    except DomainError as exc:
        return await index(request, exc.message, getattr(exc, "fields", {}), _typed(data), status=exc.status)
    raise redirect("/admin/calendar", "release-added")


async def import_file(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    data = await request.post()
    upload = data.get("file")
    body = upload.file.read(MAX_FILE + 1) if getattr(upload, "file", None) else str(data.get("text", "")).encode()
    if not body.strip():
        return await index(request, "Vælg en kalenderfil eller indsæt kalenderen som tekst.", status=422)
    if len(body) > MAX_FILE:
        return await index(request, f"Filen er større end {MAX_FILE // 1000} kB.", status=422)
    try:
        forms = calendar.parse_calendar(body, runtime.settings.service.tz(), runtime.settings.calendar)
        async with runtime.db.transaction() as s:
            counts = await calendar.import_calendar(s, forms, runtime.clock.now())
            await record_request(s, request, "release.import", "release_calendar", counts)
    except calendar.CalendarProblems as exc:
        return await index(request, "Kalenderen blev ikke indlæst; intet er gemt.", problems=exc.problems, status=422)
    except DomainError as exc:
        return await index(request, exc.message, status=exc.status)
    raise redirect("/admin/calendar", "calendar-imported", counts["added"] + counts["moved"] + counts["updated"])


async def show(request: web.Request, message: str = "", errors: dict | None = None, typed: dict | None = None,
               status: int = 200) -> web.Response:
    runtime = request.app[RUNTIME]
    tz = runtime.settings.service.tz()
    async with runtime.db.reader() as s:
        e = await s.get(calendar.ReleaseEntry, int(request.match_info["id"]))
    if e is None:
        raise web.HTTPNotFound(text="Udgivelsen findes ikke i kalenderen.")
    typed = typed or {"period": e.period, "tables": ", ".join(e.tables or []), "at": _typed_time(e.at, tz),
                      "follow_up": e.follow_up, "follow_up_at": _typed_time(e.follow_up_at, tz)}
    return render(request, "admin/calendar/show.html", {"r": release_view(e, tz), "e": e, "typed": typed,
                                                        "message": message, "errors": errors or {}}, status=status)


async def save(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    eid = int(request.match_info["id"])
    data = await request.post()
    deleting = data.get("action") == "delete"
    try:
        async with runtime.db.transaction() as s:
            if deleting:
                period = await calendar.delete_entry(s, eid)
                await record_request(s, request, "release.delete", f"release:{eid}", {"period": period})
            else:
                form = _form(request, data)
                changes = await calendar.update_entry(s, eid, form, runtime.clock.now())
                await record_request(s, request, "release.move" if "at" in changes else "release.edit",
                                     f"release:{eid}", changes or {"period": form.period})
    except DomainError as exc:
        return await show(request, exc.message, getattr(exc, "fields", {}), _typed(data), status=exc.status)
    raise redirect("/admin/calendar", "release-deleted" if deleting else "release-saved")


def setup(app: web.Application) -> None:
    staff = require_role(*ROLES)
    app.router.add_get("/admin/calendar", staff(index))
    app.router.add_post("/admin/calendar", staff(create))
    app.router.add_post("/admin/calendar/import", staff(import_file))
    app.router.add_get("/admin/calendar/{id:\\d+}", staff(show))
    app.router.add_post("/admin/calendar/{id:\\d+}", staff(save))
    add(app, NavLink("/admin/calendar", "Udgivelser", ROLES, 35))
