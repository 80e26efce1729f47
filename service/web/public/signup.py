"""The signup page: `/` shows the form (GET) and signs up (POST).

Every answer to a signup is the same page, whoever the address belongs to.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from service.web.client import client_ip
from service.web.keys import RUNTIME
from service.web.middleware import CONTROL, control_message, shows_field_errors
from service.web.public.pages import FORMS, OPTIONS_SECONDS, choices_from, evidence, lang_of, options, too_many
from service.web.public.signup_queue import SIGNUPS
from service.web.templating import render
from subscribers.addresses import BadAddress, normalise
from subscribers.signups import Request

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


@shows_field_errors
async def signup(request: web.Request) -> web.Response:
    """Parse, hand the signup to the app's queue (it is written with those that arrive at the
    same moment: `signup_queue`), answer. Counted per address first, as before: a POST over
    the limit is told so whatever it holds."""
    runtime = request.app[RUNTIME]
    form = await request.post()
    lang = lang_of(request, str(form.get("language", "da")))
    email = str(form.get("email", ""))
    choices = choices_from(form)
    if request.get("control_fields"):  # shown at the field; such text never goes near the database
        return await _form_again(request, lang, email, choices,
                                 {f: control_message(lang) for f in request["control_fields"]})
    errors: dict[str, str] = {}
    address = None
    try:
        address = normalise(email, check_deliverability=runtime.settings.subscribers.check_deliverability)
    except BadAddress as exc:
        errors["email"] = str(exc)
    if str(form.get("consent", "")) != "yes":
        errors["consent"] = "Tick the box to give your consent." if lang == "en" else "Sæt flueben for at give dit samtykke."
    honeypot = bool(str(form.get(HONEYPOT, "")).strip())
    answer = await request.app[SIGNUPS].submit(runtime, Request(
        bucket=f"signup-ip:{client_ip(request)}", email=email, address=address, choices=choices,
        evidence=evidence(request), honeypot=honeypot, errors=errors))
    if answer.outcome == "too_many":
        return too_many(request, lang)
    if answer.outcome == "honeypot":
        log.info("signup: honeypot filled from %s; ignored", client_ip(request))
    elif answer.outcome == "invalid":
        return await _form_again(request, lang, email, choices, answer.errors)
    else:
        log.info("signup: %s", answer.outcome)
    return _thanks(request, lang)


async def _form_again(request: web.Request, lang: str, email: str, choices, errors: dict[str, str]) -> web.Response:
    """The form with what was typed (control characters taken out) and what is wrong."""
    clean = lambda text: CONTROL.sub("", text)  # noqa: E731
    values = {"email": clean(email), "name": clean(choices.name), "organisation": clean(choices.organisation),
              "topics": [clean(t) for t in choices.topics], "municipalities": [clean(m) for m in choices.municipalities],
              "audience": clean(choices.audience), "frequency": clean(choices.frequency),
              "language": clean(choices.language)}
    ctx = {"lang": lang, "values": values, "errors": errors,
           "consent_version": request.app[RUNTIME].settings.subscribers.consent_version}
    return render(request, "subscribers/signup.html", {**ctx, **await options(request)}, status=400)


def _thanks(request: web.Request, lang: str) -> web.Response:
    """The same page for every signup: rendered once per language (it holds no token)."""
    pages = request.app[FORMS].thanks_pages
    if lang not in pages:
        pages[lang] = render(request, "subscribers/thanks.html", {"lang": lang}).text
    return web.Response(text=pages[lang], content_type="text/html", charset="utf-8")


def setup(app: web.Application) -> None:
    app.router.add_get("/", signup_page)
    app.router.add_post("/", signup)
