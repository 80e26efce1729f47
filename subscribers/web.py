"""The public pages of a subscription, in Danish first (`?lang=en` or the subscriber's language).

    /                         signup form (GET), sign up (POST)
    /confirm/{token}          a page with one button (GET); confirm (POST); expired: ask for a new link
    /preferences              "send me my link" (GET form, POST)
    /preferences/{token}      choices (GET, POST), new address, copy of my data
    /confirm-email/{token}    confirm a new address (GET page, POST)
    /unsubscribe/{token}      a page with a button (GET); leave (POST), RFC 8058 one-click included
    /feedback/{token}/ja|nej  "Var det nyttigt?" (GET page, POST records)

GET and HEAD never change anything: link scanners in mail systems follow every link.
Every answer to a signup is the same page, whoever the address belongs to.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from service.db.models import Item, RateEvent
from service.errors import Invalid
from service.web.client import client_ip
from service.web.keys import RUNTIME
from service.web.middleware import csrf_exempt
from service.web.templating import render
from subscribers import lifecycle
from subscribers.addresses import BadAddress, normalise
from subscribers.links import CONFIRM, EMAIL_CHANGE, FEEDBACK, MANAGE, UNSUBSCRIBE
from subscribers.models import FREQUENCIES, Audience, Municipality, Subscriber, Topic, subscriber_municipalities, subscriber_topics
from subscribers.tokens import TokenExpired, TokenInvalid

log = logging.getLogger(__name__)

HONEYPOT = "website"  # hidden from people; bots fill it in
TOPIC_GROUPS = (
    ("Tal og analyser", "Figures and analyses", ("ledighedstal", "analyser", "resultater", "flaskehalse")),
    ("Jobcentrenes arbejde", "Job centre practice", ("best-practice", "retningslinjer", "beskaeftigelsesplan", "forsoeg")),
    ("Virksomheder", "Companies", ("virksomheder",)),
    ("Presse og arrangementer", "Press and events", ("presse", "arrangementer")),
)


# ------------------------------------------------------------------ helpers


def _lang(request: web.Request, default: str = "da") -> str:
    lang = request.query.get("lang", default)
    return lang if lang in ("da", "en") else "da"


async def _rate_limited(request: web.Request, bucket: str, limit: int, window: timedelta) -> bool:
    """Count this request in a shared bucket; True when over the limit (then nothing is done)."""
    runtime = request.app[RUNTIME]
    now = runtime.clock.now()
    key = f"{bucket}:{client_ip(request)}"
    # Counted up to the limit only: the work per request stays bounded however many events
    # a bucket holds (all of a load test's requests come from one address).
    recent = (select(RateEvent.id).where(RateEvent.bucket == key, RateEvent.at > now - window)
              .limit(limit).subquery())
    async with runtime.db.transaction() as s:
        used = await s.scalar(select(func.count()).select_from(recent))
        if used >= limit:
            return True
        s.add(RateEvent(bucket=key, at=now))
    return False


def _too_many(request: web.Request, lang: str) -> web.Response:
    msg = ("Der er sendt mange tilmeldinger fra din forbindelse. Vent en time, og prøv igen."
           if lang == "da" else "Many signups came from your connection. Please wait an hour and try again.")
    return render(request, "subscribers/message.html", {"lang": lang, "title": "Prøv igen senere" if lang == "da"
                  else "Try again later", "message": msg}, status=429, headers={"Retry-After": "3600"})


async def _subscriber_from(request: web.Request, purpose: str) -> tuple[Subscriber | None, Any, str | None]:
    """(subscriber, token data, problem) for the token in the URL. Problem: invalid, expired, gone."""
    runtime = request.app[RUNTIME]
    try:
        data = runtime.links.signer.read(request.match_info["token"], purpose)
    except TokenExpired as exc:
        return None, exc, "expired"
    except TokenInvalid:
        return None, None, "invalid"
    async with runtime.db.reader() as s:
        sub = await s.get(Subscriber, data.subject_id)
        if sub is None:
            return None, data, "gone"
        if sub.token_version != data.version:
            return None, data, "invalid"
        s.expunge(sub)
    return sub, data, None


def _problem(request: web.Request, problem: str, lang: str = "da") -> web.Response:
    texts = {
        "invalid": ("Linket virker ikke", "Linket er ugyldigt eller ændret. Brug linket fra den nyeste mail, "
                    "eller bed om et nyt link til dit abonnement.", 400),
        "expired": ("Linket er udløbet", "Linket er for gammelt. Bed om et nyt link til dit abonnement.", 410),
        "gone": ("Abonnementet findes ikke", "Vi har ikke længere et abonnement til dette link.", 404),
    }
    title, message, status = texts[problem]
    return render(request, "subscribers/message.html", {"lang": lang, "title": title, "message": message,
                                                        "link": "/preferences", "link_label": "Få et nyt link"},
                  status=status)


OPTIONS_SECONDS = 30.0
_OPTIONS = "subscribers_form_options"  # runtime.state key: (monotonic time, options)


async def _options(request: web.Request) -> dict[str, Any]:
    """Topics (grouped), municipalities and roles for the forms, read at most every
    `OPTIONS_SECONDS` per process: they change when an admin edits topics, not per visitor,
    and three queries per page view were the largest part of the signup page's time."""
    state = request.app[RUNTIME].state
    cached = state.get(_OPTIONS)
    if cached is not None and time.monotonic() - cached[0] < OPTIONS_SECONDS:
        return cached[1]
    options = await _read_options(request)
    state[_OPTIONS] = (time.monotonic(), options)
    return options


