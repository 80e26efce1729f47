"""What the subscription pages share: the language, the per-address limit, the link a
token opens, the answer for a link that opens nothing, and the form's options, read at
most every `OPTIONS_SECONDS` per app (`Forms`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiohttp import web

from service.web.client import client_ip
from service.web.public.signup_queue import SIGNUPS
from service.web.keys import RUNTIME
from service.web.templating import render
from subscribers import lifecycle
from subscribers.access import EXPIRED, GONE, INVALID, Access, subscriber_for
from subscribers.choices import form_options
from subscribers.throttle import over_limit

OPTIONS_SECONDS = 30.0
PROBLEM_STATUS = {INVALID: 400, EXPIRED: 410, GONE: 404}


@dataclass
class Forms:
    """The subscription form's options and the rendered empty signup page (per language),
    each with the monotonic time it was made. They change when an admin edits topics, not
    per visitor: three queries and a render per view were most of the signup page's time."""

    options: tuple[float, dict[str, Any]] | None = None
    signup_pages: dict[str, tuple[float, str]] = field(default_factory=dict)
    thanks_pages: dict[str, str] = field(default_factory=dict)  # the answer to a signup, per language

    def forget(self) -> None:
        self.options = None
        self.signup_pages.clear()


FORMS: web.AppKey[Forms] = web.AppKey("subscription_forms", Forms)


def forget_options(app: web.Application) -> None:
    """Called when topics change, so the forms show them (and signups take them) at once in this process."""
    app[FORMS].forget()
    app[SIGNUPS].forget()


def lang_of(request: web.Request, default: str = "da") -> str:
    lang = request.query.get("lang", default)
    return lang if lang in ("da", "en") else "da"


async def options(request: web.Request) -> dict[str, Any]:
    forms = request.app[FORMS]
    if forms.options is not None and time.monotonic() - forms.options[0] < OPTIONS_SECONDS:
        return forms.options[1]
    async with request.app[RUNTIME].db.reader() as s:
        fresh = await form_options(s)
    forms.options = (time.monotonic(), fresh)
    return fresh


async def rate_limited(request: web.Request, bucket: str) -> bool:
    """Count this request in the client address's bucket; True when over the hourly limit."""
    runtime = request.app[RUNTIME]
    async with runtime.db.transaction() as s:
        return await over_limit(s, f"{bucket}:{client_ip(request)}", runtime.settings.web.signup_per_ip_per_hour,
                                timedelta(hours=1), runtime.clock.now())


def too_many(request: web.Request, lang: str) -> web.Response:
    return render(request, "subscribers/too_many.html", {"lang": lang}, status=429, headers={"Retry-After": "3600"})


def problem_page(request: web.Request, problem: str, lang: str | None = None) -> web.Response:
    """A link that opens nothing says so in the language of the address (`?lang=en`), Danish by default."""
    return render(request, "subscribers/problem.html", {"lang": lang or lang_of(request), "problem": problem},
                  status=PROBLEM_STATUS[problem])


async def opened(request: web.Request, purpose: str) -> Access:
    """The subscriber the URL's token opens (or the problem)."""
    runtime = request.app[RUNTIME]
    async with runtime.db.reader() as s:
        return await subscriber_for(s, runtime.links.signer, request.match_info["token"], purpose)


def choices_from(form) -> lifecycle.Choices:
    return lifecycle.Choices(
        topics=[str(v) for v in form.getall("topics", [])][:50],
        municipalities=[str(v) for v in form.getall("municipalities", [])][:30],
        audience=str(form.get("audience", ""))[:64], frequency=str(form.get("frequency", "immediate")),
        language=str(form.get("language", "da")), name=str(form.get("name", "")), organisation=str(form.get("organisation", "")),
    )


def evidence(request: web.Request, source: str = "web") -> lifecycle.Evidence:
    return lifecycle.Evidence(source=source, ip=client_ip(request), user_agent=request.headers.get("User-Agent"))
