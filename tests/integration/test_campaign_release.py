"""A press release with an embargo, released by `release_due` on both databases:
press copies at the press time marked "under embargo", subscribers at the embargo time,
each message once, and "sent" only when every delivery is final."""

from __future__ import annotations

from datetime import timedelta

import pytest

from service.campaigns.compose import CampaignForm, create_campaign
from service.campaigns.release import release_due
from service.campaigns.schedule import cancel, schedule
from service.campaigns.times import parse_local
from service.db.campaigns import Campaign
from service.errors import Conflict
from tests.campaign_support import TextOf, add_press, add_subscriber, deliveries, mark_all_sent, render


async def _campaign(runtime, **kw) -> int:
    form = CampaignForm(kind="press_release", title="Ledigheden faldt i oktober", lead="Færre ledige i regionen.",
                        body_md="Ledigheden **faldt** med 185 personer.\n\n<script>alert(1)</script>",
                        contact_name="Pia Presse", contact_email="pia@rådet.example", **kw)
    async with runtime.db.transaction() as s:
        return await create_campaign(s, form, now=runtime.clock.now(), templates_root=runtime.templates.root)


async def test_embargoed_release_reaches_press_then_subscribers(runtime, db_kind):
    tz = runtime.settings.service.tz()
    p1 = await add_press(runtime, "reporter@avisen.example", media_type="regional", beats=["ledighedstal"])
    await add_press(runtime, "tv@kanal.example", media_type="national", beats=["ledighedstal"])
    await add_press(runtime, "gone@avisen.example", status="bounced")
    s1 = await add_subscriber(runtime, "journalist@example.org", ("presse",))
    await add_subscriber(runtime, "other-topic@example.org", ("analyser",))
    await add_subscriber(runtime, "left@example.org", ("presse",), status="unsubscribed")
    await add_subscriber(runtime, "blocked@example.org", ("presse",), suppressed=True)
    cid = await _campaign(runtime, media_types=["regional"])

    press_at = parse_local("2026-11-24 10:00", tz)
    embargo = parse_local("2026-11-24 12:00", tz)
    async with runtime.db.transaction() as s:
        await schedule(s, cid, scheduled_at=press_at, embargo_until=embargo, now=runtime.clock.now())

    assert await release_due(runtime) == 0  # not yet due
    runtime.clock.set(press_at - timedelta(seconds=1))
    assert await release_due(runtime) == 0

    runtime.clock.set(press_at)
    assert await release_due(runtime) == 1
    assert await release_due(runtime) == 0  # a second run queues nothing again
    ds = await deliveries(runtime, campaign_id=cid)
    assert [(d.recipient, d.key) for d in ds] == [("reporter@avisen.example", f"campaign:{cid}:press:{p1}")]
    msg = await render(runtime, ds[0].id)
    assert msg.subject == "Under embargo til 24. november 2026 kl. 12.00: Ledigheden faldt i oktober"
    seen = TextOf(msg.html)
    assert "Under embargo til 24. november 2026 kl. 12.00" in seen.text
    assert "Ledigheden faldt med 185 personer." in seen.text
    assert "<script>" not in msg.html and "alert(1)" in seen.text  # shown as text, never run
    assert not any("/archive/" in link for link in seen.links)  # no public link before the embargo
    assert "Under embargo til 24. november 2026 kl. 12.00" in msg.text
    assert "Pia Presse" in msg.text

    await mark_all_sent(runtime)
    assert await release_due(runtime) == 0
    async with runtime.db.reader() as s:
        assert (await s.get(Campaign, cid)).status == "sending"  # subscribers still to come

    runtime.clock.set(embargo)
    assert await release_due(runtime) == 1
    subs = await deliveries(runtime, campaign_id=cid, subscriber_id=s1)
    assert [d.recipient for d in subs] == ["journalist@example.org"]
    msg = await render(runtime, subs[0].id)
    assert msg.subject == "Ledigheden faldt i oktober"
    assert "embargo" not in msg.text.lower()
    assert msg.unsubscribe_url and msg.unsubscribe_url.startswith("http://127.0.0.1:8080/unsubscribe/")
    assert f"http://127.0.0.1:8080/archive/{cid}" in TextOf(msg.html).links

    await mark_all_sent(runtime)
    await release_due(runtime)
    async with runtime.db.reader() as s:
        c = await s.get(Campaign, cid)
        assert (c.status, c.sent_at) == ("sent", embargo)


async def test_summer_time_is_respected(runtime, db_kind):
    tz = runtime.settings.service.tz()
    runtime.clock.set(parse_local("2027-03-27 09:00", tz))
    await add_press(runtime, "reporter@avisen.example")
    cid = await _campaign(runtime)
    at = parse_local("2027-03-28 09:30", tz)  # the first morning of summer time: 07:30 UTC
    assert at.hour == 7 and at.minute == 30
    async with runtime.db.transaction() as s:
        await schedule(s, cid, scheduled_at=at, embargo_until=None, now=runtime.clock.now())
    async with runtime.db.reader() as s:
        assert (await s.get(Campaign, cid)).scheduled_at == at
    runtime.clock.set(at - timedelta(minutes=1))
    assert await release_due(runtime) == 0
    runtime.clock.set(at)
    assert await release_due(runtime) == 1


