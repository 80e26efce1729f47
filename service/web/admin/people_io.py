"""Admin: CSV import of subscribers (column mapping, consent source, dry-run preview, a
report of what was skipped and why) and CSV export (formula-safe cells)."""

from __future__ import annotations

import base64
import binascii

from aiohttp import web

from service.audit import record_request
from service.errors import Invalid
from service.staff.auth import require_role
from service.web.admin.subscribers import _search
from service.web.keys import RUNTIME
from service.web.middleware import UPLOAD_BODY_BYTES, body_limit
from service.web.admin._common import page as render
from subscribers.directory import choices
from subscribers.exporter import export_csv
from subscribers.importer import FIELDS, ImportOptions, import_csv

FIELD_LABELS = {"email": "E-mail (skal med)", "name": "Navn", "organisation": "Organisation", "topics": "Emner",
                "municipalities": "Kommuner", "language": "Sprog", "frequency": "Hyppighed", "audience": "Rolle"}


async def _page(request, **ctx) -> web.Response:
    runtime = request.app[RUNTIME]
    async with runtime.db.reader() as s:
        opts = await choices(s)
    base = {"report": None, "message": "", "consent_source": "", "content_b64": "", "filename": "",
            "mapping": {}, "headers": [], "default_topics": [], "fields": FIELDS, "field_labels": FIELD_LABELS,
            "topics": [t for t in opts["topics"] if not t["retired"]]}
    status = ctx.pop("status", 200)
    return render(request, "admin/subscribers/import.html", base | ctx, status=status)


async def form(request: web.Request) -> web.Response:
    return await _page(request)


@body_limit(UPLOAD_BODY_BYTES)
async def submit(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    data = await request.post()
    upload = data.get("file")
    filename = str(data.get("filename", ""))[:200]
    if isinstance(upload, web.FileField):
        content, filename = upload.file.read(), (upload.filename or "")[:200]
    else:
        try:
            content = base64.b64decode(str(data.get("content_b64", "")), validate=True)
        except (binascii.Error, ValueError):
            content = b""
    consent_source = str(data.get("consent_source", "")).strip()[:150]
    default_topics = [str(t) for t in data.getall("default_topics", [])]
    mapping = {f: str(data.get(f"map_{f}", "")) for f in FIELDS if data.get(f"map_{f}")}
    dry_run = data.get("action") != "import"
    ctx = {"consent_source": consent_source, "filename": filename, "default_topics": default_topics,
           "content_b64": base64.b64encode(content).decode() if content else ""}
    if not content:
        return await _page(request, message="Vælg en CSV-fil.", status=422, **ctx)
    opts = ImportOptions(consent_source=consent_source, consent_version=runtime.settings.subscribers.consent_version,
                         now=runtime.clock.now(), by=f"admin:{request['user'].email}", mapping=mapping,
                         default_topics=default_topics, dry_run=dry_run, filename=filename)
    try:
        async with runtime.db.transaction() as s:
            report = await import_csv(s, content, opts)
            if not dry_run:
                await record_request(s, request, "subscriber.import", "subscribers", {
                    "file": filename, "consent_source": consent_source, "added": len(report.added),
                    "skipped": len(report.skipped)})
    except Invalid as exc:
        return await _page(request, message=exc.message, status=422, **ctx)
    return await _page(request, report=report, mapping=report.mapping, headers=report.headers,
                       **(ctx | {"content_b64": ctx["content_b64"] if dry_run else ""}))


async def export(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    f = _search(request.query)
    async with runtime.db.transaction() as s:
        body = await export_csv(s, f)
        await record_request(s, request, "subscriber.export", "subscribers",
                             {k: v for k, v in vars(f).items() if v and k != "page"})
    stamp = runtime.clock.now().astimezone(runtime.settings.service.tz()).strftime("%Y-%m-%d")
    return web.Response(body=body, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": f'attachment; filename="abonnenter-{stamp}.csv"', "Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    admins = require_role("admin")
    app.router.add_get("/admin/subscribers/import", admins(form))
    app.router.add_post("/admin/subscribers/import", admins(submit))
    app.router.add_get("/admin/subscribers/export.csv", admins(export))
