"""Admin: the overview (admins and editors) and the retry of failed deliveries (admins)."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from service.audit import record_request
from service.dashboard import overview, retry_failed
from service.staff.auth import current_user, require_role
from service.web.keys import RUNTIME
from service.web.admin._common import page as render
from service.web.admin.flash import redirect
from service.web.admin.nav import NavLink, add

async def index(request: web.Request) -> web.Response:
    if request["user"].role == "press":
        raise web.HTTPSeeOther("/admin/campaigns")
    runtime = request.app[RUNTIME]
    async with runtime.db.reader() as s:
        view = await overview(s, runtime.clock.now())
    return render(request, "admin/dashboard.html", {"o": view})


async def retry(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    form = await request.post()
    now = runtime.clock.now()
    ids = [int(v) for v in form.getall("id", []) if str(v).isdigit()] or None
    async with runtime.db.transaction() as s:
        n = await retry_failed(s, now, ids=ids, since=None if ids else now - timedelta(days=7))
        await record_request(s, request, "delivery.retry", "deliveries", {"count": n, "ids": ids or "all from last week"})
    raise redirect("/admin/", "retried", n)


async def root_redirect(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/admin/" if await current_user(request) else "/admin/login")


def setup(app: web.Application) -> None:
    add(app, NavLink("/admin/", "Overblik", ("admin", "editor"), 10))
    app.router.add_get("/admin", root_redirect)
    app.router.add_get("/admin/", require_role()(index))
    app.router.add_post("/admin/deliveries/retry", require_role("admin")(retry))
