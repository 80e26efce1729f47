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
    entries = [a for a in await _audit(runtime) if a[1] != "user.add"]
    # Failed logins are in the audit log too (catalogue 31), with the address that was typed.
    assert [a[:2] for a in entries] == [("ida@raadet.example", "login.failed"), ("nobody@raadet.example", "login.failed"),
                                        ("ida@raadet.example", "login"), ("ida@raadet.example", "logout")]


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


# ------------------------------------------------------------------ catalogue gaps (20, 23)


def _state_changing_routes(app) -> tuple[list[tuple[str, str]], set[str]]:
    """([(method, concrete path)], {exempt path patterns}) for every non-GET route of the app."""
    import re

    checked, exempt = [], set()
    for route in app.router.routes():
        if route.method in ("GET", "HEAD", "OPTIONS") or route.resource is None:
            continue
        pattern = route.resource.canonical
        if getattr(route.handler, "csrf_exempt", False):
            exempt.add(pattern)
            continue
        path = re.sub(r"\{token\}", "x.y", pattern)
        path = re.sub(r"\{answer[^}]*\}", "ja", path)
        checked.append((route.method, re.sub(r"\{[^}]+\}", "1", path)))
    return checked, exempt


async def test_item20_every_post_without_a_token_or_from_another_site_is_refused_and_changes_nothing(runtime, db_kind):
    """Every state-changing route of the app (taken from its router, so a new one is covered
    the day it is added), posted by a logged-in admin: without the token, with a wrong token,
    and with the right token from a foreign Origin or Referer. Always 403; no row changes."""
    from tests.integration._snapshot import changed, snapshot

    c = await staff_client(runtime)
    try:
        checked, exempt = _state_changing_routes(c.server.app)
        # Only the RFC 8058 one-click unsubscribe and the bearer-token API take foreign POSTs.
        assert exempt == {"/unsubscribe/{token}", "/api/v1/items"}
        assert sum(1 for _, p in checked if p.startswith("/admin/")) >= 25
        before = await snapshot(runtime)
        form = {"slug": "x", "name_da": "X", "name_en": "X", "email": "ny@raadet.example", "role": "admin",
                "password": "langt-nok-kodeord", "confirm": "1", "action": "add", "note": "n"}
        attempts = [
            ({}, {}),  # no token at all
            ({"csrf_token": "forkert-token-" * 3}, {}),  # a made-up token
            ({"csrf_token": csrf(c)}, {"Origin": "https://evil.example"}),
            ({"csrf_token": csrf(c)}, {"Origin": "null"}),  # a sandboxed frame or a data: page
            ({"csrf_token": csrf(c)}, {"Referer": "https://evil.example/side"}),
        ]
        for method, path in checked:
            for token, headers in attempts:
                r = await c.request(method, path, data={**form, **token}, headers=headers, allow_redirects=False)
                assert r.status == 403, (method, path, token, headers, r.status)
        assert changed(before, await snapshot(runtime)) == {}
        assert (await c.get("/admin/users")).status == 200  # the session itself was never touched
    finally:
        await c.close()


class _CountingHasher:
    """The real argon2 hasher, counting each verification and the cost parameters it used."""

    def __init__(self, inner):
        self.inner = inner
        self.verified: list[str] = []

    def verify(self, stored: str, password: str) -> bool:
        self.verified.append(stored.split("$")[3])  # "m=65536,t=3,p=4"
        return self.inner.verify(stored, password)

    def __getattr__(self, name):
        return getattr(self.inner, name)


async def test_item23_unknown_user_and_wrong_password_do_the_same_password_work(runtime, db_kind, monkeypatch):
    """The same timing, shown by the work done rather than a stopwatch: an unknown address,
    a wrong password and a deactivated account each cost exactly one argon2 verification with
    the same parameters as a real account's hash, and get the same status and page."""
    from service.staff import passwords

    spy = _CountingHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", spy)
    runtime.settings.staff.slowdown_after = 50
    await make_user(runtime, "ida@raadet.example", "admin")
    await make_user(runtime, "gammel@raadet.example", "editor")
    async with runtime.db.transaction() as s:
        from service.db.models import User

        (await s.scalar(select(User).where(User.email == "gammel@raadet.example"))).active = False
        real_cost = (await s.scalar(select(User.password_hash).where(User.email == "ida@raadet.example"))).split("$")[3]
    c = await new_client(runtime)
    try:
        answers = {}
        for who, email, password in (("unknown", "ingen@raadet.example", PASSWORD),
                                     ("wrong password", "ida@raadet.example", "forkert-kodeord"),
                                     ("deactivated", "gammel@raadet.example", PASSWORD)):
            spy.verified.clear()
            r = await log_in(c, email, password)
            answers[who] = (r.status, (await r.text()).replace(email, "EMAIL"))  # the form keeps what was typed
            assert spy.verified == [real_cost], who
        assert len(set(answers.values())) == 1 and answers["unknown"][0] == 401
        spy.verified.clear()
        assert (await log_in(c, "ida@raadet.example")).status == 303
        assert spy.verified == [real_cost]  # and the right password costs the same again
    finally:
        await c.close()


