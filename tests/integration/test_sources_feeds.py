"""Feeds polled from a real aiohttp server on loopback into real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from service.db.models import Item, ItemRevision, Source
from service.sources import feeds as feeds_module
from service.sources.poll import poll_due_sources, poll_source
from tests.integration._sources import FeedServer, add_source, items_view

NOVEMBER_ANALYSIS = "Analyserapport 2026: Mangel på faglært arbejdskraft i Vestjylland"


@pytest.fixture
async def feeds():
    server = FeedServer()
    async with TestServer(server.app(), host="127.0.0.1") as ts:
        server.url = lambda path: str(ts.make_url(path))
        yield server


async def test_first_poll_then_next_poll(runtime, feeds, db_kind):
    feeds.serve("/nyheder.rss", "nyheder.rss.xml")
    sid = await add_source(runtime, "nyheder", feeds.url("/nyheder.rss"), item_kind="analysis")

    report = await poll_source(runtime, sid)
    assert (report.new, report.updated, report.unchanged, report.error) == (6, 0, 0, None)
    items = await items_view(runtime)
    assert len(items) == 6
    first = items[NOVEMBER_ANALYSIS]
    assert first["topics"] == {"analyser", "flaskehalse"}
    assert first["municipalities"] == {"657", "661", "760"}  # Herning, Holstebro, Ringkøbing-Skjern
    item = first["item"]
    assert (item.kind, item.revision, item.matched_revision) == ("analysis", 1, 0)
    assert item.published_at.utcoffset() == timedelta(0) and item.published_at.hour == 8
    assert item.summary.startswith("Årets analyserapport viser")
    assert item.summary_html.startswith("<p>Årets")
    assert items["Ny overvågning: Ledigheden blandt unge under 25 år i Aarhus og Randers"]["municipalities"] == {"751", "730"}
    assert items["Konference om analyserapporten den 4. december i Aarhus"]["topics"] == {"arrangementer"}
    assert items["Beskæftigelsesplan 2027: Ministerens mål og materiale til planprocessen"]["topics"] == {"beskaeftigelsesplan"}
    async with runtime.db.reader() as s:
        src = await s.get(Source, sid)
        assert src.etag and src.last_success_at == runtime.clock.now() and src.consecutive_failures == 0

    # The next poll: one new, one edited (same guid), one unchanged, three gone.
    feeds.serve("/nyheder.rss", "nyheder-next.rss.xml")
    report = await poll_source(runtime, sid)
    assert (report.new, report.updated, report.unchanged) == (1, 1, 1)
    items = await items_view(runtime)
    assert len(items) == 7
    edited = items[NOVEMBER_ANALYSIS + " (opdateret)"]
    assert edited["item"].id == item.id
    assert (edited["item"].revision, edited["item"].matched_revision, edited["item"].announce_revision) == (2, 0, False)
    assert edited["municipalities"] == {"661"}  # the new text names Holstebro only
    new = items["Ny analyse: Hver fjerde virksomhed i Viborg forventer at ansætte i 2027"]
    assert new["municipalities"] == {"791", "779", "740"} and new["item"].revision == 1
    async with runtime.db.reader() as s:
        revs = (await s.scalars(select(ItemRevision).where(ItemRevision.item_id == item.id))).all()
        assert [r.revision for r in revs] == [2]
        assert revs[0].changes["title"] == [NOVEMBER_ANALYSIS, NOVEMBER_ANALYSIS + " (opdateret)"]


async def test_announce_updates_option_and_same_link_from_two_sources(runtime, feeds, db_kind):
    feeds.serve("/a.rss", "nyheder.rss.xml")
    feeds.serve("/b.rss", "nyheder.rss.xml")
    a = await add_source(runtime, "a", feeds.url("/a.rss"), options={"announce_updates": True})
    b = await add_source(runtime, "b", feeds.url("/b.rss"), topics=["presse"])
    await poll_source(runtime, a)
    report = await poll_source(runtime, b)
    assert (report.new, report.linked) == (0, 6)
    items = await items_view(runtime)
    assert len(items) == 6 and all(v["sources"] == 2 for v in items.values())
    assert "presse" in items[NOVEMBER_ANALYSIS]["topics"]  # topics of both sources

    feeds.serve("/a.rss", "nyheder-next.rss.xml")
    await poll_source(runtime, a)
    items = await items_view(runtime)
    assert items[NOVEMBER_ANALYSIS + " (opdateret)"]["item"].announce_revision is True


async def test_not_modified_costs_no_parse(runtime, feeds, db_kind, monkeypatch):
    feeds.serve("/nyheder.rss", "nyheder.rss.xml")
    sid = await add_source(runtime, "nyheder", feeds.url("/nyheder.rss"))
    await poll_source(runtime, sid)
    parsed = []
    monkeypatch.setattr(feeds_module, "parse_feed", lambda *a: parsed.append(a) or [])
    report = await poll_source(runtime, sid)
    assert report.not_modified and report.error is None
    assert parsed == []


async def test_iso_8859_1_feed_keeps_danish_letters(runtime, feeds, db_kind):
    feeds.serve("/bp.rss", "best-practice.rss.xml")
    sid = await add_source(runtime, "bp", feeds.url("/bp.rss"), item_kind="best_practice")
    assert (await poll_source(runtime, sid)).new == 2
    items = await items_view(runtime)
    alliance = items["Alliancen i Vest: Fælles servicepakke til virksomheder på tværs af otte kommuner"]
    assert "Ringkøbing-Skjern" in alliance["item"].summary
    assert alliance["topics"] == {"best-practice"}
    assert alliance["municipalities"] == {"657", "661", "756", "665", "760", "779", "671", "791"}


async def test_atom_feed_terms_and_escaped_html(runtime, feeds, db_kind):
    feeds.serve("/r.atom", "retningslinjer.atom.xml")
    sid = await add_source(runtime, "r", feeds.url("/r.atom"), item_kind="guideline")
    assert (await poll_source(runtime, sid)).new == 3
    items = await items_view(runtime)
    guide = items["Arbejdsfordeling: ny vejledning til jobcentrenes sagsbehandling"]
    assert guide["topics"] == {"retningslinjer", "virksomheder"}
    assert guide["item"].summary_html == "<p>Vejledningen præciserer reglerne for <strong>arbejdsfordeling</strong> og ledighedsdage.</p>"
    assert guide["item"].summary == "Vejledningen præciserer reglerne for arbejdsfordeling og ledighedsdage."


async def test_item12_hostile_html_in_a_feed_is_sanitised(runtime, feeds, db_kind):
    feeds.serve("/x.rss", b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>x</title>
      <item><title>&lt;script&gt;alert(1)&lt;/script&gt;Ny &lt;b&gt;rapport&lt;/b&gt;</title><link>https://example.dk/x</link>
      <description><![CDATA[<p onclick="x()">Tekst <a href="javascript:alert(1)">her</a><img src=x onerror=alert(1)><iframe src="https://evil"></iframe></p>]]></description>
      </item></channel></rss>""")
    sid = await add_source(runtime, "x", feeds.url("/x.rss"))
    await poll_source(runtime, sid)
    async with runtime.db.reader() as s:
        item = await s.scalar(select(Item))
    assert item.title == "Ny rapport"
    assert "script" not in item.summary_html and "onclick" not in item.summary_html
    assert "javascript" not in item.summary_html and "<img" not in item.summary_html and "iframe" not in item.summary_html
    assert item.summary == "Tekst her"


