"""Admin: campaigns, the editor. The list; one editor page for press releases and
newsletters (fields beside a live preview, theme, month's focus, contact, audience,
attachments, and whom it goes to when); save; attachments; correction of a sent one.

Sending (preview, test, schedule, cancel) is in `campaign_send`. Press officers run press
releases, editors newsletters, admins both (`_common.may`).
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from service.campaigns import attachments, compose, correction, merge
from service.campaigns.compose import KINDS, MEDIA_TYPES, CampaignForm
from service.campaigns.press_segments import list_segments
from service.campaigns.reach import reach, sentence
from service.campaigns.report import campaign_report, delivery_counts
from service.campaigns.themes import list_themes
from service.campaigns.times import to_local_fields, zone_label
from service.campaigns.view import campaign_view
from service.db.campaigns import Campaign, CampaignItem
from service.db.models import Item
from service.db.reference import Topic
from service.errors import Invalid, NotFound
from service.staff.auth import require_role
from service.web.admin._common import audit, check_may, listed, may, user
from service.web.admin._common import page as render
from service.web.admin.flash import redirect
from service.web.admin.nav import NavLink, add
from service.web.keys import RUNTIME
from service.web.middleware import FORM_BODY_BYTES, UPLOAD_BODY_BYTES, body_limit, control_message, shows_field_errors


def _rt(request):
    return request.app[RUNTIME]


def campaign_id(request, key="id") -> int:
    try:
        return int(request.match_info[key])
    except (KeyError, ValueError):
        raise NotFound("Siden findes ikke.") from None


async def load(request, s) -> Campaign:
    """The campaign of the address, if the staff member's role may work on its kind."""
    c = await s.get(Campaign, campaign_id(request))
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
        "segments": await list_segments(s),
        "recent_items": [{"id": i.id, "title": i.title, "kind": i.kind} for i in items],
        "merge_fields": merge.FIELDS,
    }


def form_view(c: Campaign | None, kind: str, item_ids: list[int], default_theme: str) -> dict:
    aud = (c.audience if c else {}) or {}
    press = aud.get("press") or {}
    return {
        "kind": c.kind if c else kind, "title": c.title if c else "", "lead": c.lead if c else "",
        "body_md": c.body_md if c else "", "theme": c.theme if c else default_theme, "focus": c.focus if c else "",
        "contact_name": c.contact_name if c else "", "contact_email": c.contact_email if c else "",
        "contact_phone": c.contact_phone if c else "", "media_types": press.get("media_types", []),
        "regions": ", ".join(press.get("regions", [])), "beats": ", ".join(press.get("beats", [])),
        "segment_id": press.get("segment_id"), "topics": aud.get("topics", []), "item_ids": item_ids,
    }


def parse_form(form, kind: str) -> CampaignForm:
    item_ids = [int(v) for v in listed(form, "item_ids") if v.isdigit()]
    seg = str(form.get("segment_id", ""))
    return CampaignForm(
        kind=kind, title=str(form.get("title", "")), lead=str(form.get("lead", "")), body_md=str(form.get("body_md", "")),
        theme=str(form.get("theme", "standard")), focus=str(form.get("focus", "")),
        contact_name=str(form.get("contact_name", "")), contact_email=str(form.get("contact_email", "")),
        contact_phone=str(form.get("contact_phone", "")), media_types=listed(form, "media_types"),
        regions=listed(form, "regions"), beats=listed(form, "beats"), topics=listed(form, "topics"), item_ids=item_ids,
        segment_id=int(seg) if seg.isdigit() else None,
    )


def typed(form: CampaignForm) -> dict:
    """What was typed, back into the form after a refusal."""
    return vars(form) | {"regions": ", ".join(form.regions), "beats": ", ".join(form.beats)}