async def test_cancel_until_sending_starts(runtime, db_kind):
    await add_press(runtime, "reporter@avisen.example")
    a = await _campaign(runtime)
    b = await _campaign(runtime)
    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        await schedule(s, a, scheduled_at=now + timedelta(hours=1), embargo_until=None, now=now)
        await schedule(s, b, scheduled_at=now + timedelta(hours=1), embargo_until=None, now=now)
        await cancel(s, a, now=now)
    runtime.clock.advance(hours=1)
    assert await release_due(runtime) == 1
    assert await deliveries(runtime, campaign_id=a) == []
    with pytest.raises(Conflict):
        async with runtime.db.transaction() as s:
            await cancel(s, b, now=runtime.clock.now())


async def test_newsletter_goes_to_its_topic_only(runtime, db_kind):
    await add_press(runtime, "reporter@avisen.example")
    await add_subscriber(runtime, "bp@example.org", ("best-practice",), language="en")
    await add_subscriber(runtime, "press-only@example.org", ("presse",))
    form = CampaignForm(kind="newsletter", title="Best Practice, november", body_md="Intro", topics=["best-practice"])
    async with runtime.db.transaction() as s:
        cid = await create_campaign(s, form, now=runtime.clock.now(), templates_root=runtime.templates.root)
        await schedule(s, cid, scheduled_at=runtime.clock.now(), embargo_until=None, now=runtime.clock.now())
    assert await release_due(runtime) == 1
    [d] = await deliveries(runtime, campaign_id=cid)
    assert (d.recipient, d.language) == ("bp@example.org", "en")
    msg = await render(runtime, d.id)
    assert "Newsletter" in msg.text and "Unsubscribe" in msg.text


LOOK_ALIKE = "Ledigheden faldt =?utf-8?q?=0D=0AX-Inj:_1?= i oktober"


async def test_item35_a_look_alike_title_is_saved_and_sent_a_broken_one_refused_at_save_and_all_failed_is_failed(
        runtime, smtp_server, db_kind):
    """The campaign editor refuses a title the subject cannot carry (a line separator),
    with the field's error; a title that looks like an encoded word is saved and reaches the
    SMTP server reading as written. When every message of a campaign fails (here the relay
    refuses them all), the campaign ends as "Fejlet" with the reason on its page and on the
    dashboard, where it used to stay "sending"."""
    from service.delivery.worker import Worker
    from tests.admin_support import csrf, staff_client

    await add_press(runtime, "reporter@avisen.example", media_type="regional")
    c = await staff_client(runtime, "pia@raadet.example", "press")
    try:
        form = {"csrf_token": csrf(c), "kind": "press_release", "lead": "", "body_md": "Tekst.", "theme": "standard",
                "media_types": "regional"}
        # U+2028 ends a line in some mail readers: the form takes it as text, the subject may not.
        r = await c.post("/admin/campaigns/new", data={**form, "title": "Ledigheden\u2028faldt"}, allow_redirects=False)
        assert r.status == 422 and "må ikke indeholde linjeskift eller kontroltegn" in await r.text()

        r = await c.post("/admin/campaigns/new", data={**form, "title": LOOK_ALIKE}, allow_redirects=False)
        assert r.status == 303, await r.text()
        sent_id = int(r.headers["Location"].split("/")[3].split("?")[0])
        r = await c.post("/admin/campaigns/new", data={**form, "title": "Ingen kommer igennem"}, allow_redirects=False)
        failed_id = int(r.headers["Location"].split("/")[3].split("?")[0])

        now = runtime.clock.now()
        async with runtime.db.transaction() as s:
            await schedule(s, sent_id, scheduled_at=now, embargo_until=None, now=now)
        await release_due(runtime)
        await Worker(runtime).drain()
        [got] = smtp_server.to("reporter@avisen.example")
        assert str(got.message["Subject"]) == LOOK_ALIKE and "X-Inj" not in got.message

        smtp_server.data_reply = "554 5.7.1 Afvist af politik"
        async with runtime.db.transaction() as s:
            await schedule(s, failed_id, scheduled_at=now, embargo_until=None, now=now)
        await release_due(runtime)
        await Worker(runtime).drain()
        await release_due(runtime)
        async with runtime.db.reader() as s:
            assert (await s.get(Campaign, sent_id)).status == "sent"
            assert (await s.get(Campaign, failed_id)).status == "failed"

        page = await (await c.get(f"/admin/campaigns/{failed_id}")).text()
        shown = TextOf(page).text
        assert "Fejlet" in shown and "Ingen af mailene kunne sendes" in shown and "554 5.7.1 Afvist af politik" in shown
    finally:
        await c.close()
    admin = await staff_client(runtime)
    try:
        board = TextOf(await (await admin.get("/admin/")).text()).text
        assert "Ingen kommer igennem" in board and "Fejlet" in board and "554 5.7.1 Afvist af politik" in board
    finally:
        await admin.close()