async def test_item12_entity_bomb_and_private_source_fail_alone_with_backoff(runtime, feeds, db_kind):
    feeds.serve("/ok.rss", "nyheder.rss.xml")
    feeds.serve("/bomb.rss", b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>
        <rss version="2.0"><channel><title>&b;</title></channel></rss>""")
    bad = await add_source(runtime, "bomb", feeds.url("/bomb.rss"))
    private = await add_source(runtime, "private", "http://10.0.0.7/feed.rss")
    gone = await add_source(runtime, "gone", feeds.url("/missing.rss"))
    ok = await add_source(runtime, "ok", feeds.url("/ok.rss"))

    assert await poll_due_sources(runtime) == 4
    assert await poll_due_sources(runtime) == 0  # nothing is due until the interval passes
    async with runtime.db.reader() as s:
        rows = {src.slug: src for src in (await s.scalars(select(Source))).all()}
    assert rows["ok"].last_error is None and rows["ok"].last_success_at is not None
    assert "entit" in rows["bomb"].last_error and rows["bomb"].consecutive_failures == 1
    assert "10.0.0.7" in rows["private"].last_error and "private" in rows["private"].last_error
    assert "404" in rows["gone"].last_error
    now = runtime.clock.now()
    assert timedelta(minutes=27) <= rows["ok"].next_poll_at - now <= timedelta(minutes=33)
    assert timedelta(minutes=54) <= rows["bomb"].next_poll_at - now <= timedelta(minutes=66)  # backoff
    assert len(await items_view(runtime)) == 6
    assert "/ok.rss" in feeds.hits and bad and private and gone and ok

    runtime.clock.advance(timedelta(minutes=40))
    assert await poll_due_sources(runtime) == 1  # only "ok"; the failing ones wait longer
    runtime.clock.advance(timedelta(minutes=30))
    assert await poll_due_sources(runtime) >= 3
    async with runtime.db.reader() as s:
        assert (await s.get(Source, bad)).consecutive_failures == 2
        assert (await s.get(Source, ok)).consecutive_failures == 0


async def test_gone_disables_and_permanent_redirect_moves(runtime, feeds, db_kind):
    from aiohttp import web

    async def moved_permanently(request):
        raise web.HTTPMovedPermanently(location="/new.rss")

    async def gone_for_good(request):
        raise web.HTTPGone()

    feeds.serve("/new.rss", "nyheder.rss.xml")
    feeds.special = {"/old.rss": moved_permanently, "/gone.rss": gone_for_good}
    moved = await add_source(runtime, "moved", feeds.url("/old.rss"))
    gone = await add_source(runtime, "gone", feeds.url("/gone.rss"))

    assert (await poll_source(runtime, moved)).new == 6
    report = await poll_source(runtime, gone)
    assert "gone" in report.error
    async with runtime.db.reader() as s:
        m, g = await s.get(Source, moved), await s.get(Source, gone)
    assert m.url == feeds.url("/new.rss") and m.last_error is None
    assert g.enabled is False and "410" in g.disabled_reason
    runtime.clock.advance(timedelta(days=1))
    assert await poll_due_sources(runtime) == 1  # the gone source is not polled again


# ------------------------------------------------------------------ catalogue 12: the daemon keeps serving


def _gzip_bomb(megabytes: int) -> bytes:
    import zlib

    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b" " * 1_000_000
    return b"".join(z.compress(chunk) for _ in range(megabytes)) + z.flush()


async def test_item12_hostile_feeds_are_refused_and_the_daemon_keeps_serving(runtime, feeds, client, db_kind):
    """Every kind of hostile feed at once, with the production size cap (5 MB): an entity
    bomb, external entities (a file and a URL on this machine), a 50 MB body, a gzip bomb
    (200 MB unpacked), an unknown and a lying encoding, binary junk. Each is refused or read
    safely, with the reason on the source; the good feed next to them is read; no external
    entity is ever fetched; and the web app answers all the while."""
    import asyncio
    import time

    from aiohttp import web

    assert runtime.settings.fetch.max_bytes == 5_000_000
    item = "<item><title>Fyld {n}</title><guid>g{n}</guid><description>{pad}</description></item>"

    async def fifty_megabytes(request):
        resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await resp.prepare(request)
        await resp.write(b'<?xml version="1.0"?><rss version="2.0"><channel><title>Stor</title>')
        block = "".join(item.format(n=n, pad="x" * 900) for n in range(1000)).encode()  # ~1 MB
        try:
            for _ in range(50):
                await resp.write(block)
        except (ConnectionResetError, RuntimeError):
            pass  # the reader hung up at its cap
        return resp

    bomb = _gzip_bomb(200)

    async def gzip_bomb(request):
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"})

    leak = feeds.url("/leak")
    feeds.special = {"/fifty.rss": fifty_megabytes, "/gzbomb.rss": gzip_bomb}
    feeds.serve("/ok.rss", "nyheder.rss.xml")
    hostile = {
        "laughs": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
                  b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
                  b'<rss version="2.0"><channel><title>&d;</title></channel></rss>',
        "xxe-file": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                    b'<rss version="2.0"><channel><title>t</title><item><title>&x;</title></item></channel></rss>',
        "xxe-url": ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "' + leak + '"> %p;]>'
                    '<rss version="2.0"><channel><title>t</title></channel></rss>').encode(),
        "unknown-encoding": b'<?xml version="1.0" encoding="x-made-up"?><rss version="2.0"><channel><title>t</title>'
                            b'<item><title>Hvad med \xe6\xf8\xe5?</title><guid>u1</guid></item></channel></rss>',
        "utf16-says-utf8": '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
                           '<item><title>Ærø</title><guid>w1</guid></item></channel></rss>'.encode("utf-16"),
        "junk": bytes(range(256)) * 40,
    }
    for name, body in hostile.items():
        feeds.serve(f"/{name}.rss", body)
    names = [*hostile, "fifty", "gzbomb", "ok"]
    ids = {name: await add_source(runtime, name, feeds.url(f"/{name}.rss")) for name in names}

    latencies: list[float] = []
    polling = asyncio.Event()

    async def keep_asking():
        while not polling.is_set():
            t0 = time.monotonic()
            r = await client.get("/healthz")
            assert r.status == 200, await r.text()
            latencies.append(time.monotonic() - t0)
            await asyncio.sleep(0.02)

    asker = asyncio.create_task(keep_asking())
    try:
        assert await poll_due_sources(runtime) == len(names)
    finally:
        polling.set()
        await asker

    async with runtime.db.reader() as s:
        rows = {src.slug: src for src in (await s.scalars(select(Source))).all()}
    errors = {name: rows[name].last_error or "" for name in names}
    assert errors["ok"] == "" and rows["ok"].last_success_at is not None
    assert "entit" in errors["laughs"] and "entit" in errors["xxe-file"]
    assert "entit" in errors["xxe-url"] or "DTD" in errors["xxe-url"]
    assert "larger than 5000000 bytes" in errors["fifty"]
    assert "once decompressed" in errors["gzbomb"]
    assert errors["junk"]  # not a feed
    titles = set((await items_view(runtime)))
    assert NOVEMBER_ANALYSIS in titles
    assert not any("root:" in t for t in titles)  # nothing of /etc/passwd
    for name, title in (("unknown-encoding", "Hvad med æøå?"), ("utf16-says-utf8", "Ærø")):
        assert errors[name] or title in titles, name  # refused, or read with the letters right
    assert "/leak" not in feeds.hits
    assert len(latencies) >= 3 and (await client.get("/")).status == 200
    assert max(latencies) < 2  # never held up behind the polling (about 0.1 s here)
