"""Admin: the press contact list. List with filters, saved segments (a named filter a
release can go to), add, edit, CSV import and export (formula-safe). Press officers and admins."""

from __future__ import annotations

from aiohttp import web

from service.campaigns import press_contacts as pc
from service.campaigns import press_segments as segs
from service.campaigns.compose import MEDIA_TYPES
from service.db.campaigns import PressContact
from service.errors import Conflict, Invalid, NotFound
from service.staff.auth import require_role
from service.web.admin._common import audit, listed, user
from service.web.admin._common import page as render
from service.web.admin.flash import redirect
from service.web.admin.nav import NavLink, add
from service.web.keys import RUNTIME
from service.web.middleware import UPLOAD_BODY_BYTES, body_limit


def _segment(q) -> pc.Segment:
    return pc.Segment(media_types=[m for m in listed(q, "media_type") if m in MEDIA_TYPES], regions=listed(q, "region"),
                      beats=listed(q, "beat"), statuses=[x for x in listed(q, "status") if x in pc.STATUSES],
                      search=str(q.get("q", ""))[:100])


def _form(data) -> pc.ContactForm:
    return pc.ContactForm(email=str(data.get("email", "")), name=str(data.get("name", "")),
                          outlet=str(data.get("outlet", "")), media_type=str(data.get("media_type", "regional")),
                          region=str(data.get("region", "")), beats=listed(data, "beats"),
                          status=str(data.get("status", "active")))


def _view(c: PressContact) -> dict:
    return {"id": c.id, "email": c.email, "name": c.name, "outlet": c.outlet, "media_type": c.media_type,
            "region": c.region,
            "beats": ", ".join(c.beats or []), "status": c.status}


async def index(request: web.Request, message: str = "", errors: dict | None = None, status: int = 200,
                seg: pc.Segment | None = None) -> web.Response:
    runtime = request.app[RUNTIME]
    seg = seg or _segment(request.query)
    async with runtime.db.reader() as s:
        rows = await pc.list_contacts(s, seg)
        regions = await pc.regions(s)
        segments = await segs.list_segments(s)
    return render(request, "admin/press/index.html", {
        "contacts": [_view(c) for c in rows], "seg": seg, "regions": regions, "media_types": MEDIA_TYPES,
        "statuses": pc.STATUSES, "query": request.query_string, "segments": segments, "message": message,
        "errors": errors or {}}, status=status)


async def save_segment(request: web.Request) -> web.Response:
    """The filter on screen, saved under a name (a release can then be sent to it)."""
    runtime = request.app[RUNTIME]
    data = await request.post()
    seg = _segment(data)
    try:
        async with runtime.db.transaction() as s:
            sid, created = await segs.save_segment(s, str(data.get("segment_name", "")), media_types=seg.media_types,
                                                   regions=seg.regions, beats=seg.beats, by=user(request).email,
                                                   now=runtime.clock.now())
            await audit(request, s, "press.segment.add" if created else "press.segment.edit", f"press_segment:{sid}",
                        name=str(data.get("segment_name", "")), media_types=seg.media_types, regions=seg.regions,
                        beats=seg.beats)
    except Invalid as exc:
        return await index(request, exc.message, exc.fields, status=422, seg=seg)
    raise redirect("/admin/press", "segment-saved")


async def delete_segment(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    sid = int(request.match_info["id"])
    async with runtime.db.transaction() as s:
        name = await segs.delete_segment(s, sid)
        await audit(request, s, "press.segment.delete", f"press_segment:{sid}", name=name)
    raise redirect("/admin/press", "segment-deleted")


async def edit_form(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    cid = request.match_info.get("id")
    contact = {"email": "", "name": "", "outlet": "", "media_type": "regional", "region": "", "beats": "", "status": "active"}
    if cid:
        async with runtime.db.reader() as s:
            row = await s.get(PressContact, int(cid))
            if row is None:
                raise NotFound("Kontakten findes ikke.")
            contact = _view(row)
    return render(request, "admin/press/edit.html", {"contact": contact, "id": cid, "errors": {},
                                                     "media_types": MEDIA_TYPES, "statuses": pc.STATUSES})


async def save(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    cid = request.match_info.get("id")
    data = await request.post()
    form = _form(data)
    try:
        async with runtime.db.transaction() as s:
            if cid:
                await pc.edit_contact(s, int(cid), form, now=runtime.clock.now())
                await audit(request, s, "press.edit", f"press_contact:{cid}", email=form.email, status=form.status)
            else:
                new = await pc.add_contact(s, form, now=runtime.clock.now())
                await audit(request, s, "press.add", f"press_contact:{new}", email=form.email)
    except (Invalid, Conflict) as exc:
        contact = vars(form) | {"beats": ", ".join(form.beats)}
        return render(request, "admin/press/edit.html", {"contact": contact, "id": cid, "errors": getattr(exc, "fields", {}),
                                                         "message": exc.message, "media_types": MEDIA_TYPES,
                                                         "statuses": pc.STATUSES}, status=422)
    raise redirect("/admin/press", "contact-saved" if cid else "contact-added")


@body_limit(UPLOAD_BODY_BYTES)
async def import_csv(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    data = await request.post()
    f = data.get("file")
    if not isinstance(f, web.FileField):
        raise Invalid("Vælg en CSV-fil.", {"file": "Ingen fil"})
    async with runtime.db.transaction() as s:
        result = await pc.import_csv(s, f.file.read(), now=runtime.clock.now())
        await audit(request, s, "press.import", "press_contacts", added=result.added, updated=result.updated,
                    rejected=len(result.errors))
    return render(request, "admin/press/imported.html", {"result": result})


async def export_csv(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    async with runtime.db.transaction() as s:
        body = await pc.export_csv(s, _segment(request.query))
        await audit(request, s, "press.export", "press_contacts")
    return web.Response(body=body, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": 'attachment; filename="presseliste.csv"', "Cache-Control": "no-store"})


ROUTES = (
    ("GET", "/admin/press", index),
    ("GET", "/admin/press/new", edit_form),
    ("POST", "/admin/press/new", save),
    ("GET", "/admin/press/{id:\\d+}", edit_form),
    ("POST", "/admin/press/{id:\\d+}", save),
    ("POST", "/admin/press/import", import_csv),
    ("POST", "/admin/press/segments", save_segment),
    ("POST", "/admin/press/segments/{id:\\d+}/delete", delete_segment),
    ("GET", "/admin/press/export.csv", export_csv),
)


def setup(app: web.Application) -> None:
    add(app, NavLink("/admin/press", "Presseliste", ("admin", "press"), 30))
    protect = require_role("admin", "press")
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, protect(handler))
