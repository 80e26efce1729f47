"""Admin: log in, log out, change one's own password."""

from __future__ import annotations

from aiohttp import web

from service.audit import record, record_request
from service.db.models import User
from service.staff import auth
from service.staff.passwords import verify_async
from service.web.client import client_ip
from service.web.keys import RUNTIME
from service.web.middleware import CSRF_COOKIE
from service.web.templating import render


def _safe_next(value: object) -> str:
    target = str(value or "")
    if not target.startswith("/admin") or target.startswith("//") or "\\" in target or target.startswith("/admin/log"):
        return "/admin/"
    return target


async def login_form(request: web.Request) -> web.Response:
    if await auth.current_user(request) is not None:
        raise web.HTTPSeeOther(_safe_next(request.query.get("next")))
    notice = "Din adgangskode er skiftet. Log ind igen." if "skiftet" in request.query else ""
    return render(request, "admin/login.html", {"next": _safe_next(request.query.get("next")), "email": "",
                                                "message": "", "notice": notice},
                  headers={"Cache-Control": "no-store"})


async def login_submit(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    form = await request.post()
    email, password = str(form.get("email", ""))[:320], str(form.get("password", ""))[:1024]
    nxt = _safe_next(form.get("next"))
    ip = client_ip(request)
    result = await auth.login(runtime, email, password, ip)
    if result.user is None:
        return render(request, "admin/login.html", {"next": nxt, "email": email, "message": auth.LOGIN_REFUSED,
                                                    "notice": ""}, status=401, headers={"Cache-Control": "no-store"})
    async with runtime.db.transaction() as s:
        await record(s, actor=result.user.email, user_id=result.user.id, action="login", ip=ip, now=runtime.clock.now())
    response = web.Response(status=303, headers={"Location": nxt, "Cache-Control": "no-store"})
    auth.set_session_cookie(response, runtime, result.token)
    # A fresh CSRF token for the new session (a token planted before login is worth nothing after it).
    response.set_cookie(CSRF_COOKIE, result.csrf_token, httponly=True, samesite="Lax", path="/",
                        secure=auth.cookie_secure(runtime))
    return response


async def logout(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    user = await auth.current_user(request)
    token = request.cookies.get(auth.SESSION_COOKIE, "")
    if token:
        await auth.end_session(runtime, token)
    if user is not None:
        async with runtime.db.transaction() as s:
            await record_request(s, request, "logout")
    response = web.Response(status=303, headers={"Location": "/admin/login"})
    auth.clear_session_cookie(response, runtime)
    return response


async def password_form(request: web.Request) -> web.Response:
    return render(request, "admin/password.html", {"message": ""})


async def password_submit(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    me = request["user"]
    form = await request.post()
    current, new, repeat = (str(form.get(k, ""))[:1024] for k in ("current", "password", "repeat"))
    async with runtime.db.reader() as s:
        stored = await s.get(User, me.id)
    problem = ""
    if stored is None or not await verify_async(stored.password_hash, current):
        problem = "Den nuværende adgangskode er forkert."
    elif new != repeat:
        problem = "De to nye adgangskoder er ikke ens."
    if not problem:
        from service.errors import Invalid

        try:
            async with runtime.db.transaction() as s:
                await auth.set_password(s, me.id, new)
                await record_request(s, request, "user.password", f"user:{me.id}")
        except Invalid as exc:
            problem = exc.message
    if problem:
        return render(request, "admin/password.html", {"message": problem}, status=422)
    response = web.Response(status=303, headers={"Location": "/admin/login?skiftet=1"})
    auth.clear_session_cookie(response, runtime)
    return response


def setup(app: web.Application) -> None:
    any_staff = auth.require_role()
    app.router.add_get("/admin/login", login_form)
    app.router.add_post("/admin/login", login_submit)
    app.router.add_post("/admin/logout", logout)
    app.router.add_get("/admin/password", any_staff(password_form))
    app.router.add_post("/admin/password", any_staff(password_submit))
