"""Public pages and the Atom feed, read over HTTP with a frozen clock moved across the
embargo: nothing under embargo shows before its time, and it shows once the time comes."""

from __future__ import annotations

from datetime import timedelta

import feedparser

from service.campaigns.compose import CampaignForm, create_campaign
from service.campaigns.correction import start_correction
from service.campaigns.release import release_due
from service.campaigns.schedule import schedule
from service.campaigns.times import parse_local
from service.db.models import Item
from tests.campaign_support import add_press

SECRET_TITLE = "Hemmelig ledighed falder"
SECRET_WORD = "Embargoordet"


async def _pages(client, cid):
    archive = await (await client.get("/archive")).text()
    feed = await (await client.get("/feed.xml")).text()
    page = await client.get(f"/archive/{cid}")
    return archive, feed, page


async def test_nothing_under_embargo_is_public_before_its_time(runtime, client, db_kind):
    tz = runtime.settings.service.tz()
    await add_press(runtime, "reporter@avisen.example")
    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        cid = await create_campaign(
            s, CampaignForm(kind="press_release", title=SECRET_TITLE, lead=SECRET_WORD, body_md=f"{SECRET_WORD} & mere"),
            now=now, templates_root=runtime.templates.root)
        s.add(Item(kind="analysis", title="Ny analyse af flaskehalse", summary="Offentlig allerede", content_hash="a",
                   published_at=now, created_at=now, updated_at=now))
        s.add(Item(kind="figures", title="Embargo-tal", summary=SECRET_WORD, content_hash="b", published_at=now,
                   created_at=now, updated_at=now, public_at=parse_local("2026-11-24 12:00", tz)))
    press_at, embargo = parse_local("2026-11-24 10:00", tz), parse_local("2026-11-24 12:00", tz)
    async with runtime.db.transaction() as s:
        await schedule(s, cid, scheduled_at=press_at, embargo_until=embargo, now=now)

    for moment in (now, press_at, embargo - timedelta(seconds=1)):
        runtime.clock.set(moment)
        await release_due(runtime)  # the press copy is queued at press_at; nothing public
        archive, feed, page = await _pages(client, cid)
        for text in (archive, feed, await page.text()):
            assert SECRET_TITLE not in text and SECRET_WORD not in text, moment
        assert page.status == 404
        assert "Ny analyse af flaskehalse" in archive
        parsed = feedparser.parse(feed)
        assert not parsed.bozo and [e.title for e in parsed.entries] == ["Ny analyse af flaskehalse"]

    runtime.clock.set(embargo)
    archive, feed, page = await _pages(client, cid)  # public by time alone, even before the job runs
    assert page.status == 200
    body = await page.text()
    assert SECRET_TITLE in body and f"{SECRET_WORD} &amp; mere" in body
    assert "24. november 2026 kl. 12.00" in body
    assert SECRET_TITLE in archive and archive.index(SECRET_TITLE) < archive.index("Ny analyse af flaskehalse")
    parsed = feedparser.parse(feed)
    assert not parsed.bozo
    assert parsed.feed.title.endswith("nyheder og pressemeddelelser")
    titles = [e.title for e in parsed.entries]
    assert titles[0] == SECRET_TITLE and "Embargo-tal" in titles
    assert parsed.entries[0].link == f"http://127.0.0.1:8080/archive/{cid}"
    assert parsed.entries[0].published_parsed[:5] == (2026, 11, 24, 11, 0)  # 12:00 Copenhagen = 11:00 UTC


async def test_correction_is_linked_both_ways(runtime, client, db_kind):
    await add_press(runtime, "reporter@avisen.example")
    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        cid = await create_campaign(s, CampaignForm(kind="press_release", title="Tal for oktober", body_md="1.000 ledige"),
                                    now=now, templates_root=runtime.templates.root)
        await schedule(s, cid, scheduled_at=now, embargo_until=None, now=now)
    await release_due(runtime)
    async with runtime.db.transaction() as s:
        fix = await start_correction(s, cid, now=now)
    # A correction not yet sent is not public.
    assert (await client.get(f"/archive/{fix}")).status == 404
    async with runtime.db.transaction() as s:
        await schedule(s, fix, scheduled_at=now, embargo_until=None, now=now)
    await release_due(runtime)
    original = await (await client.get(f"/archive/{cid}")).text()
    assert f'href="/archive/{fix}"' in original and "Denne meddelelse er rettet" in original
    correction = await (await client.get(f"/archive/{fix}")).text()
    assert "Rettelse" in correction and f'href="/archive/{cid}"' in correction


async def test_unknown_and_malformed_ids_are_404(client, db_kind):
    for path in ("/archive/999", "/archive/items/999", "/archive/99999999999999", "/archive/abc"):
        assert (await client.get(path)).status == 404