def forget_options(runtime) -> None:
    """Called when topics change, so the forms show them at once in this process."""
    runtime.state.pop(_OPTIONS, None)
    runtime.state.pop(_PAGE, None)


async def _read_options(request: web.Request) -> dict[str, Any]:
    async with request.app[RUNTIME].db.reader() as s:
        topics = (await s.scalars(select(Topic).where(Topic.retired.is_(False)).order_by(Topic.position, Topic.id))).all()
        municipalities = (await s.execute(select(Municipality.code, Municipality.name).order_by(Municipality.name))).all()
        audiences = (await s.scalars(select(Audience).order_by(Audience.position, Audience.id))).all()
    by_slug = {t.slug: t for t in topics}
    groups, placed = [], set()
    for name_da, name_en, slugs in TOPIC_GROUPS:
        members = [by_slug[s] for s in slugs if s in by_slug]
        placed.update(t.slug for t in members)
        if members:
            groups.append({"da": name_da, "en": name_en, "topics": members})
    rest = [t for t in topics if t.slug not in placed]  # topics admins added later
    if rest:
        groups.append({"da": "Andre emner", "en": "Other topics", "topics": rest})
    return {"topic_groups": groups, "municipalities": [{"code": c, "name": n} for c, n in municipalities],
            "audiences": audiences, "frequencies": FREQUENCIES}


def _choices_from(form) -> lifecycle.Choices:
    return lifecycle.Choices(
        topics=[str(v) for v in form.getall("topics", [])][:50],
        municipalities=[str(v) for v in form.getall("municipalities", [])][:30],
        audience=str(form.get("audience", ""))[:64], frequency=str(form.get("frequency", "immediate")),
        language=str(form.get("language", "da")), name=str(form.get("name", "")), organisation=str(form.get("organisation", "")),
    )


def _evidence(request: web.Request, source: str = "web") -> lifecycle.Evidence:
    return lifecycle.Evidence(source=source, ip=client_ip(request), user_agent=request.headers.get("User-Agent"))


# ------------------------------------------------------------------ signup


_PAGE = "subscribers_signup_page"  # runtime.state key: {lang: (monotonic time, html with the token slot)}
_TOKEN_SLOT = "BBCSRFTOKENSLOT"


async def signup_page(request: web.Request) -> web.Response:
    """The empty form: the same for every visitor but their CSRF token, so it is rendered
    once per language and `OPTIONS_SECONDS` (rendering was half of a view's time)."""
    lang = _lang(request)
    pages = request.app[RUNTIME].state.setdefault(_PAGE, {})
    cached = pages.get(lang)
    if cached is None or time.monotonic() - cached[0] >= OPTIONS_SECONDS:
        values = {"email": "", "name": "", "organisation": "", "audience": "", "frequency": "immediate",
                  "language": lang, "topics": [], "municipalities": []}
        ctx = {"lang": lang, "values": values, "errors": {}, "csrf_token": _TOKEN_SLOT,
               "consent_version": request.app[RUNTIME].settings.subscribers.consent_version}
        html = render(request, "subscribers/signup.html", {**ctx, **await _options(request)}).text
        cached = pages[lang] = (time.monotonic(), html)
    # The token is URL-safe base64 (nothing to escape) and the slot occurs once, in the form.
    html = cached[1].replace(_TOKEN_SLOT, request["csrf_token"])
    return web.Response(text=html, content_type="text/html", charset="utf-8")