async def test_item23_lockout_looks_the_same_for_an_unknown_account(runtime, db_kind, monkeypatch):
    """Locking out tells nothing either: an address with no account locks after as many
    tries as a real one (the locked try skips the hash for both), with the same answer."""
    from service.staff import passwords

    spy = _CountingHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", spy)
    runtime.settings.staff.lockout_failures = 3
    runtime.settings.staff.slowdown_after = 50
    runtime.settings.staff.ip_lockout_failures = 100
    await make_user(runtime, "ida@raadet.example", "admin")
    c = await new_client(runtime)
    try:
        seen = {}
        for email in ("ida@raadet.example", "ingen@raadet.example"):
            tries = []
            for _ in range(4):
                spy.verified.clear()
                r = await log_in(c, email, "forkert-kodeord")
                tries.append((r.status, len(spy.verified), (await r.text()).replace(email, "EMAIL")))
            seen[email] = tries
        assert [t[1] for t in seen["ida@raadet.example"]] == [1, 1, 1, 0]  # the fourth is not even checked
        assert seen["ida@raadet.example"] == seen["ingen@raadet.example"]
        assert (await log_in(c, "ida@raadet.example")).status == 401  # locked, even with the right password
    finally:
        await c.close()


# ------------------------------------------------------------------ catalogue 31: raced logins


class _ConcurrencyHasher(_CountingHasher):
    """Also records how many verifications ran at the same moment (they run in threads)."""

    def __init__(self, inner):
        import threading

        super().__init__(inner)
        self.running = self.most = 0
        self.lock = threading.Lock()

    def verify(self, stored: str, password: str) -> bool:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            return super().verify(stored, password)
        finally:
            with self.lock:
                self.running -= 1


async def test_item31_299_wrong_passwords_and_the_right_one_sent_at_once_are_all_refused(runtime, db_kind, monkeypatch):
    """The count used to be read before the check and written after it, so 300 tries at once
    all saw "no failures yet": the right password among them logged in. Now each try is
    written down before its check, in the transaction that counts: the first
    `slowdown_after` are checked, the rest (the right one too) refused with the same answer,
    and every one of them is in the audit log."""
    import asyncio

    from service.staff import passwords

    spy = _ConcurrencyHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", spy)
    await make_user(runtime, "ida@raadet.example", "admin")
    c = await new_client(runtime)
    try:
        await c.get("/admin/login")
        tries = [log_in(c, "ida@raadet.example", f"gaet-{n:04d}-forkert") for n in range(299)]
        answers = await asyncio.gather(*tries, log_in(c, "ida@raadet.example", PASSWORD))
        assert [r.status for r in answers] == [401] * 300
        assert LOGIN_REFUSED in await answers[-1].text()
        assert len(spy.verified) <= runtime.settings.staff.slowdown_after
        async with runtime.db.reader() as s:
            assert (await s.scalars(select(StaffSession))).all() == []
    finally:
        await c.close()
    failed = [a for a in await _audit(runtime) if a[1] == "login.failed"]
    assert len(failed) == 300 and {a[0] for a in failed} == {"ida@raadet.example"}


async def test_item31_password_checks_run_a_few_at_a_time_while_healthz_answers(runtime, db_kind, monkeypatch):
    """Logins for unknown addresses, all checked (argon2, 64 MiB each): no more than
    `CHECKS_AT_ONCE` verifications at a time (memory stays bounded), and /healthz answers."""
    import asyncio

    from service.staff import passwords
    from tests.integration._probe import Probe

    spy = _ConcurrencyHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", spy)
    runtime.settings.staff.slowdown_after = 50
    runtime.settings.staff.ip_lockout_failures = 100
    c = await new_client(runtime)
    try:
        await c.get("/admin/login")
        async with Probe(c) as probe:
            answers = await asyncio.gather(*(log_in(c, f"ukendt{n}@raadet.example", PASSWORD) for n in range(8)))
        assert [r.status for r in answers] == [401] * 8
        assert len(spy.verified) == 8 and spy.most <= passwords.CHECKS_AT_ONCE < 8
        probe.assert_healthy()
    finally:
        await c.close()


# ------------------------------------------------------------------ catalogue 30: control characters in forms

