"""Admin: a campaign on its way out. Preview (the saved campaign, and the editor's live
preview of what is typed, both in a sandboxed frame, with the text part beside it), test
send to oneself, schedule and cancel, each asking for confirmation with whom it goes to
and when."""

from __future__ import annotations

import html

from aiohttp import web

from service.campaigns import schedule as sched
from service.campaigns.compose import KINDS, validate
from service.campaigns.reach import reach, sentence
from service.campaigns.render import preview, preview_part, preview_unsaved
from service.campaigns.test_send import send_test
from service.campaigns.times import parse_danish, parse_local, zone_label
from service.db.campaigns import Campaign
from service.errors import Conflict, Invalid, NotFound
from service.staff.auth import require_role
from service.web.admin._common import audit, check_may, user
from service.web.admin._common import page as render
from service.web.admin.campaigns import editor, load, parse_form
from service.web.admin.flash import redirect
from service.web.keys import RUNTIME

PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data: https:; sandbox; frame-ancestors 'self'"
FRAME_HEADERS = {"Content-Security-Policy": PREVIEW_CSP, "X-Frame-Options": "SAMEORIGIN", "Cache-Control": "no-store"}
# The text part as a reader's plain-text client shows it: monospace, long lines wrapped at the frame's edge.
TEXT_PAGE = ('<!doctype html><html lang="da"><meta charset="utf-8"><title>Tekstudgave</title>'
             '<style>body{margin:.6rem;font:14px/1.45 ui-monospace,Menlo,Consolas,monospace;color:#1b1b1b}'
             'pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:0;font:inherit}</style><pre>{text}</pre></html>')


def _frame(body: str) -> web.Response:
    return web.Response(text=body or "", content_type="text/html", charset="utf-8", headers=FRAME_HEADERS)


def _text_frame(text: str) -> web.Response:
    return _frame(TEXT_PAGE.replace("{text}", html.escape(text or "")))


def _part(request, kind: str) -> str:
    return preview_part(kind, request.query.get("part", "press"))


