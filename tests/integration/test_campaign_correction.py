"""A correction ("Rettelse") reaches exactly those who got the original: not people
added since, not those the original never reached; marked as such and linked to it."""

from __future__ import annotations

from sqlalchemy import update

from service.campaigns.compose import CampaignForm, create_campaign
from service.campaigns.correction import start_correction
from service.campaigns.release import release_due
from service.campaigns.report import campaign_report
from service.campaigns.schedule import schedule
from service.db.campaigns import Campaign
from service.db.models import Bounce, Delivery
from tests.campaign_support import TextOf, add_press, add_subscriber, deliveries, mark_all_sent, render


async def test_correction_goes_to_the_original_recipients_only(runtime, db_kind):
    now = runtime.clock.now()
    await add_press(runtime, "a@avis.example")
    await add_press(runtime, "b@avis.example")
    await add_subscriber(runtime, "sub@example.org")
    async with runtime.db.transaction() as s:
        cid = await create_campaign(s, CampaignForm(kind="press_release", title="Tal for oktober", body_md="1.000"),
                                    now=now, templates_root=runtime.templates.root)
        await schedule(s, cid, scheduled_at=now, embargo_until=None, now=now)
    assert await release_due(runtime) == 3
    await mark_all_sent(runtime)
    sub_delivery = (await deliveries(runtime, recipient="sub@example.org"))[0].id
    async with runtime.db.transaction() as s:  # b's copy failed: b never got the original
        await s.execute(update(Delivery).where(Delivery.recipient == "b@avis.example").values(status="failed",
                                                                                              last_error="550 no such user"))
        s.add(Bounce(email="sub@example.org", kind="hard", delivery_id=sub_delivery, received_at=now))
    await release_due(runtime)

    async with runtime.db.reader() as s:
        report = await campaign_report(s, cid)
        assert (await s.get(Campaign, cid)).status == "sent"
    assert report.counts == {"sent": 1, "failed": 1, "bounced": 1}
    assert {(line.recipient, line.status) for line in report.lines} == {
        ("a@avis.example", "sent"), ("b@avis.example", "failed"), ("sub@example.org", "bounced")}

    await add_press(runtime, "new@avis.example")  # joined after the original went out
    await add_subscriber(runtime, "newsub@example.org")
    async with runtime.db.transaction() as s:
        fix = await start_correction(s, cid, now=now)
        c = await s.get(Campaign, fix)
        c.body_md = "1.100 (rettet tal)"
        await schedule(s, fix, scheduled_at=now, embargo_until=None, now=now)
    await release_due(runtime)
    got = sorted(d.recipient for d in await deliveries(runtime, campaign_id=fix))
    assert got == ["a@avis.example", "sub@example.org"]

    msg = await render(runtime, (await deliveries(runtime, campaign_id=fix, recipient="a@avis.example"))[0].id)
    assert msg.subject == "Rettelse: Tal for oktober"
    seen = TextOf(msg.html)
    assert "Rettelse." in seen.text and "1.100 (rettet tal)" in seen.text
    assert f"http://127.0.0.1:8080/archive/{cid}" in seen.links
    assert "RETTELSE" in msg.text
