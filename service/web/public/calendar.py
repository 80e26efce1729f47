"""The public release calendar: `/kalender` (a page) and `/kalender.ics` (to subscribe to in a
calendar program). Upcoming releases, and those of the last month for reference."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from service.releases.calendar import entries
from service.releases.published import ics, release_view
from service.web.keys import RUNTIME
from service.web.templating import render

CACHE = {"Cache-Control": "public, max-age=300"}
PAST_DAYS = 31


async def page(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    now = runtime.clock.now()
    tz = runtime.settings.service.tz()
    async with runtime.db.reader() as s:
        rows = await entries(s, since=now - timedelta(days=PAST_DAYS))
    views = [release_view(e, tz) for e in rows]
    return render(request, "public/calendar.html", {
        "upcoming": [v for v in views if v.at >= now], "past": [v for v in views if v.at < now][::-1],
    }, headers=CACHE)


async def calendar_file(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    now = runtime.clock.now()
    async with runtime.db.reader() as s:
        rows = await entries(s, since=now - timedelta(days=PAST_DAYS))
    body = ics(rows, tz=runtime.settings.service.tz(), base_url=runtime.settings.service.base_url,
               organisation=runtime.settings.service.organisation, now=now)
    return web.Response(body=body, content_type="text/calendar", charset="utf-8", headers={
        **CACHE, "Content-Disposition": 'inline; filename="kalender.ics"'})


def setup(app: web.Application) -> None:
    app.router.add_get("/kalender", page, name="release_calendar")
    app.router.add_get("/kalender.ics", calendar_file, name="release_calendar_ics")
