"""Admin: campaigns. List, compose, preview (sandboxed frame + text), test send,
schedule / reschedule / cancel, attachments, progress and report, correction.

Handlers parse, call one service, respond. Press officers run press releases, editors
newsletters, admins both (`_common.may`).
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from service.campaigns import attachments, compose, correction, schedule as sched
from service.campaigns.compose import KINDS, MEDIA_TYPES, CampaignForm
from service.campaigns.render import preview
from service.campaigns.report import campaign_report, delivery_counts
from service.campaigns.test_send import send_test
from service.campaigns.themes import list_themes
from service.campaigns.times import format_local, parse_local, to_local_input
from service.campaigns.view import KIND_LABELS, campaign_view
from service.db.models import Campaign, CampaignItem, Item
from service.errors import Invalid, NotFound
from service.staff.auth import require_role
from service.web.admin._common import audit, check_may, listed, may, user
from service.web.admin._common import page as render
from service.db.reference import Topic
from service.web.admin.flash import redirect
from service.web.admin.nav import NavLink, add
from service.web.keys import RUNTIME

PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data: https:; sandbox; frame-ancestors 'self'"


def _rt(request):
    return request.app[RUNTIME]


def _id(request, key="id") -> int:
    try:
        return int(request.match_info[key])
    except (KeyError, ValueError):
        raise NotFound("Siden findes ikke.") from None


async def _load(request, s) -> Campaign:
    c = await s.get(Campaign, _id(request))
    if c is None:
        raise NotFound("Kampagnen findes ikke.")
    check_may(request, c.kind)
    return c


async def _choices(s, runtime) -> dict:
    topics = (await s.execute(select(Topic.slug, Topic.name_da).where(Topic.retired.is_(False)).order_by(Topic.position))).all()
    items = (await s.execute(select(Item.id, Item.title, Item.kind).order_by(Item.published_at.desc()).limit(60))).all()
    return {
        "themes": list_themes(runtime.templates.root),
        "topics": [{"slug": t.slug, "name": t.name_da} for t in topics],
        "media_types": MEDIA_TYPES,
        "recent_items": [{"id": i.id, "title": i.title, "kind": i.kind} for i in items],
    }


def _form_view(c: Campaign | None, kind: str, item_ids: list[int], default_theme: str) -> dict:
    aud = (c.audience if c else {}) or {}
    press = aud.get("press") or {}
    return {
        "kind": c.kind if c else kind, "title": c.title if c else "", "lead": c.lead if c else "",
        "body_md": c.body_md if c else "", "theme": c.theme if c else default_theme, "focus": c.focus if c else "",
        "contact_name": c.contact_name if c else "", "contact_email": c.contact_email if c else "",
        "contact_phone": c.contact_phone if c else "", "media_types": press.get("media_types", []),
        "regions": ", ".join(press.get("regions", [])), "beats": ", ".join(press.get("beats", [])),
        "topics": aud.get("topics", []), "item_ids": item_ids,
    }


def _parse_form(form, kind: str) -> CampaignForm:
    item_ids = []
    for v in listed(form, "item_ids"):
        if v.isdigit():
            item_ids.append(int(v))
    return CampaignForm(
        kind=kind, title=str(form.get("title", "")), lead=str(form.get("lead", "")), body_md=str(form.get("body_md", "")),
        theme=str(form.get("theme", "standard")), focus=str(form.get("focus", "")),
        contact_name=str(form.get("contact_name", "")), contact_email=str(form.get("contact_email", "")),
        contact_phone=str(form.get("contact_phone", "")), media_types=listed(form, "media_types"),
        regions=listed(form, "regions"), beats=listed(form, "beats"), topics=listed(form, "topics"), item_ids=item_ids,
    )


async def index(request: web.Request) -> web.Response:
    runtime = _rt(request)
    tz = runtime.settings.service.tz()
    kinds = [k for k in KINDS if may(request, k)]
    async with runtime.db.reader() as s:
        rows = (await s.scalars(select(Campaign).where(Campaign.kind.in_(kinds)).order_by(Campaign.id.desc()).limit(200))).all()
        counts = await delivery_counts(s, [c.id for c in rows])
    view = [{
        "id": c.id, "kind_label": KIND_LABELS[c.kind]["da"], "title": c.title, "status": c.status,
        "scheduled": format_local(c.scheduled_at, tz) if c.scheduled_at else "",
        "embargo": format_local(c.embargo_until, tz) if c.embargo_until else "",
        "sent": counts.get(c.id, {}).get("sent", 0), "total": sum(counts.get(c.id, {}).values()),
        "is_correction": c.corrects_id is not None,
    } for c in rows]
    return render(request, "admin/campaigns/index.html", {"campaigns": view, "kinds": kinds, "kind_labels": KIND_LABELS})


async def new_form(request: web.Request) -> web.Response:
    kind = request.query.get("kind", "press_release")
    if kind not in KINDS:
        raise NotFound("Ukendt slags udsendelse.")
    check_may(request, kind)
    runtime = _rt(request)
    async with runtime.db.reader() as s:
        choices = await _choices(s, runtime)
    form = _form_view(None, kind, [], runtime.settings.campaigns.default_theme)
    if kind == "press_release":
        form["topics"] = []
    return render(request, "admin/campaigns/edit.html", {"c": None, "form": form, "errors": {}, **choices})


async def create(request: web.Request) -> web.Response:
    data = await request.post()
    kind = str(data.get("kind", ""))
    if kind not in KINDS:
        raise NotFound("Ukendt slags udsendelse.")
    check_may(request, kind)
    runtime = _rt(request)
    form = _parse_form(data, kind)
    try:
        async with runtime.db.transaction() as s:
            cid = await compose.create_campaign(s, form, now=runtime.clock.now(), templates_root=runtime.templates.root,
                                                user_id=user(request).id)
            await audit(request, s, "campaign.create", f"campaign:{cid}", kind=kind)
    except Invalid as exc:
        async with runtime.db.reader() as s:
            choices = await _choices(s, runtime)
        return render(request, "admin/campaigns/edit.html", {
            "c": None, "form": vars(form) | {"regions": ", ".join(form.regions), "beats": ", ".join(form.beats)},
            "errors": exc.fields, "message": exc.message, **choices}, status=422)
    raise web.HTTPSeeOther(f"/admin/campaigns/{cid}")


async def show(request: web.Request) -> web.Response:
    return await _show(request)


async def _show(request: web.Request, form: dict | None = None, errors: dict | None = None, message: str = "",
                status: int = 200) -> web.Response:
    runtime = _rt(request)
    tz = runtime.settings.service.tz()
    async with runtime.db.reader() as s:
        c = await _load(request, s)
        item_ids = list((await s.scalars(select(CampaignItem.item_id).where(CampaignItem.campaign_id == c.id)
                                         .order_by(CampaignItem.position))).all())
        view = await campaign_view(s, c, tz, runtime.settings.service.base_url)
        report = await campaign_report(s, c.id, with_lines=c.status in ("sending", "sent"))
        choices = await _choices(s, runtime)
        corrections = (await s.execute(select(Campaign.id, Campaign.title, Campaign.status)
                                       .where(Campaign.corrects_id == c.id))).all()
    ctx = {
        "c": view, "form": form or _form_view(c, c.kind, item_ids, c.theme), "errors": errors or {},
        "message": message, "report": report,
        "editable": c.status in compose.EDITABLE,
        "scheduled_input": to_local_input(c.scheduled_at, tz), "embargo_input": to_local_input(c.embargo_until, tz),
        "scheduled_label": format_local(c.scheduled_at, tz) if c.scheduled_at else "",
        "embargo_label": format_local(c.embargo_until, tz) if c.embargo_until else "",
        "corrections": [{"id": r.id, "title": r.title, "status": r.status} for r in corrections],
        "me": user(request).email, **choices,
    }
    headers = {"Refresh": "5"} if c.status == "sending" else None
    return render(request, "admin/campaigns/show.html", ctx, headers=headers, status=status)


async def save(request: web.Request) -> web.Response:
    runtime = _rt(request)
    data = await request.post()
    async with runtime.db.reader() as s:
        c = await _load(request, s)
    form = _parse_form(data, c.kind)
    try:
        async with runtime.db.transaction() as s:
            await compose.update_campaign(s, c.id, form, now=runtime.clock.now(), templates_root=runtime.templates.root)
            await audit(request, s, "campaign.edit", f"campaign:{c.id}")
    except Invalid as exc:  # show the page again with what was typed and what is wrong
        typed = vars(form) | {"regions": ", ".join(form.regions), "beats": ", ".join(form.beats)}
        return await _show(request, typed, exc.fields, exc.message, status=422)
    raise web.HTTPSeeOther(f"/admin/campaigns/{c.id}#gemt")


async def preview_page(request: web.Request) -> web.Response:
    runtime = _rt(request)
    part = request.query.get("part", "press")
    async with runtime.db.reader() as s:
        c = await _load(request, s)
        msg = await preview(runtime, s, c.id, part=part if part in ("press", "sub") else "press")
    return render(request, "admin/campaigns/preview.html", {"c": {"id": c.id, "title": c.title, "kind": c.kind},
                                                            "subject": msg.subject, "text": msg.text, "part": part})


async def preview_html(request: web.Request) -> web.Response:
    """The HTML mail alone, for the sandboxed frame: no scripts, no forms, nothing fetched."""
    runtime = _rt(request)
    part = request.query.get("part", "press")
    async with runtime.db.reader() as s:
        c = await _load(request, s)
        msg = await preview(runtime, s, c.id, part=part if part in ("press", "sub") else "press")
    return web.Response(text=msg.html or "", content_type="text/html", charset="utf-8", headers={
        "Content-Security-Policy": PREVIEW_CSP, "X-Frame-Options": "SAMEORIGIN", "Cache-Control": "no-store"})


async def test(request: web.Request) -> web.Response:
    runtime = _rt(request)
    async with runtime.db.reader() as s:
        c = await _load(request, s)
    me = user(request).email
    await send_test(runtime, c.id, to=me)
    async with runtime.db.transaction() as s:
        await audit(request, s, "campaign.test_send", f"campaign:{c.id}", to=me)
    raise redirect(f"/admin/campaigns/{c.id}", "campaign-test-sent")


async def do_schedule(request: web.Request) -> web.Response:
    runtime = _rt(request)
    tz = runtime.settings.service.tz()
    data = await request.post()
    async with runtime.db.reader() as s:
        c = await _load(request, s)
    at = parse_local(str(data.get("scheduled_at", "")), tz, "scheduled_at")
    raw_embargo = str(data.get("embargo_until", "")).strip()
    embargo = parse_local(raw_embargo, tz, "embargo_until") if raw_embargo else None
    async with runtime.db.transaction() as s:
        await sched.schedule(s, c.id, scheduled_at=at, embargo_until=embargo, now=runtime.clock.now())
        await audit(request, s, "campaign.schedule", f"campaign:{c.id}", at=at.isoformat(),
                    embargo=embargo.isoformat() if embargo else None)
    raise web.HTTPSeeOther(f"/admin/campaigns/{c.id}")


async def do_unschedule(request: web.Request) -> web.Response:
    return await _simple(request, sched.unschedule, "campaign.unschedule")


async def do_cancel(request: web.Request) -> web.Response:
    return await _simple(request, sched.cancel, "campaign.cancel")


async def _simple(request, action, name) -> web.Response:
    runtime = _rt(request)
    async with runtime.db.reader() as s:
        c = await _load(request, s)
    async with runtime.db.transaction() as s:
        await action(s, c.id, now=runtime.clock.now())
        await audit(request, s, name, f"campaign:{c.id}")
    raise web.HTTPSeeOther(f"/admin/campaigns/{c.id}")


async def upload(request: web.Request) -> web.Response:
    runtime = _rt(request)
    cfg = runtime.settings.campaigns
    async with runtime.db.reader() as s:
        c = await _load(request, s)
    data = await request.post()
    f = data.get("attachment")
    if not isinstance(f, web.FileField):
        raise Invalid("Vælg en fil.", {"attachment": "Ingen fil"})
    content = f.file.read(cfg.attachment_max_bytes + 1)
    async with runtime.db.transaction() as s:
        att = await attachments.add_attachment(s, c.id, f.filename or "", content, max_bytes=cfg.attachment_max_bytes,
                                               total_bytes=cfg.attachments_total_bytes)
        await audit(request, s, "campaign.attach", f"campaign:{c.id}", attachment=att, size=len(content))
    raise web.HTTPSeeOther(f"/admin/campaigns/{c.id}")


async def remove_upload(request: web.Request) -> web.Response:
    runtime = _rt(request)
    async with runtime.db.reader() as s:
        c = await _load(request, s)
    async with runtime.db.transaction() as s:
        await attachments.remove_attachment(s, c.id, _id(request, "att"))
        await audit(request, s, "campaign.detach", f"campaign:{c.id}")
    raise web.HTTPSeeOther(f"/admin/campaigns/{c.id}")


async def correct(request: web.Request) -> web.Response:
    runtime = _rt(request)
    async with runtime.db.reader() as s:
        c = await _load(request, s)
    async with runtime.db.transaction() as s:
        fix = await correction.start_correction(s, c.id, now=runtime.clock.now(), user_id=user(request).id)
        await audit(request, s, "campaign.correct", f"campaign:{c.id}", correction=fix)
    raise web.HTTPSeeOther(f"/admin/campaigns/{fix}")


ROUTES = (
    ("GET", "/admin/campaigns", index),
    ("GET", "/admin/campaigns/new", new_form),
    ("POST", "/admin/campaigns/new", create),
    ("GET", "/admin/campaigns/{id:\\d+}", show),
    ("POST", "/admin/campaigns/{id:\\d+}", save),
    ("GET", "/admin/campaigns/{id:\\d+}/preview", preview_page),
    ("GET", "/admin/campaigns/{id:\\d+}/preview.html", preview_html),
    ("POST", "/admin/campaigns/{id:\\d+}/test", test),
    ("POST", "/admin/campaigns/{id:\\d+}/schedule", do_schedule),
    ("POST", "/admin/campaigns/{id:\\d+}/unschedule", do_unschedule),
    ("POST", "/admin/campaigns/{id:\\d+}/cancel", do_cancel),
    ("POST", "/admin/campaigns/{id:\\d+}/attachments", upload),
    ("POST", "/admin/campaigns/{id:\\d+}/attachments/{att:\\d+}/delete", remove_upload),
    ("POST", "/admin/campaigns/{id:\\d+}/correct", correct),
)


def setup(app: web.Application) -> None:
    add(app, NavLink("/admin/campaigns", "Udsendelser", order=20))
    protect = require_role("admin", "press", "editor")
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, protect(handler))
