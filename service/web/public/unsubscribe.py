"""Leaving: `/unsubscribe/{token}` shows a page with a button (GET) and leaves (POST),
RFC 8058 one-click included. The token may name one topic: then only that one is left,
unless the subscriber asks to leave everything."""

from __future__ import annotations

import logging

from aiohttp import web

from service.web.keys import RUNTIME
from service.web.middleware import csrf_exempt
from service.web.public.pages import opened, problem_page
from service.web.templating import render
from subscribers import lifecycle
from subscribers.choices import topic_name
from subscribers.links import UNSUBSCRIBE

log = logging.getLogger(__name__)


async def unsubscribe_page(request: web.Request) -> web.Response:
    got = await opened(request, UNSUBSCRIBE)
    if got.problem:
        return problem_page(request, got.problem)
    sub, topic = got.subscriber, got.data.extra
    name = ""
    if topic:
        async with request.app[RUNTIME].db.reader() as s:
            name = await topic_name(s, topic, sub.language)
    return render(request, "subscribers/unsubscribe.html", {
        "lang": sub.language, "email": sub.email, "topic": topic, "topic_name": name,
        "left": sub.status in ("unsubscribed", "blocked")})


@csrf_exempt  # RFC 8058: mail providers POST without cookies; the signed token is the authority
async def unsubscribe(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    got = await opened(request, UNSUBSCRIBE)
    form = await request.post()
    one_click = form.get("List-Unsubscribe") == "One-Click"
    if got.problem:
        if one_click:
            return web.Response(status=400, text="invalid link")
        return problem_page(request, got.problem)
    sub = got.subscriber
    scope = "" if form.get("scope") == "all" else got.data.extra
    async with runtime.db.transaction() as s:
        outcome = await lifecycle.unsubscribe(s, sub.id, runtime.clock.now(), topic=scope or None,
                                              source="one-click" if one_click else "web")
    log.info("unsubscribe %s: %s", "one-click" if one_click else "page", outcome)
    if one_click:
        return web.Response(status=200, text="unsubscribed")
    return render(request, "subscribers/unsubscribed.html", {
        "lang": sub.language, "outcome": outcome, "topic": scope,
        "preferences_url": runtime.links.preferences(sub.id, sub.token_version) if outcome == "topic_removed" else ""})


def setup(app: web.Application) -> None:
    app.router.add_get("/unsubscribe/{token}", unsubscribe_page)
    app.router.add_post("/unsubscribe/{token}", unsubscribe)
