"""Staff login, server-side sessions and roles.

- Passwords are argon2id hashes (`service.staff.passwords`).
- A session is a random cookie value; only its SHA-256 is stored (`StaffSession`). It ends
  on logout, on any password change of its user, when the user is deactivated, and after
  `[web] session_hours`.
- Login tries are counted per account and per client address (`RateEvent`, shared by
  every process). Each try is written down (reserved) in the same transaction that counts
  the earlier ones, before its password is checked, with the buckets locked (SQLite's
  `BEGIN IMMEDIATE`, a PostgreSQL advisory lock): tries sent at once are counted one after
  another, so 300 at once get no more checks than 300 in a row. A successful try takes its
  reservation back (and clears the account's). After `slowdown_after` tries each further
  try must wait, doubling; at `lockout_failures` (account) or `ip_lockout_failures`
  (address) within the window no try is checked at all. Every refusal gives the same
  answer, whatever was wrong, and is written to the audit log (`login.failed`).
- Passwords are checked a few at a time (`passwords.verify_async`), never more at once.
- `require_role(*roles)` guards a handler: it sets `request["user"]` (a `StaffUser`) or
  sends the browser to /admin/login (401 for scripts, 403 for the wrong role).
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.audit import record
from service.clock import as_utc
from service.db.models import RateEvent, StaffSession, User
from service.errors import Forbidden
from service.staff.passwords import hash_async, needs_rehash, verify_async, weak_reason

ROLES = ("admin", "press", "editor")
ROLE_LABELS = {"admin": "Administrator", "press": "Presse", "editor": "Redaktør"}
SESSION_COOKIE = "bb_staff"
COOKIE_PATH = "/admin"
LOGIN_REFUSED = "Det lykkedes ikke at logge ind. Tjek e-mail og adgangskode, eller vent lidt og prøv igen."


@dataclass(frozen=True)
class StaffUser:
    id: int
    email: str
    name: str
    role: str

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


@dataclass(frozen=True)
class LoginResult:
    user: StaffUser | None
    token: str | None = None
    csrf_token: str | None = None


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


# ------------------------------------------------------------------ counting failures


def _buckets(email: str, ip: str | None) -> tuple[str, str]:
    return f"login-acct:{_sha(normalise_email(email))[:32]}", f"login-ip:{ip or '?'}"


async def _failures(s: AsyncSession, bucket: str, since: datetime) -> tuple[int, datetime | None]:
    n, last = (await s.execute(
        select(func.count(RateEvent.id), func.max(RateEvent.at)).where(RateEvent.bucket == bucket, RateEvent.at > since)
    )).one()
    return int(n or 0), as_utc(last) if last is not None else None


def _must_wait(n: int, last: datetime | None, now: datetime, cfg) -> bool:
    if n < cfg.slowdown_after or last is None:
        return False
    wait = timedelta(seconds=cfg.slowdown_seconds * 2 ** min(n - cfg.slowdown_after, 16))
    return now < last + min(wait, timedelta(minutes=cfg.window_minutes))


async def _refused(s: AsyncSession, email: str, ip: str | None, now: datetime, cfg) -> bool:
    """True when this try may not even be checked (slowed down or locked)."""
    since = now - timedelta(minutes=cfg.window_minutes)
    acct, by_ip = _buckets(email, ip)
    a_n, a_last = await _failures(s, acct, since)
    i_n, i_last = await _failures(s, by_ip, since)
    if a_n >= cfg.lockout_failures or i_n >= cfg.ip_lockout_failures:
        return True
    return _must_wait(a_n, a_last, now, cfg) or _must_wait(i_n, i_last, now, cfg)


# ------------------------------------------------------------------ login and sessions


async def _lock(s: AsyncSession, buckets: list[str]) -> None:
    """Make the count-and-reserve of these buckets one at a time across processes. SQLite's
    write transactions (BEGIN IMMEDIATE) already are; PostgreSQL takes advisory locks."""
    if s.bind is not None and s.bind.dialect.name == "postgresql":
        for bucket in sorted(buckets):  # always in the same order: no deadlock
            await s.execute(text("SELECT pg_advisory_xact_lock(hashtext(:b))"), {"b": bucket})


async def _reserve(runtime, email: str, ip: str | None, now: datetime) -> tuple[bool, User | None, int]:
    """Count the earlier tries and write this one down, in one transaction: (refused, the
    account if the try may be checked, the id of this try's per-address event)."""
    cfg = runtime.settings.staff
    acct, by_ip = _buckets(email, ip)
    async with runtime.db.transaction() as s:
        await _lock(s, [acct, by_ip])
        refused = await _refused(s, email, ip, now, cfg)
        mark = RateEvent(bucket=by_ip, at=now)
        s.add_all([RateEvent(bucket=acct, at=now), mark])
        row = None
        if refused:
            await _failed(s, email, None, ip, now, "refused")
        else:
            row = await s.scalar(select(User).where(User.email == email))
            if row is not None:
                s.expunge(row)
        await s.flush()
        return refused, row, mark.id


async def _failed(s: AsyncSession, email: str, user_id: int | None, ip: str | None, now: datetime, why: str) -> None:
    await record(s, actor=email or "?", user_id=user_id, action="login.failed", ip=ip, now=now,
                 detail={"why": why})  # refused (slowed down or locked) or wrong (checked, no match)


async def login(runtime, email: str, password: str, ip: str | None) -> LoginResult:
    """Check the credentials; on success start a session. Refusals all look the same."""
    now = runtime.clock.now()
    email = normalise_email(email)[:320]
    refused, row, mark = await _reserve(runtime, email, ip, now)
    if refused:
        return LoginResult(None)
    # Verified even for unknown accounts (against a dummy hash): the same cost either way.
    ok = await verify_async(row.password_hash if row is not None else None, password)
    ok = ok and row is not None and row.active
    acct, _ = _buckets(email, ip)
    async with runtime.db.transaction() as s:
        if not ok:
            if row is not None:
                await s.execute(update(User).where(User.id == row.id).values(failed_logins=User.failed_logins + 1))
            await _failed(s, email, row.id if row is not None else None, ip, now, "wrong")
            return LoginResult(None)
        await s.execute(delete(RateEvent).where(RateEvent.bucket == acct))
        await s.execute(delete(RateEvent).where(RateEvent.id == mark))
        values = {"failed_logins": 0, "last_login_at": now}
        if needs_rehash(row.password_hash):
            values["password_hash"] = await hash_async(password)
        await s.execute(update(User).where(User.id == row.id).values(**values))
        token, csrf = await start_session(s, row.id, ip=ip, now=now, hours=runtime.settings.web.session_hours)
    return LoginResult(StaffUser(row.id, row.email, row.name, row.role), token, csrf)


async def start_session(s: AsyncSession, user_id: int, *, ip: str | None, now: datetime, hours: int) -> tuple[str, str]:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    s.add(StaffSession(token_hash=_sha(token), user_id=user_id, csrf_token=csrf, created_at=now,
                       expires_at=now + timedelta(hours=hours), ip=(ip or None) and ip[:64]))
    return token, csrf


async def end_session(runtime, token: str) -> None:
    async with runtime.db.transaction() as s:
        await s.execute(delete(StaffSession).where(StaffSession.token_hash == _sha(token)))


async def end_sessions_of(s: AsyncSession, user_id: int) -> int:
    res = await s.execute(delete(StaffSession).where(StaffSession.user_id == user_id))
    return res.rowcount or 0


async def set_password(s: AsyncSession, user_id: int, password: str) -> None:
    """Store a new password and end every session of that user."""
    reason = weak_reason(password)
    if reason:
        from service.errors import Invalid

        raise Invalid(reason, {"password": reason})
    hashed = await hash_async(password)
    await s.execute(update(User).where(User.id == user_id).values(password_hash=hashed, failed_logins=0))
    await end_sessions_of(s, user_id)


async def user_for_token(runtime, token: str) -> StaffUser | None:
    if not token or len(token) > 200:
        return None
    now = runtime.clock.now()
    async with runtime.db.reader() as s:
        row = (await s.execute(
            select(User.id, User.email, User.name, User.role)
            .join(StaffSession, StaffSession.user_id == User.id)
            .where(StaffSession.token_hash == _sha(token), StaffSession.expires_at > now, User.active.is_(True))
        )).first()
    return StaffUser(row.id, row.email, row.name, row.role) if row else None


# ------------------------------------------------------------------ the web side


def cookie_secure(runtime) -> bool:
    mode = runtime.settings.staff.cookie_secure
    return mode == "always" or (mode == "auto" and runtime.settings.service.base_url.startswith("https://"))


def set_session_cookie(response: web.StreamResponse, runtime, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, path=COOKIE_PATH, httponly=True, secure=cookie_secure(runtime),
                        samesite=runtime.settings.staff.cookie_samesite,
                        max_age=runtime.settings.web.session_hours * 3600)


def clear_session_cookie(response: web.StreamResponse, runtime) -> None:
    response.del_cookie(SESSION_COOKIE, path=COOKIE_PATH, secure=cookie_secure(runtime), httponly=True,
                        samesite=runtime.settings.staff.cookie_samesite)


async def current_user(request: web.Request) -> StaffUser | None:
    from service.web.keys import RUNTIME

    if "user" in request:
        return request["user"]
    user = await user_for_token(request.app[RUNTIME], request.cookies.get(SESSION_COOKIE, ""))
    request["user"] = user
    return user


def _wants_page(request: web.Request) -> bool:
    return request.method in ("GET", "HEAD") and "json" not in request.headers.get("Accept", "")


async def check_access(request: web.Request, allowed: set[str] | tuple[str, ...]) -> StaffUser:
    """The signed-in staff member, if their role is one of `allowed`; else raise the answer
    (to the login page for a browser's GET, 401 for anything else, 403 for the wrong role).
    The CSRF middleware asks this before it reads a body, so a stranger's POST is never read."""
    user = await current_user(request)
    if user is None:
        if _wants_page(request):
            target = request.path_qs if request.path != "/admin/login" else "/admin/"
            raise web.HTTPSeeOther(f"/admin/login?next={quote(target, safe='')}")
        raise web.HTTPUnauthorized(text="Log ind først.")
    if user.role not in allowed:
        raise Forbidden("Din rolle giver ikke adgang til denne side.")
    return user


def require_role(*roles: str):
    """Guard a handler: only signed-in staff with one of `roles` (none given: any role)."""
    allowed = set(roles or ROLES)

    def wrap(handler):
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            await check_access(request, allowed)
            response = await handler(request)
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        guarded.roles = tuple(sorted(allowed))
        return guarded

    return wrap
