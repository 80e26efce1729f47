"""A subscriber's own page, opened by the signed link in every mail:

    /preferences              "send me my link" (GET form, POST)
    /preferences/{token}      choices (GET, POST), new address, copy of my data
    /confirm-email/{token}    confirm a new address (GET page, POST)
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from service.errors import Invalid
from service.web.keys import RUNTIME
from service.web.middleware import control_message, shows_field_errors
from service.web.public.pages import (
    choices_from,
    evidence,
    lang_of,
    opened,
    options,
    problem_page,
    rate_limited,
    too_many,
)
from service.web.templating import render
from subscribers import choices as chosen
from subscribers import lifecycle
from subscribers.access import GONE, INVALID
from subscribers.addresses import BadAddress
from subscribers.links import EMAIL_CHANGE, MANAGE


async def link_request_page(request: web.Request) -> web.Response:
    return render(request, "subscribers/link_request.html", {"lang": lang_of(request), "sent": False})


async def link_request(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    lang = lang_of(request)
    if await rate_limited(request, "link-ip"):
        return too_many(request, lang)
    form = await request.post()
    async with runtime.db.transaction() as s:
        await lifecycle.send_manage_link(runtime, s, str(form.get("email", "")), now=runtime.clock.now())
    return render(request, "subscribers/link_request.html", {"lang": lang, "sent": True})


async def preferences_page(request: web.Request, *, errors: dict[str, str] | None = None,
                           values: dict[str, Any] | None = None, notice: str = "", notice_address: str = "",
                           status: int = 200) -> web.Response:
    got = await opened(request, MANAGE)
    if got.problem:
        return problem_page(request, got.problem)
    sub = got.subscriber
    if sub.status != "active":
        return problem_page(request, GONE)
    runtime = request.app[RUNTIME]
    if values is None:
        async with runtime.db.reader() as s:
            values = await chosen.current(s, sub)
    ctx = {"lang": sub.language, "values": values, "errors": errors or {}, "notice": notice,
           "notice_address": notice_address, "pending_email": sub.pending_email, "token": request.match_info["token"],
           "unsubscribe_url": runtime.links.unsubscribe(sub.id, sub.token_version)}
    return render(request, "subscribers/preferences.html", {**ctx, **await options(request)}, status=status)


@shows_field_errors
async def preferences_save(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    got = await opened(request, MANAGE)
    if got.problem:
        return problem_page(request, got.problem)
    form = await request.post()
    choices = choices_from(form)
    if request.get("control_fields"):  # shown at the field; such text never goes near the database
        message = control_message(got.subscriber.language)
        return await preferences_page(request, errors={f: message for f in request["control_fields"]}, status=400)
    try:
        async with runtime.db.transaction() as s:
            await lifecycle.change_preferences(runtime, s, got.subscriber.id, choices, now=runtime.clock.now(),
                                               evidence=evidence(request))
    except Invalid as exc:
        async with runtime.db.reader() as s:
            values = await chosen.current(s, got.subscriber)
        values.update(topics=choices.topics, municipalities=choices.municipalities, audience=choices.audience,
                      frequency=choices.frequency, language=choices.language, name=choices.name,
                      organisation=choices.organisation)
        return await preferences_page(request, errors=exc.fields or {"topics": exc.message}, values=values, status=400)
    return await preferences_page(request, notice="saved")


@shows_field_errors
async def preferences_email(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    got = await opened(request, MANAGE)
    if got.problem:
        return problem_page(request, got.problem)
    if request.get("control_fields"):
        return await preferences_page(request, errors={"new_email": control_message(got.subscriber.language)},
                                      status=400)
    if await rate_limited(request, "link-ip"):
        return too_many(request, got.subscriber.language)
    form = await request.post()
    try:
        async with runtime.db.transaction() as s:
            address = await lifecycle.request_email_change(runtime, s, got.subscriber.id, str(form.get("new_email", "")),
                                                           now=runtime.clock.now())
    except (BadAddress, Invalid) as exc:
        return await preferences_page(request, errors={"new_email": str(getattr(exc, "message", exc))}, status=400)
    return await preferences_page(request, notice="email_sent", notice_address=address)


async def preferences_export(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    got = await opened(request, MANAGE)
    if got.problem:
        return problem_page(request, got.problem)
    async with runtime.db.transaction() as s:
        await lifecycle.request_export(runtime, s, got.subscriber.id, now=runtime.clock.now())
    return await preferences_page(request, notice="export_sent")


async def email_change_page(request: web.Request) -> web.Response:
    got = await opened(request, EMAIL_CHANGE)
    if got.problem:
        return problem_page(request, got.problem)
    return render(request, "subscribers/confirm_email.html",
                  {"lang": got.subscriber.language, "email": got.subscriber.pending_email or ""})


async def email_change(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    got = await opened(request, EMAIL_CHANGE)
    if got.problem:
        return problem_page(request, got.problem)
    sub = got.subscriber
    async with runtime.db.transaction() as s:
        ok = await lifecycle.confirm_email_change(runtime, s, sub.id, got.data.extra, now=runtime.clock.now(),
                                                  evidence=evidence(request))
    if not ok:
        return problem_page(request, INVALID)
    return render(request, "subscribers/email_changed.html", {
        "lang": sub.language, "link": runtime.links.preferences(sub.id, sub.token_version)})


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/preferences", link_request_page)
    r.add_post("/preferences", link_request)
    r.add_get("/preferences/{token}", preferences_page)
    r.add_post("/preferences/{token}", preferences_save)
    r.add_post("/preferences/{token}/email", preferences_email)
    r.add_post("/preferences/{token}/export", preferences_export)
    r.add_get("/confirm-email/{token}", email_change_page)
    r.add_post("/confirm-email/{token}", email_change)