async def index(request: web.Request) -> web.Response:
    runtime = _rt(request)
    kinds = [k for k in KINDS if may(request, k)]
    async with runtime.db.reader() as s:
        rows = (await s.scalars(select(Campaign).where(Campaign.kind.in_(kinds)).order_by(Campaign.id.desc()).limit(200))).all()
        counts = await delivery_counts(s, [c.id for c in rows])
    view = [{
        "id": c.id, "kind": c.kind, "title": c.title, "status": c.status, "scheduled_at": c.scheduled_at,
        "embargo_until": c.embargo_until, "sent": counts.get(c.id, {}).get("sent", 0),
        "total": sum(counts.get(c.id, {}).values()), "is_correction": c.corrects_id is not None,
    } for c in rows]
    return render(request, "admin/campaigns/index.html", {"campaigns": view, "kinds": kinds})


async def new_form(request: web.Request) -> web.Response:
    kind = request.query.get("kind", "press_release")
    if kind not in KINDS:
        raise NotFound("Ukendt slags udsendelse.")
    check_may(request, kind)
    runtime = _rt(request)
    async with runtime.db.reader() as s:
        choices = await _choices(s, runtime)
    form = form_view(None, kind, [], runtime.settings.campaigns.default_theme)
    return render(request, "admin/campaigns/editor.html", {"c": None, "form": form, "editable": True, **choices})


def _no_control_characters(request: web.Request) -> None:
    """Text with a control character (NUL cannot be stored) is an error at its field."""
    if request.get("control_fields"):
        raise Invalid("Ret de markerede felter.", {f: control_message() for f in request["control_fields"]})


@shows_field_errors
@body_limit(FORM_BODY_BYTES)
async def create(request: web.Request) -> web.Response:
    data = await request.post()
    kind = str(data.get("kind", ""))
    if kind not in KINDS:
        raise NotFound("Ukendt slags udsendelse.")
    check_may(request, kind)
    runtime = _rt(request)
    form = parse_form(data, kind)
    try:
        _no_control_characters(request)
        async with runtime.db.transaction() as s:
            cid = await compose.create_campaign(s, form, now=runtime.clock.now(), templates_root=runtime.templates.root,
                                                user_id=user(request).id)
            await audit(request, s, "campaign.create", f"campaign:{cid}", kind=kind)
    except Invalid as exc:
        async with runtime.db.reader() as s:
            choices = await _choices(s, runtime)
        return render(request, "admin/campaigns/editor.html", {
            "c": None, "form": typed(form), "editable": True, "errors": exc.fields, "message": exc.message, **choices},
            status=422)
    raise redirect(f"/admin/campaigns/{cid}", "campaign-created")


async def show(request: web.Request) -> web.Response:
    return await editor(request)


async def editor(request: web.Request, form: dict | None = None, errors: dict | None = None, message: str = "",
                 status: int = 200, schedule_typed: dict | None = None) -> web.Response:
    runtime = _rt(request)
    tz = runtime.settings.service.tz()
    async with runtime.db.reader() as s:
        c = await load(request, s)
        item_ids = list((await s.scalars(select(CampaignItem.item_id).where(CampaignItem.campaign_id == c.id)
                                         .order_by(CampaignItem.position))).all())
        view = await campaign_view(s, c, tz, runtime.settings.service.base_url)
        report = await campaign_report(s, c.id, with_lines=c.status in ("sending", "sent", "failed"))
        choices = await _choices(s, runtime)
        corrections = (await s.execute(select(Campaign.id, Campaign.title, Campaign.status)
                                       .where(Campaign.corrects_id == c.id))).all()
        who = await reach(s, c, runtime.settings.campaigns.press_topic)
    sched_date, sched_time = to_local_fields(c.scheduled_at, tz)
    emb_date, emb_time = to_local_fields(c.embargo_until, tz)
    ctx = {
        "c": view, "form": form or form_view(c, c.kind, item_ids, c.theme), "errors": errors or {},
        "message": message, "report": report, "editable": c.status in compose.EDITABLE,
        "reach": sentence(c.kind, who, tz, c.scheduled_at if c.status == "scheduled" else None,
                          c.embargo_until if c.status == "scheduled" else None),
        "schedule": schedule_typed or {"date": sched_date, "time": sched_time, "embargo_date": emb_date,
                                       "embargo_time": emb_time},
        "zone": zone_label(c.scheduled_at or runtime.clock.now(), tz),
        "corrections": [{"id": r.id, "title": r.title, "status": r.status} for r in corrections],
        "my_address": user(request).email, **choices,
    }
    headers = {"Refresh": "5"} if c.status == "sending" else None
    return render(request, "admin/campaigns/editor.html", ctx, headers=headers, status=status)


