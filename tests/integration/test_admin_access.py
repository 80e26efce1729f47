"""Staff access over HTTP on the real app: login, slow-down and lockout with one message,
sessions that end on logout and on a password change, CSRF, roles, the audit trail."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import unquote

from sqlalchemy import select

from service.db.models import AuditEntry, StaffSession
from service.staff.auth import LOGIN_REFUSED, SESSION_COOKIE
from tests.admin_support import PASSWORD, csrf, log_in, make_user, new_client, staff_client


async def _audit(runtime) -> list[tuple[str, str, str]]:
    async with runtime.db.reader() as s:
        return [(a.actor, a.action, a.target) for a in (await s.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()]


async def test_item23_login_ok_and_wrong_password_look_alike_and_logout_ends_session(runtime, db_kind):
    await make_user(runtime, "ida@raadet.example", "admin")
    c = await new_client(runtime)
    try:
        r = await c.get("/admin/subscribers", allow_redirects=False)
        assert r.status == 303 and unquote(r.headers["Location"]) == "/admin/login?next=/admin/subscribers"

        wrong = await log_in(c, "ida@raadet.example", "forkert-kodeord")
        unknown = await log_in(c, "nobody@raadet.example", PASSWORD)
        for r in (wrong, unknown):
            assert r.status == 401
            assert LOGIN_REFUSED in await r.text()

        r = await log_in(c, "IDA@raadet.example ", PASSWORD)
        assert r.status == 303 and r.headers["Location"] == "/admin/"
        cookie = r.cookies[SESSION_COOKIE]
        assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/admin"
        page = await c.get("/admin/users")
        assert page.status == 200 and "ida@raadet.example" in await page.text()
        assert page.headers["Cache-Control"] == "no-store"
        token = cookie.value

        r = await c.post("/admin/logout", data={"csrf_token": csrf(c)}, allow_redirects=False)
        assert r.status == 303
        async with runtime.db.reader() as s:
            assert (await s.scalars(select(StaffSession))).all() == []
        # The old cookie value is worth nothing now, even if someone kept it.
        c.session.cookie_jar.update_cookies({SESSION_COOKIE: token}, c.make_url("/admin/"))
        r = await c.get("/admin/users", allow_redirects=False)
        assert r.status == 303 and r.headers["Location"].startswith("/admin/login")
    finally:
        await c.close()
    actions = [a[1] for a in await _audit(runtime)]
    assert actions == ["user.add", "login", "logout"] or actions == ["login", "logout"]


async def test_item23_slow_down_then_lockout_per_account_with_the_same_answer(runtime, db_kind):
    runtime.settings.staff.slowdown_after = 2
    runtime.settings.staff.slowdown_seconds = 10
    runtime.settings.staff.lockout_failures = 4
    await make_user(runtime, "ole@raadet.example", "press")
    c = await new_client(runtime)
    try:
        for _ in range(2):
            assert (await log_in(c, "ole@raadet.example", "gaet-igen-1234")).status == 401
        # Two failures: the next try within 10 s is not even checked, right password or not.
        r = await log_in(c, "ole@raadet.example", PASSWORD)
        assert r.status == 401 and LOGIN_REFUSED in await r.text()
        runtime.clock.advance(seconds=11)
        assert (await log_in(c, "ole@raadet.example", "gaet-igen-1234")).status == 401  # third real failure (4 counted)
        runtime.clock.advance(seconds=60)
        r = await log_in(c, "ole@raadet.example", PASSWORD)
        assert r.status == 401 and LOGIN_REFUSED in await r.text()  # locked: same words, same status
        runtime.clock.advance(timedelta(minutes=16))  # the failures age out of the window
        r = await log_in(c, "ole@raadet.example", PASSWORD)
        assert r.status == 303
    finally:
        await c.close()


async def test_item23_lockout_per_ip_covers_other_accounts(runtime, db_kind):
    runtime.settings.staff.ip_lockout_failures = 3
    runtime.settings.staff.slowdown_after = 50
    await make_user(runtime, "real@raadet.example", "editor")
    c = await new_client(runtime)
    try:
        for n in range(3):
            assert (await log_in(c, f"guess{n}@raadet.example", "abcdefghijk")).status == 401
        r = await log_in(c, "real@raadet.example", PASSWORD)
        assert r.status == 401 and LOGIN_REFUSED in await r.text()
    finally:
        await c.close()


async def test_item23_password_change_ends_every_session(runtime, db_kind):
    c1 = await staff_client(runtime, "mia@raadet.example", "editor")
    c2 = await new_client(runtime)
    try:
        assert (await log_in(c2, "mia@raadet.example")).status == 303
        r = await c1.post("/admin/password", data={"csrf_token": csrf(c1), "current": PASSWORD,
                                                    "password": "nyt-og-langt-kodeord", "repeat": "nyt-og-langt-kodeord"},
                          allow_redirects=False)
        assert r.status == 303 and r.headers["Location"] == "/admin/login?skiftet=1"
        for c in (c1, c2):
            r = await c.get("/admin/campaigns", allow_redirects=False)
            assert r.status == 303 and r.headers["Location"].startswith("/admin/login")
        assert (await log_in(c2, "mia@raadet.example")).status == 401
        assert (await log_in(c2, "mia@raadet.example", "nyt-og-langt-kodeord")).status == 303
    finally:
        await c1.close()
        await c2.close()
    assert ("mia@raadet.example", "user.password", "user:1") in await _audit(runtime) or any(
        a[1] == "user.password" and a[0] == "mia@raadet.example" for a in await _audit(runtime))


async def test_item20_csrf_token_and_origin_are_required(runtime, db_kind):
    c = await staff_client(runtime)
    try:
        r = await c.post("/admin/topics", data={"slug": "x", "name_da": "X", "name_en": "X"})
        assert r.status == 403
        r = await c.post("/admin/topics", data={"csrf_token": csrf(c), "slug": "x", "name_da": "X", "name_en": "X"},
                         headers={"Origin": "https://evil.example"})
        assert r.status == 403 and "andet websted" in await r.text()
        r = await c.post("/admin/logout", data={"csrf_token": "forkert" * 4})
        assert r.status == 403
        assert (await c.get("/admin/users")).status == 200  # still logged in: nothing was done
    finally:
        await c.close()


async def test_roles(runtime, db_kind):
    press = await staff_client(runtime, "pia@raadet.example", "press")
    try:
        for path in ("/admin/users", "/admin/audit", "/admin/subscribers", "/admin/sources"):
            r = await press.get(path)
            assert r.status == 403, path
        r = await press.get("/admin/", allow_redirects=False)
        assert r.status == 303 and r.headers["Location"] == "/admin/campaigns"
        page = await (await press.get("/admin/press")).text()
        assert 'href="/admin/users"' not in page and 'href="/admin/press"' in page
        r = await press.get("/admin/users", headers={"Accept": "application/json"})
        assert r.status == 403
    finally:
        await press.close()
    anonymous = await new_client(runtime)
    try:
        r = await anonymous.get("/admin/users", headers={"Accept": "application/json"}, allow_redirects=False)
        assert r.status == 401
    finally:
        await anonymous.close()
