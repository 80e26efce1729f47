"""Admin: CSV import of subscribers (column mapping, consent source, dry-run preview, a
report of what was skipped and why) and CSV export (formula-safe cells).

The real import is written in the background (`subscribers.import_runs`): the page sends
the admin to /admin/subscribers/import/<id>, which shows its progress until it is done.
A file that cannot be read is answered 422 with the line at fault.
"""

from __future__ import annotations

import asyncio
import base64
import binascii

from aiohttp import web

from service.audit import record, record_request
from service.web.client import client_ip
from service.errors import Invalid
from service.staff.auth import require_role
from service.web.admin.subscribers import _search
from service.web.keys import RUNTIME
from service.web.middleware import UPLOAD_BODY_BYTES, body_limit
from service.web.admin._common import page as render
from subscribers.directory import choices
from subscribers.exporter import export_csv
from subscribers import import_runs
from subscribers.importer import FIELDS, ImportOptions, prepare

# The imports this process is writing (a reference, so a task is not lost while it runs).
RUNNING: web.AppKey[set] = web.AppKey("subscriber_imports", set)

FIELD_LABELS = {"email": "E-mail (skal med)", "name": "Navn", "organisation": "Organisation", "topics": "Emner",
                "municipalities": "Kommuner", "language": "Sprog", "frequency": "Hyppighed", "audience": "Rolle"}


async def _page(request, **ctx) -> web.Response:
    runtime = request.app[RUNTIME]
    async with runtime.db.reader() as s:
        opts = await choices(s)
        runs = await import_runs.recent(s, runtime.clock.now())
    base = {"runs": runs, "report": None, "message": "", "consent_source": "", "content_b64": "", "filename": "",
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
        prepared = await prepare(runtime.db, content, opts)
    except Invalid as exc:  # a file that cannot be read is not carried on: the admin chooses a mended one
        carry = {"content_b64": "", "filename": ""} if "file" in exc.fields else {}
        return await _page(request, message=exc.message, status=422, **(ctx | carry))
    if dry_run:
        report = prepared.report
        return await _page(request, report=report, mapping=report.mapping, headers=report.headers, **ctx)
    user, ip = request["user"], client_ip(request)

    async def audited(s, written) -> None:
        await record(s, actor=user.email, user_id=user.id, action="subscriber.import", target="subscribers", ip=ip,
                     now=runtime.clock.now(), detail={"file": filename, "consent_source": consent_source,
                                                      "added": written.added,
                                                      "skipped": len(prepared.report.skipped) + len(written.skipped)})

    run_id = await import_runs.begin(runtime.db, prepared, opts, user.email)
    task = asyncio.create_task(import_runs.carry_out(runtime.db, run_id, prepared, opts, clock=runtime.clock,
                                                     on_done=audited), name=f"subscriber-import-{run_id}")
    request.app[RUNNING].add(task)
    task.add_done_callback(request.app[RUNNING].discard)
    raise web.HTTPSeeOther(f"/admin/subscribers/import/{run_id}")


async def run_page(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    async with runtime.db.reader() as s:
        run = await import_runs.progress(s, int(request.match_info["id"]), runtime.clock.now())
    if run is None:
        raise web.HTTPNotFound(text="Den import findes ikke.")
    headers = {"Refresh": "2"} if run.status == "running" else None
    return render(request, "admin/subscribers/import_run.html", {"run": run}, headers=headers)


async def _stop_imports(app: web.Application) -> None:
    for task in list(app[RUNNING]):
        task.cancel()
    await asyncio.gather(*app[RUNNING], return_exceptions=True)


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
    app[RUNNING] = set()
    app.on_cleanup.append(_stop_imports)
    app.router.add_get("/admin/subscribers/import", admins(form))
    app.router.add_post("/admin/subscribers/import", admins(submit))
    app.router.add_get("/admin/subscribers/import/{id:\\d+}", admins(run_page))
    app.router.add_get("/admin/subscribers/export.csv", admins(export))
