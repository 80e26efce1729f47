"""Admin: the overview (admins and editors) and the retry of failed deliveries (admins)."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from service.audit import record_request
from service.dashboard import overview, retry_failed
from service.staff.auth import current_user, require_role
from service.web.keys import RUNTIME
from service.web.templating import render

KIND_LABELS = {"confirm": "Bekræftelse", "welcome": "Velkomst", "manage": "Link til indstillinger", "alert": "Besked",
               "digest": "Samlet mail", "press_release": "Pressemeddelelse", "newsletter": "Nyhedsbrev",
               "notice": "Meddelelse", "export": "Eksport", "test": "Test", "email_change": "Ny adresse"}


async def index(request: web.Request) -> web.Response:
    if request["user"].role == "press":
        raise web.HTTPSeeOther("/admin/campaigns")
    runtime = request.app[RUNTIME]
    tz = runtime.settings.service.tz()
    async with runtime.db.reader() as s:
        view = await overview(s, runtime.clock.now())
    fmt = lambda dt: dt.astimezone(tz).strftime("%d.%m.%Y %H.%M") if dt else ""  # noqa: E731
    return render(request, "admin/dashboard.html", {
        "o": view, "fmt": fmt, "kind_labels": KIND_LABELS,
        "flash": f"{request.query['igen']} fejlede forsendelser er sat i kø igen." if request.query.get("igen", "").isdigit() else "",
    })


async def retry(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    form = await request.post()
    now = runtime.clock.now()
    ids = [int(v) for v in form.getall("id", []) if str(v).isdigit()] or None
    async with runtime.db.transaction() as s:
        n = await retry_failed(s, now, ids=ids, since=None if ids else now - timedelta(days=7))
        await record_request(s, request, "delivery.retry", "deliveries", {"count": n, "ids": ids or "all from last week"})
    raise web.HTTPSeeOther(f"/admin/?igen={n}")


async def root_redirect(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/admin/" if await current_user(request) else "/admin/login")


def setup(app: web.Application) -> None:
    app.router.add_get("/admin", root_redirect)
    app.router.add_get("/admin/", require_role()(index))
    app.router.add_post("/admin/deliveries/retry", require_role("admin")(retry))
