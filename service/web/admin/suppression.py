"""Admin: the suppression list and the bounce and complaint log (view, add, remove with a reason).

Only a hash of a suppressed address is stored, so the list shows reasons and dates; an
admin looks an address up, adds it, or removes it by typing it.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import func, select

from service.audit import record_request
from service.db.models import Bounce
from service.staff.auth import require_role
from service.web.keys import RUNTIME
from service.web.admin._common import page as render
from service.web.admin.flash import redirect
from service.web.admin.nav import NavLink, add
from subscribers import suppression
from subscribers.models import Suppression

REASONS = {"unsubscribed": "Afmeldt", "hard_bounce": "Hård afvisning", "complaint": "Klage", "erased": "Slettet",
           "manual": "Tilføjet af en administrator", "soft_bounces": "Gentagne bløde afvisninger"}
PAGE = 100


async def index(request: web.Request, message: str = "", status: int = 200, found: dict | None = None) -> web.Response:
    runtime = request.app[RUNTIME]
    kind = request.query.get("kind", "")
    async with runtime.db.reader() as s:
        rows = (await s.scalars(select(Suppression).order_by(Suppression.id.desc()).limit(PAGE))).all()
        total = await s.scalar(select(func.count(Suppression.id)))
        by_reason = dict((await s.execute(select(Suppression.reason, func.count()).group_by(Suppression.reason))).all())
        bq = select(Bounce).order_by(Bounce.id.desc()).limit(PAGE)
        if kind in ("hard", "soft", "complaint"):
            bq = bq.where(Bounce.kind == kind)
        bounces = (await s.scalars(bq)).all()
    return render(request, "admin/suppression.html", {
        "rows": [{"hash": r.email_hash[:12], "reason": REASONS.get(r.reason, r.reason), "note": r.note,
                  "at": r.created_at, "by": r.created_by} for r in rows],
        "total": total or 0, "by_reason": {REASONS.get(k, k): v for k, v in by_reason.items()},
        "bounces": [{"email": b.email, "kind": b.kind, "diagnostic": b.diagnostic, "at": b.received_at,
                     "delivery_id": b.delivery_id} for b in bounces],
        "kind": kind, "message": message, "found": found,
    }, status=status)


async def lookup(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    email = str((await request.post()).get("email", "")).strip()
    async with runtime.db.reader() as s:
        row = await s.scalar(select(Suppression).where(Suppression.email_hash == suppression.email_hash(email)))
    found = {"email": email, "suppressed": row is not None,
             "reason": REASONS.get(row.reason, row.reason) if row else "", "note": row.note if row else ""}
    return await index(request, found=found)


async def change(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    data = await request.post()
    email, note, action = str(data.get("email", "")).strip(), str(data.get("note", "")).strip()[:500], data.get("action")
    me = request["user"].email
    if "@" not in email or len(email) > 320:
        return await index(request, "Skriv en e-mailadresse.", status=422)
    if not note:
        return await index(request, "Skriv en begrundelse.", status=422)
    async with runtime.db.transaction() as s:
        if action == "remove":
            if not await suppression.is_suppressed(s, email):
                return await index(request, "Adressen står ikke på spærrelisten.", status=404)
            await suppression.unsuppress(s, email, by=me, note=note)
            done = "Adressen er fjernet fra spærrelisten."
        else:
            await suppression.suppress(s, email, reason="manual", now=runtime.clock.now(), note=note, by=me)
            done = "Adressen er sat på spærrelisten."
        await record_request(s, request, "suppression.remove" if action == "remove" else "suppression.add",
                             f"suppression:{suppression.email_hash(email)[:12]}", {"note": note})
    raise redirect("/admin/suppression", "suppression-removed" if action == "remove" else "suppression-added")


def setup(app: web.Application) -> None:
    add(app, NavLink("/admin/suppression", "Spærreliste", ("admin",), 70))
    admins = require_role("admin")
    app.router.add_get("/admin/suppression", admins(index))
    app.router.add_post("/admin/suppression", admins(change))
    app.router.add_post("/admin/suppression/lookup", admins(lookup))