async def signup(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    form = await request.post()
    lang = _lang(request, str(form.get("language", "da")))
    if await _rate_limited(request, "signup-ip", runtime.settings.web.signup_per_ip_per_hour, timedelta(hours=1)):
        return _too_many(request, lang)
    thanks = render(request, "subscribers/thanks.html", {"lang": lang})
    if str(form.get(HONEYPOT, "")).strip():
        log.info("signup: honeypot filled from %s; ignored", client_ip(request))
        return thanks
    email = str(form.get("email", ""))
    choices = _choices_from(form)
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
        return render(request, "subscribers/signup.html", {**ctx, **await _options(request)}, status=400)
    async with runtime.db.transaction() as s:
        outcome = await lifecycle.signup(runtime, s, email, choices, now=runtime.clock.now(), evidence=_evidence(request))
    log.info("signup: %s", outcome)
    return thanks


# ------------------------------------------------------------------ confirm


async def confirm_page(request: web.Request) -> web.Response:
    sub, data, problem = await _subscriber_from(request, CONFIRM)
    if problem == "expired":
        return render(request, "subscribers/expired.html", {"lang": "da", "token": request.match_info["token"]}, status=410)
    if problem:
        return _problem(request, problem)
    if sub.status == "active":
        return await _welcome(request, sub)
    return render(request, "subscribers/confirm.html", {"lang": sub.language, "email": sub.email})


async def confirm(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    sub, data, problem = await _subscriber_from(request, CONFIRM)
    if problem:
        return _problem(request, problem)
    async with runtime.db.transaction() as s:
        done = await lifecycle.confirm(runtime, s, sub.id, now=runtime.clock.now(), evidence=_evidence(request))
    if done is None:
        return _problem(request, "gone")
    return await _welcome(request, sub)


async def _welcome(request: web.Request, sub: Subscriber) -> web.Response:
    link = request.app[RUNTIME].links.preferences(sub.id, sub.token_version)
    return render(request, "subscribers/welcome.html", {"lang": sub.language, "preferences_url": link})


async def confirm_resend(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    try:
        runtime.links.signer.read(request.match_info["token"], CONFIRM)
        return _problem(request, "invalid")  # not expired: use it
    except TokenExpired as exc:
        subject = exc.subject_id
    except TokenInvalid:
        return _problem(request, "invalid")
    async with runtime.db.transaction() as s:
        await lifecycle.resend_confirmation(runtime, s, subject, now=runtime.clock.now())
    return render(request, "subscribers/thanks.html", {"lang": "da"})


# ------------------------------------------------------------------ preferences


async def link_request_page(request: web.Request) -> web.Response:
    return render(request, "subscribers/link_request.html", {"lang": _lang(request), "sent": False})


async def link_request(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    lang = _lang(request)
    if await _rate_limited(request, "link-ip", runtime.settings.web.signup_per_ip_per_hour, timedelta(hours=1)):
        return _too_many(request, lang)
    form = await request.post()
    async with runtime.db.transaction() as s:
        await lifecycle.send_manage_link(runtime, s, str(form.get("email", "")), now=runtime.clock.now())
    return render(request, "subscribers/link_request.html", {"lang": lang, "sent": True})


async def _current(request: web.Request, sub: Subscriber) -> dict[str, Any]:
    async with request.app[RUNTIME].db.reader() as s:
        topics = list(await s.scalars(select(Topic.slug).join(subscriber_topics, subscriber_topics.c.topic_id == Topic.id)
                                      .where(subscriber_topics.c.subscriber_id == sub.id)))
        municipalities = list(await s.scalars(select(subscriber_municipalities.c.municipality_code)
                                              .where(subscriber_municipalities.c.subscriber_id == sub.id)))
        audience = await s.scalar(select(Audience.slug).where(Audience.id == sub.audience_id)) if sub.audience_id else ""
    return {"email": sub.email, "name": sub.name, "organisation": sub.organisation, "topics": topics,
            "municipalities": municipalities, "audience": audience or "", "frequency": sub.frequency,
            "language": sub.language}


async def preferences_page(request: web.Request, *, errors=None, values=None, notice: str = "",
                           status: int = 200) -> web.Response:
    sub, _, problem = await _subscriber_from(request, MANAGE)
    if problem:
        return _problem(request, problem)
    if sub.status != "active":
        return _problem(request, "gone")
    runtime = request.app[RUNTIME]
    ctx = {"lang": sub.language, "values": values or await _current(request, sub), "errors": errors or {},
           "notice": notice, "pending_email": sub.pending_email, "token": request.match_info["token"],
           "unsubscribe_url": runtime.links.unsubscribe(sub.id, sub.token_version)}
    return render(request, "subscribers/preferences.html", {**ctx, **await _options(request)}, status=status)


async def preferences_save(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    sub, _, problem = await _subscriber_from(request, MANAGE)
    if problem:
        return _problem(request, problem)
    form = await request.post()
    choices = _choices_from(form)
    try:
        async with runtime.db.transaction() as s:
            await lifecycle.change_preferences(runtime, s, sub.id, choices, now=runtime.clock.now(),
                                               evidence=_evidence(request))
    except Invalid as exc:
        values = {**await _current(request, sub), "topics": choices.topics, "municipalities": choices.municipalities,
                  "audience": choices.audience, "frequency": choices.frequency, "language": choices.language,
                  "name": choices.name, "organisation": choices.organisation}
        return await preferences_page(request, errors=exc.fields or {"topics": exc.message}, values=values, status=400)
    notice = "Dine valg er gemt." if choices.language == "da" else "Your choices are saved."
    return await preferences_page(request, notice=notice)


async def preferences_email(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    sub, _, problem = await _subscriber_from(request, MANAGE)
    if problem:
        return _problem(request, problem)
    if await _rate_limited(request, "link-ip", runtime.settings.web.signup_per_ip_per_hour, timedelta(hours=1)):
        return _too_many(request, sub.language)
    form = await request.post()
    try:
        async with runtime.db.transaction() as s:
            address = await lifecycle.request_email_change(runtime, s, sub.id, str(form.get("new_email", "")),
                                                           now=runtime.clock.now())
    except (BadAddress, Invalid) as exc:
        return await preferences_page(request, errors={"new_email": str(getattr(exc, "message", exc))}, status=400)
    return await preferences_page(request, notice=f"Vi har sendt en mail til {address}. Din adresse skifter, "
                                                  "når du har trykket på linket i den.")


async def preferences_export(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    sub, _, problem = await _subscriber_from(request, MANAGE)
    if problem:
        return _problem(request, problem)
    async with runtime.db.transaction() as s:
        await lifecycle.request_export(runtime, s, sub.id, now=runtime.clock.now())
    return await preferences_page(request, notice="Vi sender en kopi af dine oplysninger til din bekræftede adresse.")


async def email_change_page(request: web.Request) -> web.Response:
    sub, data, problem = await _subscriber_from(request, EMAIL_CHANGE)
    if problem:
        return _problem(request, problem)
    return render(request, "subscribers/confirm_email.html", {"lang": sub.language, "email": sub.pending_email or ""})


async def email_change(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    sub, data, problem = await _subscriber_from(request, EMAIL_CHANGE)
    if problem:
        return _problem(request, problem)
    async with runtime.db.transaction() as s:
        ok = await lifecycle.confirm_email_change(runtime, s, sub.id, data.extra, now=runtime.clock.now(),
                                                  evidence=_evidence(request))
    if not ok:
        return _problem(request, "invalid")
    return render(request, "subscribers/message.html", {
        "lang": sub.language, "title": "Din adresse er skiftet",
        "message": "Fremover får du vores mails på din nye adresse.",
        "link": runtime.links.preferences(sub.id, sub.token_version), "link_label": "Se dine valg"})


# ------------------------------------------------------------------ unsubscribe


async def unsubscribe_page(request: web.Request) -> web.Response:
    sub, data, problem = await _subscriber_from(request, UNSUBSCRIBE)
    if problem:
        return _problem(request, problem)
    topic_name = ""
    if data.extra:
        async with request.app[RUNTIME].db.reader() as s:
            row = await s.scalar(select(Topic).where(Topic.slug == data.extra))
            topic_name = (row.name_en if sub.language == "en" else row.name_da) if row else ""
    return render(request, "subscribers/unsubscribe.html", {
        "lang": sub.language, "email": sub.email, "topic": data.extra, "topic_name": topic_name,
        "left": sub.status in ("unsubscribed", "blocked")})


@csrf_exempt  # RFC 8058: mail providers POST without cookies; the signed token is the authority
async def unsubscribe(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    sub, data, problem = await _subscriber_from(request, UNSUBSCRIBE)
    form = await request.post()
    one_click = form.get("List-Unsubscribe") == "One-Click"
    if problem:
        if one_click:
            return web.Response(status=400, text="invalid link")
        return _problem(request, problem)
    scope = "" if form.get("scope") == "all" else data.extra
    async with runtime.db.transaction() as s:
        outcome = await lifecycle.unsubscribe(s, sub.id, runtime.clock.now(), topic=scope or None,
                                              source="one-click" if one_click else "web")
    log.info("unsubscribe %s: %s", "one-click" if one_click else "page", outcome)
    if one_click:
        return web.Response(status=200, text="unsubscribed")
    return render(request, "subscribers/unsubscribed.html", {
        "lang": sub.language, "outcome": outcome, "topic": scope,
        "preferences_url": runtime.links.preferences(sub.id, sub.token_version) if outcome == "topic_removed" else ""})


# ------------------------------------------------------------------ feedback


async def _feedback_target(request: web.Request):
    sub, data, problem = await _subscriber_from(request, FEEDBACK)
    if problem:
        return None, None, None, problem
    item_text = data.extra  # the token names the item; the path says the answer
    answer = {"ja": "yes", "nej": "no"}.get(request.match_info["answer"])
    if not item_text.isdigit() or answer is None:
        return None, None, None, "invalid"
    async with request.app[RUNTIME].db.reader() as s:
        title = await s.scalar(select(Item.title).where(Item.id == int(item_text)))
    if title is None:
        return None, None, None, "gone"
    return sub, int(item_text), (answer == "yes", title), None


async def feedback_page(request: web.Request) -> web.Response:
    sub, item_id, answer, problem = await _feedback_target(request)
    if problem:
        return _problem(request, problem)
    useful, title = answer
    return render(request, "subscribers/feedback.html", {"lang": sub.language, "useful": useful, "title": title,
                                                         "done": False})


async def feedback(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    sub, item_id, answer, problem = await _feedback_target(request)
    if problem:
        return _problem(request, problem)
    useful, title = answer
    async with runtime.db.transaction() as s:
        await lifecycle.record_feedback(s, sub.id, item_id, useful, now=runtime.clock.now())
    return render(request, "subscribers/feedback.html", {"lang": sub.language, "useful": useful, "title": title,
                                                         "done": True})


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/", signup_page)
    r.add_post("/", signup)
    r.add_get("/confirm/{token}", confirm_page)
    r.add_post("/confirm/{token}", confirm)
    r.add_post("/confirm/{token}/resend", confirm_resend)
    r.add_get("/preferences", link_request_page)
    r.add_post("/preferences", link_request)
    r.add_get("/preferences/{token}", preferences_page)
    r.add_post("/preferences/{token}", preferences_save)
    r.add_post("/preferences/{token}/email", preferences_email)
    r.add_post("/preferences/{token}/export", preferences_export)
    r.add_get("/confirm-email/{token}", email_change_page)
    r.add_post("/confirm-email/{token}", email_change)
    r.add_get("/unsubscribe/{token}", unsubscribe_page)
    r.add_post("/unsubscribe/{token}", unsubscribe)
    r.add_get("/feedback/{token}/{answer:ja|nej}", feedback_page)
    r.add_post("/feedback/{token}/{answer:ja|nej}", feedback)
