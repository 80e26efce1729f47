"""The signup page: `/` shows the form (GET) and signs up (POST).

Every answer to a signup is the same page, whoever the address belongs to.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from service.web.client import client_ip
from service.web.keys import RUNTIME
from service.web.public.pages import FORMS, OPTIONS_SECONDS, choices_from, evidence, lang_of, options, rate_limited, too_many
from service.web.templating import render
from subscribers import lifecycle
from subscribers.addresses import BadAddress, normalise

log = logging.getLogger(__name__)

HONEYPOT = "website"  # hidden from people; bots fill it in
TOKEN_SLOT = "BBCSRFTOKENSLOT"
EMPTY = {"email": "", "name": "", "organisation": "", "audience": "", "frequency": "immediate", "topics": [],
         "municipalities": []}


async def signup_page(request: web.Request) -> web.Response:
    """The empty form: the same for every visitor but their CSRF token, so it is rendered
    once per language and `OPTIONS_SECONDS` (rendering was half of a view's time)."""
    lang = lang_of(request)
    pages = request.app[FORMS].signup_pages
    cached = pages.get(lang)
    if cached is None or time.monotonic() - cached[0] >= OPTIONS_SECONDS:
        ctx = {"lang": lang, "values": {**EMPTY, "language": lang}, "errors": {}, "csrf_token": TOKEN_SLOT,
               "consent_version": request.app[RUNTIME].settings.subscribers.consent_version}
        html = render(request, "subscribers/signup.html", {**ctx, **await options(request)}).text
        cached = pages[lang] = (time.monotonic(), html)
    # The token is URL-safe base64 (nothing to escape) and the slot occurs once, in the form.
    html = cached[1].replace(TOKEN_SLOT, request["csrf_token"])
    return web.Response(text=html, content_type="text/html", charset="utf-8")


async def signup(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    form = await request.post()
    lang = lang_of(request, str(form.get("language", "da")))
    if await rate_limited(request, "signup-ip"):
        return too_many(request, lang)
    thanks = render(request, "subscribers/thanks.html", {"lang": lang})
    if str(form.get(HONEYPOT, "")).strip():
        log.info("signup: honeypot filled from %s; ignored", client_ip(request))
        return thanks
    email = str(form.get("email", ""))
    choices = choices_from(form)
    errors: dict[str, str] = {}
    try:
        normalise(email, check_deliverability=runtime.settings.subscribers.check_deliverability)
    except BadAddress as exc:
        errors["email"] = str(exc)
    if str(form.get("consent", "")) != "yes":
        errors["consent"] = "Sæt flueben for at give dit samtykke."
    async with runtime.db.reader() as s:
        errors.update(await lifecycle.check_choices(s, choices))
    if errors:
        values = {"email": email, "name": choices.name, "organisation": choices.organisation, "topics": choices.topics,
                  "municipalities": choices.municipalities, "audience": choices.audience,
                  "frequency": choices.frequency, "language": choices.language}
        ctx = {"lang": lang, "values": values, "errors": errors,
               "consent_version": runtime.settings.subscribers.consent_version}
        return render(request, "subscribers/signup.html", {**ctx, **await options(request)}, status=400)
    async with runtime.db.transaction() as s:
        outcome = await lifecycle.signup(runtime, s, email, choices, now=runtime.clock.now(), evidence=evidence(request))
    log.info("signup: %s", outcome)
    return thanks


def setup(app: web.Application) -> None:
    app.router.add_get("/", signup_page)
    app.router.add_post("/", signup)
