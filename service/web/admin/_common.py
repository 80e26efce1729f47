"""Small helpers the admin pages share: the signed-in staff member, what their role may
work on, form lists, the audit entry and the page frame."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from service.audit import record_request
from service.errors import Forbidden
from service.staff.auth import StaffUser
from service.web.templating import render

# Press officers run press releases, editors newsletters, admins everything.
KIND_ROLES = {"press_release": ("admin", "press"), "newsletter": ("admin", "editor")}


def user(request: web.Request) -> StaffUser:
    u = request.get("user")
    if u is None:  # every admin route is behind require_role, which sets it
        raise Forbidden("Log ind først.")
    return u


def may(request: web.Request, kind: str) -> bool:
    return user(request).role in KIND_ROLES.get(kind, ())


def check_may(request: web.Request, kind: str) -> None:
    if not may(request, kind):
        raise Forbidden("Din rolle må ikke arbejde med denne slags udsendelse.")


def listed(form: Any, name: str) -> list[str]:
    """All values of a repeated or comma-separated field, stripped, empties dropped."""
    values = form.getall(name, []) if hasattr(form, "getall") else []
    out: list[str] = []
    for v in values:
        out.extend(p.strip() for p in str(v).split(",") if p.strip())
    return out


async def audit(request: web.Request, session, action: str, target: str = "", **detail: Any) -> None:
    """One audit row in the caller's transaction, by the signed-in staff member."""
    await record_request(session, request, action, target, detail)


def page(request: web.Request, name: str, context: dict[str, Any] | None = None, **kw: Any) -> web.Response:
    """An admin page: `message` (an error summary) and `errors` (per field) default to none."""
    return render(request, name, {"message": "", "errors": {}, **(context or {})}, **kw)
