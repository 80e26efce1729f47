"""Confirming a signup: `/confirm/{token}` shows a page with one button (GET) and
confirms (POST); an expired link offers a fresh one (`/confirm/{token}/resend`).

GET and HEAD never change anything: link scanners in mail systems follow every link.
"""

from __future__ import annotations

from aiohttp import web

from service.web.keys import RUNTIME
from service.web.public.pages import evidence, opened, problem_page
from service.web.templating import render
from subscribers import lifecycle
from subscribers.access import EXPIRED, GONE, INVALID, Access, read_token
from subscribers.links import CONFIRM
from subscribers.models import Subscriber


async def confirm_page(request: web.Request) -> web.Response:
    got = await opened(request, CONFIRM)
    if got.problem == EXPIRED:
        return render(request, "subscribers/expired.html", {"lang": "da", "token": request.match_info["token"]}, status=410)
    if got.problem:
        return problem_page(request, got.problem)
    if got.subscriber.status == "active":
        return welcome(request, got.subscriber)
    return render(request, "subscribers/confirm.html", {"lang": got.subscriber.language, "email": got.subscriber.email})


async def confirm(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    got = await opened(request, CONFIRM)
    if got.problem:
        return problem_page(request, got.problem)
    async with runtime.db.transaction() as s:
        done = await lifecycle.confirm(runtime, s, got.subscriber.id, now=runtime.clock.now(), evidence=evidence(request))
    if done is None:
        return problem_page(request, GONE)
    return welcome(request, got.subscriber)


def welcome(request: web.Request, sub: Subscriber) -> web.Response:
    link = request.app[RUNTIME].links.preferences(sub.id, sub.token_version)
    return render(request, "subscribers/welcome.html", {"lang": sub.language, "preferences_url": link})


async def confirm_resend(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    read = read_token(runtime.links.signer, request.match_info["token"], CONFIRM)
    if not isinstance(read, Access) or read.problem != EXPIRED:
        return problem_page(request, INVALID)  # not expired: use it; not a token: nothing to resend
    async with runtime.db.transaction() as s:
        await lifecycle.resend_confirmation(runtime, s, read.data.subject_id, now=runtime.clock.now())
    return render(request, "subscribers/thanks.html", {"lang": "da"})


def setup(app: web.Application) -> None:
    app.router.add_get("/confirm/{token}", confirm_page)
    app.router.add_post("/confirm/{token}", confirm)
    app.router.add_post("/confirm/{token}/resend", confirm_resend)
