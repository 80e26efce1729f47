"""The public archive: `/archive` (newest first), `/archive/<id>` (a released campaign),
`/archive/items/<id>` (an item), `/feed.xml` (Atom). Everything goes through
`service.campaigns.archive`, the one gate that keeps embargoed work out of sight.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from service.campaigns import archive
from service.campaigns.markdown import to_html
from service.campaigns.times import format_local
from service.campaigns.view import campaign_view
from service.db.campaigns import CampaignAttachment
from service.errors import NotFound
from service.web.keys import RUNTIME
from service.web.public.feed import atom_feed
from service.web.templating import render

CACHE = {"Cache-Control": "public, max-age=60"}


async def archive_index(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    cfg = runtime.settings.campaigns
    try:
        page = max(1, min(int(request.query.get("side", "1")), 1000))
    except ValueError:
        page = 1
    size = cfg.archive_page_size
    async with runtime.db.reader() as s:
        entries = await archive.latest(s, runtime.clock.now(), runtime.settings.service.tz(),
                                       limit=size + 1, offset=(page - 1) * size)
    return render(request, "public/archive.html", {
        "entries": entries[:size], "page": page, "has_next": len(entries) > size,
    }, headers=CACHE)


async def archive_campaign(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    cid = _int(request.match_info["id"])
    now = runtime.clock.now()
    tz = runtime.settings.service.tz()
    async with runtime.db.reader() as s:
        c = await archive.public_campaign(s, now, cid)
        if c is None:
            raise NotFound("Siden findes ikke.")
        view = await campaign_view(s, c, tz, runtime.settings.service.base_url)
        corrections = await archive.public_corrections(s, now, cid)
        original_public = bool(c.corrects_id and await archive.public_campaign(s, now, c.corrects_id))
    return render(request, "public/campaign.html", {
        "c": view, "corrections": corrections, "original_public": original_public,
    }, headers=CACHE)


async def archive_attachment(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    async with runtime.db.reader() as s:
        c = await archive.public_campaign(s, runtime.clock.now(), _int(request.match_info["id"]))
        att = await s.get(CampaignAttachment, _int(request.match_info["att"])) if c else None
        if att is None or att.campaign_id != c.id:
            raise NotFound("Filen findes ikke.")
    return web.Response(body=att.data, content_type=att.content_type, headers={
        **CACHE, "Content-Disposition": f"attachment; filename*=UTF-8''{quote(att.filename)}",
    })


async def archive_item(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    now = runtime.clock.now()
    async with runtime.db.reader() as s:
        item = await archive.public_item(s, now, _int(request.match_info["id"]))
        if item is None:
            raise NotFound("Siden findes ikke.")
        view = {
            "id": item.id, "title": item.title, "kind_label": archive.ITEM_LABELS.get(item.kind, item.kind),
            "summary_html": item.summary_html or to_html(item.summary),
            "link": item.link if item.link and item.link.startswith(("http://", "https://")) else "",
            "published_label": format_local(max(item.published_at, item.public_at or item.published_at),
                                            runtime.settings.service.tz()),
        }
    return render(request, "public/item.html", {"item": view}, headers=CACHE)


async def feed(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    async with runtime.db.reader() as s:
        entries = await archive.latest(s, runtime.clock.now(), runtime.settings.service.tz(),
                                       limit=runtime.settings.campaigns.feed_entries)
    body = atom_feed(entries, base_url=runtime.settings.service.base_url, title=runtime.settings.service.organisation,
                     now=runtime.clock.now())
    return web.Response(body=body, content_type="application/atom+xml", charset="utf-8", headers=CACHE)


def _int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise NotFound("Siden findes ikke.") from None
    if not 0 < n < 2**31:
        raise NotFound("Siden findes ikke.")
    return n


def setup(app: web.Application) -> None:
    app.router.add_get("/archive", archive_index, name="archive")
    app.router.add_get("/archive/{id:\\d+}", archive_campaign, name="archive_campaign")
    app.router.add_get("/archive/{id:\\d+}/bilag/{att:\\d+}", archive_attachment, name="archive_attachment")
    app.router.add_get("/archive/items/{id:\\d+}", archive_item, name="archive_item")
    app.router.add_get("/feed.xml", feed, name="feed")