NUL_FIELDS = ("email", "name", "organisation", "topics", "municipalities", "audience", "frequency", "language", "slug",
              "name_da", "name_en", "title", "lead", "body_md", "theme", "focus", "q", "consent_source", "note", "url",
              "kind", "role", "new_email", "topic", "media_type", "outlet", "region", "beats")


async def test_item30_a_nul_in_any_field_of_any_form_is_refused_never_a_500_and_never_stored(runtime, db_kind):
    """Every state-changing route (from the router) posted by a signed-in admin with the right
    token and a NUL in every field a form of ours has; every GET route with a NUL in its query.
    PostgreSQL cannot even take NUL as a query parameter (a signup, a topic value, a search
    were 500s); SQLite stored it. No answer is a 5xx, the routes that do not show the error at
    the field themselves answer 422 naming it, and no row anywhere holds a NUL."""
    from tests.integration._snapshot import snapshot

    c = await staff_client(runtime)
    try:
        routes = _posts(c.server.app)
        assert len(routes) >= 30
        own = {pattern for _, pattern, _, shows in routes if shows}
        assert {"/", "/admin/campaigns/new", "/admin/campaigns/{id}"} <= own
        form = {f: f"x\x00{f}" for f in NUL_FIELDS}
        for method, pattern, path, shows in routes:
            r = await c.request(method, path, data={**form, "csrf_token": csrf(c)}, allow_redirects=False)
            assert r.status < 500, (method, path, r.status)
            if not shows:
                assert r.status == 422 and "usynligt styretegn" in await r.text(), (method, path, r.status)
        for path in _get_routes(c.server.app):
            r = await c.get(path, params={"q": "x\x00", "status": "\x00", "topic": "\x00"}, allow_redirects=False)
            assert r.status < 500, ("GET", path, r.status)
        stored = [(t, row) for t, rows in (await snapshot(runtime, skip=())).items() for row in rows
                  if "\\x00" in row or "\x00" in row]
        assert stored == []
    finally:
        await c.close()


def _posts(app) -> list[tuple[str, str, str, bool]]:
    """(method, pattern, concrete path, shows its own field errors) for every form route
    (the bearer-token API and one-click unsubscribe take no form of ours)."""
    import re

    out = []
    for route in app.router.routes():
        if route.method in ("GET", "HEAD", "OPTIONS") or route.resource is None:
            continue
        if getattr(route.handler, "csrf_exempt", False):
            continue
        pattern = route.resource.canonical
        path = re.sub(r"\{[^}]+\}", "1", re.sub(r"\{answer[^}]*\}", "ja", pattern.replace("{token}", "x.y")))
        out.append((route.method, pattern, path, getattr(route.handler, "shows_field_errors", False)))
    return out


def _get_routes(app) -> list[str]:
    import re

    out = []
    for route in app.router.routes():
        if route.method == "GET" and route.resource is not None and not route.resource.canonical.startswith("/static"):
            out.append(re.sub(r"\{[^}]+\}", "1", route.resource.canonical.replace("{token}", "x.y")))
    return sorted(set(out))


async def test_item30_the_forms_that_show_errors_at_their_fields_show_this_one_there(runtime, db_kind):
    """The signup form (name, organisation, a topic) and the campaign editor (the body): the
    page comes back with the error at that field and what else was typed; nothing is saved."""
    from sqlalchemy import func

    from service.db.campaigns import Campaign
    from subscribers.models import Subscriber
    from tests.integration.test_subscriber_flows import FORM

    visitor = await new_client(runtime)
    editor = await staff_client(runtime, "redaktor@raadet.example", "editor")
    try:
        await visitor.get("/")
        for field, value in (("name", "Mette\x00Hansen"), ("organisation", "Jobcenter\x07Aarhus"),
                             ("topics", ["ledighedstal\x00"])):
            r = await visitor.post("/", data={**FORM, field: value, "csrf_token": csrf(visitor)})
            page = await r.text()
            assert r.status == 400, (field, r.status)
            error = page[page.find(f'id="{field}-error"'):][:300] if field != "topics" else page
            assert "usynligt styretegn" in error, field
            assert "Mette.Hansen@Jobcenter-Aarhus.dk" in page  # what was typed stays
        r = await editor.post("/admin/campaigns/new", data={
            "csrf_token": csrf(editor), "kind": "newsletter", "title": "Nyhedsbrev", "body_md": "Tekst\x00med NUL",
            "theme": "standard", "topics": "analyser"}, allow_redirects=False)
        page = await r.text()
        assert r.status == 422 and "usynligt styretegn" in page and "Nyhedsbrev" in page
    finally:
        await visitor.close()
        await editor.close()
    async with runtime.db.reader() as s:
        assert await s.scalar(select(func.count()).select_from(Subscriber)) == 0
        assert await s.scalar(select(func.count()).select_from(Campaign)) == 0