async def preview_page(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    async with runtime.db.reader() as s:
        c = await load(request, s)
        part = _part(request, c.kind)
        msg = await preview(runtime, s, c.id, part=part, reader_name=user(request).name)
    return render(request, "admin/campaigns/preview.html", {"c": {"id": c.id, "title": c.title, "kind": c.kind},
                                                            "subject": msg.subject, "text": msg.text, "part": part})


async def preview_html(request: web.Request) -> web.Response:
    """The saved campaign's HTML mail alone, for the sandboxed frame: no scripts, no forms, nothing fetched."""
    runtime = request.app[RUNTIME]
    async with runtime.db.reader() as s:
        c = await load(request, s)
        msg = await preview(runtime, s, c.id, part=_part(request, c.kind), reader_name=user(request).name)
    return _frame(msg.html)


async def preview_text(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    async with runtime.db.reader() as s:
        c = await load(request, s)
        msg = await preview(runtime, s, c.id, part=_part(request, c.kind), reader_name=user(request).name)
    return _text_frame(msg.text)


async def live_preview(request: web.Request) -> web.Response:
    """The editor's live preview: the form as typed, not saved (POSTed into the frame)."""
    runtime = request.app[RUNTIME]
    data = await request.post()
    kind = str(data.get("kind", ""))
    if kind not in KINDS:
        raise NotFound("Ukendt slags udsendelse.")
    check_may(request, kind)
    form = parse_form(data, kind)
    try:
        validate(form, runtime.templates.root)
    except Invalid as exc:
        if "theme" in exc.fields:
            form.theme = runtime.settings.campaigns.default_theme
    c = Campaign(id=None, kind=kind, status="draft", title=form.title or "(uden overskrift)", lead=form.lead,
                 body_md=form.body_md, theme=form.theme, focus=form.focus, contact_name=form.contact_name,
                 contact_email=form.contact_email, contact_phone=form.contact_phone, audience=form.audience(),
                 corrects_id=None, embargo_until=None, scheduled_at=None)
    async with runtime.db.reader() as s:
        msg = await preview_unsaved(runtime, s, c, form.item_ids, part=str(data.get("part", "press")),
                                    reader_name=user(request).name)
    return _text_frame(msg.text) if request.match_info.get("fmt") == "txt" else _frame(msg.html)


async def test(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    async with runtime.db.reader() as s:
        c = await load(request, s)
    me = user(request)
    await send_test(runtime, c.id, to=me.email, name=me.name)
    async with runtime.db.transaction() as s:
        await audit(request, s, "campaign.test_send", f"campaign:{c.id}", to=me.email)
    raise redirect(f"/admin/campaigns/{c.id}", "campaign-test-sent")


def _times(data, tz):
    """The send time and embargo typed in the editor (Danish date and time fields; the
    'YYYY-MM-DDTHH:MM' form is still taken, from scripts)."""
    if data.get("scheduled_at"):
        at = parse_local(str(data.get("scheduled_at")), tz, "scheduled_at")
    else:
        at = parse_danish(str(data.get("date", "")), str(data.get("time", "")), tz, "scheduled_at")
    embargo = None
    if str(data.get("embargo_until", "")).strip():
        embargo = parse_local(str(data.get("embargo_until")), tz, "embargo_until")
    elif str(data.get("embargo_date", "")).strip() or str(data.get("embargo_time", "")).strip():
        embargo = parse_danish(str(data.get("embargo_date", "")) or str(data.get("date", "")),
                               str(data.get("embargo_time", "")), tz, "embargo_until")
    return at, embargo


async def do_schedule(request: web.Request) -> web.Response:
    """First answer: what will happen (whom, when), with a button that says yes. Then schedule."""
    runtime = request.app[RUNTIME]
    tz = runtime.settings.service.tz()
    data = await request.post()
    typed = {k: str(data.get(k, "")) for k in ("date", "time", "embargo_date", "embargo_time")}
    try:
        at, embargo = _times(data, tz)
        async with runtime.db.reader() as s:
            c = await load(request, s)
            sched.check(c, scheduled_at=at, embargo_until=embargo, now=runtime.clock.now())
            who = await reach(s, c, runtime.settings.campaigns.press_topic)
    except Invalid as exc:
        return await editor(request, errors=exc.fields, message=exc.message, status=422, schedule_typed=typed)
    if data.get("confirm") != "1":
        return render(request, "admin/campaigns/confirm.html", {
            "c": {"id": c.id, "title": c.title, "kind": c.kind}, "action": "schedule",
            "question": "Planlæg udsendelsen?", "sentence": sentence(c.kind, who, tz, at, embargo),
            "zone": zone_label(at, tz), "fields": typed | {"scheduled_at": str(data.get("scheduled_at", "")),
                                                           "embargo_until": str(data.get("embargo_until", ""))},
            "yes": "Ja, planlæg udsendelsen"})
    async with runtime.db.transaction() as s:
        await sched.schedule(s, c.id, scheduled_at=at, embargo_until=embargo, now=runtime.clock.now())
        await audit(request, s, "campaign.schedule", f"campaign:{c.id}", at=at.isoformat(),
                    embargo=embargo.isoformat() if embargo else None, press=who.press, subscribers=who.subscribers)
    runtime.nudges.campaigns()  # a scheduler in this process sets its timer for the moment now
    raise redirect(f"/admin/campaigns/{c.id}", "campaign-scheduled")


async def do_unschedule(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    async with runtime.db.reader() as s:
        c = await load(request, s)
    async with runtime.db.transaction() as s:
        await sched.unschedule(s, c.id, now=runtime.clock.now())
        await audit(request, s, "campaign.unschedule", f"campaign:{c.id}")
    runtime.nudges.campaigns()
    raise redirect(f"/admin/campaigns/{c.id}", "campaign-unscheduled")


async def do_cancel(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    data = await request.post()
    async with runtime.db.reader() as s:
        c = await load(request, s)
        if c.status not in ("draft", "scheduled"):
            raise Conflict("Udsendelsen er allerede begyndt og kan ikke annulleres.")
        if data.get("confirm") != "1":
            who = await reach(s, c, runtime.settings.campaigns.press_topic)
            tz = runtime.settings.service.tz()
            return render(request, "admin/campaigns/confirm.html", {
                "c": {"id": c.id, "title": c.title, "kind": c.kind}, "action": "cancel",
                "question": "Annullér udsendelsen?", "zone": "",
                "sentence": "Den bliver ikke sendt til nogen, og den kan ikke planlægges igen. "
                            + sentence(c.kind, who, tz).replace("Går til", "Den ville være gået til"),
                "fields": {}, "yes": "Ja, annullér udsendelsen"})
    async with runtime.db.transaction() as s:
        await sched.cancel(s, c.id, now=runtime.clock.now())
        await audit(request, s, "campaign.cancel", f"campaign:{c.id}")
    raise redirect(f"/admin/campaigns/{c.id}", "campaign-cancelled")


ROUTES = (
    ("GET", "/admin/campaigns/{id:\\d+}/preview", preview_page),
    ("GET", "/admin/campaigns/{id:\\d+}/preview.html", preview_html),
    ("GET", "/admin/campaigns/{id:\\d+}/preview.txt", preview_text),
    ("POST", "/admin/campaigns/live-preview.{fmt:html|txt}", live_preview),
    ("POST", "/admin/campaigns/{id:\\d+}/test", test),
    ("POST", "/admin/campaigns/{id:\\d+}/schedule", do_schedule),
    ("POST", "/admin/campaigns/{id:\\d+}/unschedule", do_unschedule),
    ("POST", "/admin/campaigns/{id:\\d+}/cancel", do_cancel),
)


def setup(app: web.Application) -> None:
    protect = require_role("admin", "press", "editor")
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, protect(handler))
