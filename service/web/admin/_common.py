"""Small helpers the campaign and press admin pages share: the staff guard, the user,
form lists, and the audit entry."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from service.db.models import AuditEntry
from service.errors import Forbidden
from service.web.keys import RUNTIME

log = logging.getLogger(__name__)


def guard(*roles: str):
    """The admin helper's `require_role`, or None when the staff login is not installed."""
    try:
        from service.staff.auth import require_role  # type: ignore[import-not-found]
    except ImportError:
        return None
    return require_role(*roles)


def user(request: web.Request) -> Any:
    u = request.get("user")
    if u is None:
        raise Forbidden("Log ind først.")
    return u


def attr(u: Any, name: str, default: Any = None) -> Any:
    return u.get(name, default) if isinstance(u, dict) else getattr(u, name, default)


def may(request: web.Request, kind: str) -> bool:
    """Press officers run press releases, editors newsletters, admins everything."""
    role = attr(user(request), "role")
    return role == "admin" or (role == "press" and kind == "press_release") or (role == "editor" and kind == "newsletter")


def check_may(request: web.Request, kind: str) -> None:
    if not may(request, kind):
        raise Forbidden("Din rolle må ikke arbejde med denne slags udsendelse.")


def listed(form: Any, name: str) -> list[str]:
    values = form.getall(name, []) if hasattr(form, "getall") else []
    out: list[str] = []
    for v in values:
        out.extend(p.strip() for p in str(v).split(",") if p.strip())
    return out


async def audit(request: web.Request, session, action: str, target: str = "", **detail: Any) -> None:
    """One audit row in the caller's transaction (service.audit.record when it exists)."""
    u = user(request)
    try:
        from service.audit import record_request  # type: ignore[import-not-found]
    except ImportError:
        record_request = None
    if record_request is not None:
        await record_request(session, request, action, target, detail)
        return
    session.add(AuditEntry(user_id=attr(u, "id"), actor=attr(u, "email", "?"), action=action, target=target,
                           detail=detail, ip=request.remote, at=request.app[RUNTIME].clock.now()))


def page(request: web.Request, name: str, context: dict[str, Any] | None = None, **kw: Any) -> web.Response:
    """Render an admin page inside the admin frame (`admin/base.html`, plain `base.html` until it exists)."""
    from jinja2 import TemplateNotFound

    from service.web.keys import JINJA
    from service.web.templating import render

    try:
        request.app[JINJA].get_template("admin/base.html")
        layout = "admin/base.html"
    except TemplateNotFound:
        layout = "base.html"
    return render(request, name, {"layout": layout, **(context or {})}, **kw)