@shows_field_errors
@body_limit(FORM_BODY_BYTES)
async def save(request: web.Request) -> web.Response:
    runtime = _rt(request)
    data = await request.post()
    async with runtime.db.reader() as s:
        c = await load(request, s)
    form = parse_form(data, c.kind)
    try:
        _no_control_characters(request)
        async with runtime.db.transaction() as s:
            await compose.update_campaign(s, c.id, form, now=runtime.clock.now(), templates_root=runtime.templates.root)
            await audit(request, s, "campaign.edit", f"campaign:{c.id}")
    except Invalid as exc:  # show the page again with what was typed and what is wrong
        return await editor(request, typed(form), exc.fields, exc.message, status=422)
    raise redirect(f"/admin/campaigns/{c.id}", "campaign-saved")


@body_limit(UPLOAD_BODY_BYTES)
async def upload(request: web.Request) -> web.Response:
    runtime = _rt(request)
    cfg = runtime.settings.campaigns
    async with runtime.db.reader() as s:
        c = await load(request, s)
    data = await request.post()
    f = data.get("attachment")
    if not isinstance(f, web.FileField):
        raise Invalid("Vælg en fil.", {"attachment": "Ingen fil"})
    content = f.file.read(cfg.attachment_max_bytes + 1)
    async with runtime.db.transaction() as s:
        att = await attachments.add_attachment(s, c.id, f.filename or "", content, max_bytes=cfg.attachment_max_bytes,
                                               total_bytes=cfg.attachments_total_bytes)
        await audit(request, s, "campaign.attach", f"campaign:{c.id}", attachment=att, size=len(content))
    raise redirect(f"/admin/campaigns/{c.id}#bilag", "campaign-attached")


async def remove_upload(request: web.Request) -> web.Response:
    runtime = _rt(request)
    async with runtime.db.reader() as s:
        c = await load(request, s)
    async with runtime.db.transaction() as s:
        await attachments.remove_attachment(s, c.id, campaign_id(request, "att"))
        await audit(request, s, "campaign.detach", f"campaign:{c.id}")
    raise redirect(f"/admin/campaigns/{c.id}#bilag", "campaign-detached")


async def correct(request: web.Request) -> web.Response:
    runtime = _rt(request)
    async with runtime.db.reader() as s:
        c = await load(request, s)
    async with runtime.db.transaction() as s:
        fix = await correction.start_correction(s, c.id, now=runtime.clock.now(), user_id=user(request).id)
        await audit(request, s, "campaign.correct", f"campaign:{c.id}", correction=fix)
    raise redirect(f"/admin/campaigns/{fix}", "campaign-created")


ROUTES = (
    ("GET", "/admin/campaigns", index),
    ("GET", "/admin/campaigns/new", new_form),
    ("POST", "/admin/campaigns/new", create),
    ("GET", "/admin/campaigns/{id:\\d+}", show),
    ("POST", "/admin/campaigns/{id:\\d+}", save),
    ("POST", "/admin/campaigns/{id:\\d+}/attachments", upload),
    ("POST", "/admin/campaigns/{id:\\d+}/attachments/{att:\\d+}/delete", remove_upload),
    ("POST", "/admin/campaigns/{id:\\d+}/correct", correct),
)


def setup(app: web.Application) -> None:
    add(app, NavLink("/admin/campaigns", "Udsendelser", order=20))
    protect = require_role("admin", "press", "editor")
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, protect(handler))
