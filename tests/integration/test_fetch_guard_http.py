"""The guarded fetcher against real servers on loopback: caps, compression bombs,
timeouts, conditional GET, redirects checked hop by hop, and DNS answers checked."""

from __future__ import annotations

import asyncio
import gzip

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from service.settings import FetchSettings
from service.sources.fetch import Fetcher, FetchError


@pytest.fixture
async def server():
    routes = web.RouteTableDef()
    bomb = gzip.compress(b"\0" * 20_000_000, compresslevel=9)

    @routes.get("/ok")
    async def ok(request):
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)
        return web.Response(text="hej æøå", headers={"ETag": '"v1"', "Last-Modified": "Mon, 23 Nov 2026 08:00:00 GMT"})

    @routes.get("/gz")
    async def gz(request):
        return web.Response(body=gzip.compress("små ord".encode()), headers={"Content-Encoding": "gzip"})

    @routes.get("/bomb")
    async def gzbomb(request):
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip"})

    @routes.get("/big")
    async def big(request):
        resp = web.StreamResponse()  # no Content-Length: the cap must hold while streaming
        await resp.prepare(request)
        for _ in range(100):
            await resp.write(b"x" * 65536)
        return resp

    @routes.get("/slow")
    async def slow(request):
        await asyncio.sleep(2)
        return web.Response(text="late")

    @routes.get("/to-private")
    async def to_private(request):
        raise web.HTTPFound(location="http://192.168.0.10/feed")

    @routes.get("/to-metadata")
    async def to_metadata(request):
        raise web.HTTPFound(location="http://169.254.169.254/latest/meta-data/")

    @routes.get("/to-file")
    async def to_file(request):
        raise web.HTTPFound(location="file:///etc/passwd")

    @routes.get("/loop")
    async def loop(request):
        raise web.HTTPFound(location="/loop")

    @routes.get("/temp")
    async def temp(request):
        raise web.HTTPFound(location="/ok")

    app = web.Application()
    app.add_routes(routes)
    async with TestServer(app, host="127.0.0.1") as ts:
        yield ts


def fetcher(**kw) -> Fetcher:
    return Fetcher(FetchSettings(**{"allow_networks": ["127.0.0.1/32"], "max_bytes": 1_000_000, "timeout_seconds": 5, **kw}))


async def test_conditional_get(server):
    f = fetcher()
    try:
        r = await f.get(str(server.make_url("/ok")))
        assert (r.status, r.body.decode(), r.etag) == (200, "hej æøå", '"v1"')
        r2 = await f.get(str(server.make_url("/ok")), etag=r.etag, last_modified=r.last_modified)
        assert r2.status == 304 and r2.body == b""
        assert (await f.get(str(server.make_url("/gz")))).body.decode() == "små ord"
        r3 = await f.get(str(server.make_url("/temp")))
        assert r3.status == 200 and r3.permanent_redirect is None and r3.url.endswith("/ok")
    finally:
        await f.close()


async def _refused(server, path, message):
    f = fetcher()
    try:
        with pytest.raises(FetchError, match=message):
            await f.get(str(server.make_url(path)))
    finally:
        await f.close()


@pytest.mark.parametrize("path,message", [
    ("/bomb", "once decompressed"),
    ("/big", "larger than 1000000 bytes"),
])
async def test_item12_gzip_bomb_and_oversized_body_refused(server, path, message):
    await _refused(server, path, message)


@pytest.mark.parametrize("path,message", [
    ("/to-private", "192.168.0.10: it is a private address"),
    ("/to-metadata", "metadata"),
    ("/to-file", "only http"),
    ("/loop", "redirects"),
])
async def test_item13_redirects_are_checked_hop_by_hop(server, path, message):
    await _refused(server, path, message)


async def test_timeout(server):
    f = fetcher(timeout_seconds=0.3)
    try:
        with pytest.raises(FetchError, match="no answer within 0.3 seconds"):
            await f.get(str(server.make_url("/slow")))
    finally:
        await f.close()


async def test_item13_loopback_refused_unless_allowed_also_by_name_and_numeric_form(server):
    port = server.port
    f = fetcher(allow_networks=[])
    try:
        for url in (f"http://127.0.0.1:{port}/ok", f"http://localhost:{port}/ok", f"http://2130706433:{port}/ok"):
            with pytest.raises(FetchError) as info:
                await f.get(url)
            assert info.value.refused, url
    finally:
        await f.close()
    f = fetcher()
    try:  # a name whose every DNS answer is allowed (localhost resolves to loopback only with -4)
        r = await f.get(f"http://127.0.0.1:{port}/ok")
        assert r.status == 200
    finally:
        await f.close()


