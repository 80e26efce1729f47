"""Admin: staff users and roles (admins only)."""

from __future__ import annotations

from aiohttp import web

from service.audit import record_request
from service.errors import DomainError
from service.staff.auth import ROLES, require_role
from service.staff.users import add_user, list_users, update_user
from service.web.keys import RUNTIME
from service.web.admin._common import page as render
from service.web.admin.flash import redirect
from service.web.admin.nav import NavLink, add


async def _page(request: web.Request, message: str = "", status: int = 200, typed: dict | None = None) -> web.Response:
    runtime = request.app[RUNTIME]
    async with runtime.db.reader() as s:
        users = await list_users(s)
    view = [{"id": u.id, "email": u.email, "name": u.name, "role": u.role, "active": u.active,
             "failed": u.failed_logins,
             "last_login": u.last_login_at}
            for u in users]
    return render(request, "admin/users.html", {"users": view, "roles": ROLES,
                                                "message": message, "typed": typed or {}}, status=status)


async def index(request: web.Request) -> web.Response:
    return await _page(request)


async def create(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    form = await request.post()
    email, role, name, password = (str(form.get(k, "")) for k in ("email", "role", "name", "password"))
    try:
        async with runtime.db.transaction() as s:
            uid = await add_user(s, email, role=role, password=password, name=name, now=runtime.clock.now())
            await record_request(s, request, "user.add", f"user:{uid}", {"email": email.strip().lower(), "role": role})
    except DomainError as exc:
        return await _page(request, exc.message, status=422, typed={"email": email, "name": name, "role": role})
    raise redirect("/admin/users", "user-added")


async def change(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    uid = int(request.match_info["id"])
    form = await request.post()
    role, active, name = str(form.get("role", "")), form.get("active") == "1", str(form.get("name", ""))
    try:
        async with runtime.db.transaction() as s:
            await update_user(s, uid, role=role, active=active, name=name)
            await record_request(s, request, "user.change", f"user:{uid}", {"role": role, "active": active})
    except DomainError as exc:
        return await _page(request, exc.message, status=exc.status)
    raise redirect("/admin/users", "user-saved")


def setup(app: web.Application) -> None:
    add(app, NavLink("/admin/users", "Brugere", ("admin",), 80))
    admins = require_role("admin")
    app.router.add_get("/admin/users", admins(index))
    app.router.add_post("/admin/users", admins(create))
    app.router.add_post("/admin/users/{id:\\d+}", admins(change))
