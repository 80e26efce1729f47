"""Admin: the audit log (who did what, to what, when), newest first, with a filter."""

from __future__ import annotations

import json

from aiohttp import web
from sqlalchemy import or_, select

from service.db.models import AuditEntry
from service.staff.auth import require_role
from service.web.keys import RUNTIME
from service.web.admin._common import page as render
from service.web.admin.nav import NavLink, add

PAGE = 100


async def index(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    tz = runtime.settings.service.tz()
    q = request.query.get("q", "").strip()[:100]
    before = request.query.get("before", "")
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(PAGE + 1)
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        query = query.where(or_(AuditEntry.actor.ilike(like), AuditEntry.action.ilike(like), AuditEntry.target.ilike(like)))
    if before.isdigit():
        query = query.where(AuditEntry.id < int(before))
    async with runtime.db.reader() as s:
        rows = list((await s.scalars(query)).all())
    more = len(rows) > PAGE
    entries = [{
        "id": a.id, "at": a.at.astimezone(tz).strftime("%d.%m.%Y %H.%M.%S"), "actor": a.actor, "action": a.action,
        "target": a.target, "ip": a.ip or "",
        "detail": json.dumps(a.detail, ensure_ascii=False, sort_keys=True) if a.detail else "",
    } for a in rows[:PAGE]]
    return render(request, "admin/audit.html", {"entries": entries, "q": q,
                                                "older": entries[-1]["id"] if more else None})


def setup(app: web.Application) -> None:
    add(app, NavLink("/admin/audit", "Log", ("admin",), 90))
    app.router.add_get("/admin/audit", require_role("admin")(index))
