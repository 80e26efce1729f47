"""Admin: subscribers (search; one subscriber's page; edit, block, unblock, delete)."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from service.audit import record_request
from service.errors import Invalid
from service.staff.auth import require_role
from service.web.keys import RUNTIME
from service.web.admin._common import page as render
from service.web.admin.flash import redirect
from service.web.admin.nav import NavLink, add
from subscribers import directory

def _search(q) -> directory.Search:
    page = str(q.get("side", "1"))
    return directory.Search(q=str(q.get("q", ""))[:200], status=str(q.get("status", "")), topic=str(q.get("topic", "")),
                            municipality=str(q.get("municipality", "")), audience=str(q.get("audience", "")),
                            page=int(page) if page.isdigit() else 1)


async def index(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    f = _search(request.query)
    async with runtime.db.reader() as s:
        rows, total = await directory.search(s, f)
        opts = await directory.choices(s)
    base = {k: v for k, v in vars(f).items() if v and k != "page"}
    more = f.page * directory.PAGE < total
    return render(request, "admin/subscribers/index.html", {
        "f": f, "rows": rows, "total": total, "opts": opts, "export_query": urlencode(base),
        "next_page": urlencode(base | {"side": f.page + 1}) if more else "",
    })


async def _show(request: web.Request, sub_id: int, message: str = "", errors: dict | None = None,
                status: int = 200) -> web.Response:
    runtime = request.app[RUNTIME]
    async with runtime.db.reader() as s:
        sub = await directory.detail(s, sub_id)
        opts = await directory.choices(s)
    return render(request, "admin/subscribers/show.html", {
        "sub": sub, "opts": opts, "message": message, "errors": errors or {},
    }, status=status)


async def show(request: web.Request) -> web.Response:
    return await _show(request, int(request.match_info["id"]))


async def save(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    sub_id = int(request.match_info["id"])
    data = await request.post()
    form = directory.SubscriberEdit(
        name=str(data.get("name", "")), organisation=str(data.get("organisation", "")),
        language=str(data.get("language", "da")), frequency=str(data.get("frequency", "immediate")),
        audience=str(data.get("audience", "")), topics=[str(v) for v in data.getall("topics", [])],
        municipalities=[str(v) for v in data.getall("municipalities", [])])
    try:
        async with runtime.db.transaction() as s:
            changes = await directory.edit(s, sub_id, form, by=request["user"].email, now=runtime.clock.now(),
                                           consent_version=runtime.settings.subscribers.consent_version)
            await record_request(s, request, "subscriber.edit", f"subscriber:{sub_id}", {"changed": sorted(changes)})
    except Invalid as exc:
        return await _show(request, sub_id, exc.message, exc.fields, status=422)
    raise redirect(f"/admin/subscribers/{sub_id}", "subscriber-saved")


async def block(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    sub_id = int(request.match_info["id"])
    data = await request.post()
    blocked = data.get("action") != "unblock"
    async with runtime.db.transaction() as s:
        status = await directory.set_blocked(s, sub_id, blocked, now=runtime.clock.now())
        await record_request(s, request, "subscriber.block" if blocked else "subscriber.unblock", f"subscriber:{sub_id}",
                             {"status": status})
    raise web.HTTPSeeOther(f"/admin/subscribers/{sub_id}")


async def remove(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    sub_id = int(request.match_info["id"])
    data = await request.post()
    if data.get("confirm") != "1":
        return await _show(request, sub_id, "Sæt kryds for at bekræfte, at abonnenten skal slettes.", status=422)
    async with runtime.db.transaction() as s:
        await directory.erase(s, sub_id, by=request["user"].email, now=runtime.clock.now())
        await record_request(s, request, "subscriber.delete", f"subscriber:{sub_id}")
    raise redirect("/admin/subscribers", "subscriber-deleted")


def setup(app: web.Application) -> None:
    add(app, NavLink("/admin/subscribers", "Abonnenter", ("admin",), 40))
    admins = require_role("admin")
    app.router.add_get("/admin/subscribers", admins(index))
    app.router.add_get("/admin/subscribers/{id:\\d+}", admins(show))
    app.router.add_post("/admin/subscribers/{id:\\d+}", admins(save))
    app.router.add_post("/admin/subscribers/{id:\\d+}/block", admins(block))
    app.router.add_post("/admin/subscribers/{id:\\d+}/delete", admins(remove))