# ------------------------------------------------------------------ catalogue 13 on every code path

# Loopback written every way a URL can write it. Only loopback: if the guard failed, the
# request would still stay on this machine (and the server below would count it).
LOOPBACK_FORMS = ["127.0.0.1", "localhost", "2130706433", "0x7f000001", "127.1", "[::1]", "[::ffff:127.0.0.1]"]


@pytest.fixture
async def counted():
    from tests.integration._sources import FeedServer

    feeds = FeedServer()
    feeds.serve("/feed.rss", "nyheder.rss.xml")

    async def redirect(request):
        raise web.HTTPFound(location=request.query["to"])

    feeds.special = {"/redirect": redirect}
    async with TestServer(feeds.app(), host="127.0.0.1") as ts:
        feeds.port = ts.port
        yield feeds


async def test_item13_every_code_path_refuses_loopback_in_every_form(db_url, tmp_path, clock, counted, db_kind):
    """With the production setting (no networks allowed), the scheduled poll of feeds and of
    StatBank, the admin's "poll now" and "test fetch" pages all refuse loopback written as an
    address, a name, a number, hex, short form, IPv6 and IPv4-mapped IPv6: the server on
    127.0.0.1 never sees a request, and each source's health says why."""
    from sqlalchemy import select

    from service.db.models import Source
    from service.wiring import build_runtime
    from service.sources.poll import poll_due_sources
    from tests.admin_support import csrf, staff_client
    from tests.conftest import make_settings
    from tests.integration._sources import add_source

    runtime = build_runtime(make_settings(db_url, tmp_path, fetch={"allow_networks": []}), clock=clock)
    try:
        ids = []
        for n, host in enumerate(LOOPBACK_FORMS):
            ids.append(await add_source(runtime, f"feed{n}", f"http://{host}:{counted.port}/feed.rss"))
            ids.append(await add_source(runtime, f"statbank{n}", f"http://{host}:{counted.port}/v1", kind="statbank",
                                        options={"table": "AUL01"}))
        assert await poll_due_sources(runtime) == len(ids)
        async with runtime.db.reader() as s:
            rows = (await s.scalars(select(Source).order_by(Source.id))).all()
        for row in rows:
            assert row.last_success_at is None and row.consecutive_failures == 1, row.url
            assert "refused" in row.last_error or "numeric" in row.last_error, (row.url, row.last_error)

        admin = await staff_client(runtime)
        try:
            for sid in ids:
                for action in ("test", "poll"):
                    page = await (await admin.post(f"/admin/sources/{sid}/{action}",
                                                   data={"csrf_token": csrf(admin)})).text()
                    assert "refused" in page or "numeric" in page, (sid, action)
        finally:
            await admin.close()
    finally:
        await runtime.close()
    assert counted.hits == []


async def test_item13_redirect_from_an_allowed_host_to_loopback_in_another_form_is_refused(
        db_url, tmp_path, clock, counted, db_kind):
    """Only 127.0.0.1/32 is allowed (as in these tests): a feed there that redirects to the
    same machine written another way is refused at the hop, for the poll and the test fetch.
    (A name whose every answer is 127.0.0.1 is allowed; that is the allow list working.)"""
    from service.wiring import build_runtime
    from service.sources.poll import poll_source
    from service.sources.preview import test_fetch as preview_fetch
    from tests.conftest import make_settings
    from tests.integration._sources import add_source

    others = [h for h in LOOPBACK_FORMS if h not in ("127.0.0.1", "localhost")]
    runtime = build_runtime(make_settings(db_url, tmp_path), clock=clock)
    try:
        ok = await add_source(runtime, "ok", f"http://127.0.0.1:{counted.port}/feed.rss")
        assert (await poll_source(runtime, ok)).new == 6  # the allowed address itself works
        for n, host in enumerate(others):
            target = f"http://{host}:{counted.port}/feed.rss?via=redirect"
            sid = await add_source(runtime, f"r{n}", f"http://127.0.0.1:{counted.port}/redirect?to={target}")
            report = await poll_source(runtime, sid)
            assert report.error and ("refused" in report.error or "numeric" in report.error), (host, report.error)
            with pytest.raises(FetchError):
                await preview_fetch(runtime, sid)
    finally:
        await runtime.close()
    assert counted.hits.count("/feed.rss") == 1 and counted.hits.count("/redirect") == 2 * len(others)
