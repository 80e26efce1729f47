"""Catalogue 11: summer time in Europe/Copenhagen, and a clock stepped back.

The scheduler's digest job is driven exactly as APScheduler drives it: at every fire time
of the configured cron trigger (walked in UTC across the night), with the frozen clock set
to that moment. Then the clock is stepped back an hour and the job fires again. Each night
must give one digest per subscriber: never none, never two. A digest missed while the
service was down comes once at start (`catch_up`), with every pending entry in it.
"""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from service.db.models import Item, item_topics
from service.delivery.worker import Worker
from service.wiring import build_runtime
from service.scheduler import catch_up, digest_job, digest_trigger
from service.db.reference import Topic
from subscribers.models import Subscriber, subscriber_topics
from tests.conftest import make_settings

CPH = ZoneInfo("Europe/Copenhagen")
UTC = timezone.utc


async def _daily_subscriber(runtime, email: str) -> int:
    async with runtime.db.transaction() as s:
        now = runtime.clock.now()
        sub = Subscriber(email=email, status="active", frequency="daily", created_at=now, confirmed_at=now)
        s.add(sub)
        await s.flush()
        topic = await s.scalar(select(Topic.id).where(Topic.slug == "analyser"))
        await s.execute(insert(subscriber_topics).values(subscriber_id=sub.id, topic_id=topic))
        return sub.id


async def _item(runtime, title: str) -> int:
    from service.matching.match import match_pending_items

    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        item = Item(kind="analysis", title=title, content_hash=title, published_at=now, created_at=now,
                    updated_at=now, link=f"https://www.example.dk/{abs(hash(title))}")
        s.add(item)
        await s.flush()
        topic = await s.scalar(select(Topic.id).where(Topic.slug == "analyser"))
        await s.execute(insert(item_topics).values(item_id=item.id, topic_id=topic))
        item_id = item.id
    await match_pending_items(runtime)
    return item_id


def _fires(trigger, start: datetime, end: datetime) -> list[datetime]:
    out: list[datetime] = []
    fire = trigger.get_next_fire_time(None, start)
    while fire and fire < end and (not out or fire.astimezone(UTC) > out[-1]):
        out.append(fire.astimezone(UTC))
        fire = trigger.get_next_fire_time(fire, out[-1] + timedelta(seconds=1))
    return out


@pytest.fixture
async def night_runtime(db_url, tmp_path, smtp_server, clock):
    settings = make_settings(db_url, tmp_path, smtp_server.port, schedule={"daily_digest": "02:30"})
    runtime = build_runtime(settings, clock=clock)
    yield runtime
    await runtime.close()


@pytest.mark.parametrize("night, expected_fires", [
    (datetime(2026, 3, 28, 12, tzinfo=CPH), 1),   # spring forward: 02:30 does not exist
    (datetime(2026, 10, 24, 12, tzinfo=CPH), 2),  # fall back: 02:30 happens twice
])
async def test_item11_digest_at_0230_comes_once_on_both_summer_time_nights_and_after_a_step_back(night_runtime, smtp_server, clock, night,
                                                                    expected_fires):
    runtime = night_runtime
    clock.set(night)
    await _daily_subscriber(runtime, "natteravn@example.dk")
    await _item(runtime, "Analyse før natten")

    fires = _fires(digest_trigger(runtime, "daily"), night, night + timedelta(days=1))
    assert len(fires) == expected_fires
    for fire in fires:
        clock.set(fire + timedelta(seconds=2))
        await digest_job(runtime, "daily")
        await Worker(runtime).drain()
    clock.set(fires[-1] - timedelta(hours=1))  # the clock is stepped back past the fire time
    await digest_job(runtime, "daily")
    clock.set(fires[-1] + timedelta(minutes=5))
    await digest_job(runtime, "daily")
    await Worker(runtime).drain()

    mails = smtp_server.to("natteravn@example.dk")
    assert len(mails) == 1, [m.message["Subject"] for m in mails]
    assert "Analyse før natten" in mails[0].message.get_body(("plain",)).get_content()


async def test_downtime_across_three_nights_gives_one_catch_up_digest_with_everything(night_runtime, smtp_server,
                                                                                      clock):
    runtime = night_runtime
    clock.set(datetime(2026, 11, 20, 12, tzinfo=CPH))
    await _daily_subscriber(runtime, "ferie@example.dk")
    for day in range(3):  # items keep arriving; nobody runs the scheduler
        await _item(runtime, f"Analyse nummer {day + 1}")
        clock.advance(days=1)

    clock.set(datetime(2026, 11, 23, 9, tzinfo=CPH))  # the service starts again
    await catch_up(runtime)
    await catch_up(runtime)  # a second process starting at the same time
    await Worker(runtime).drain()

    mails = smtp_server.to("ferie@example.dk")
    assert len(mails) == 1
    text = mails[0].message.get_body(("plain",)).get_content()
    assert all(f"Analyse nummer {n}" in text for n in (1, 2, 3))

    clock.set(datetime(2026, 11, 24, 2, 31, tzinfo=CPH))  # the next night has nothing new: no mail
    await digest_job(runtime, "daily")
    await Worker(runtime).drain()
    assert len(smtp_server.to("ferie@example.dk")) == 1


# ------------------------------------------------------------------ catalogue 11 for a campaign sent at 02:30


async def _walk_the_night(runtime, clock, start_local: datetime, hours: int = 6) -> None:
    """Run the release job every 10 minutes of real (UTC) time through the night, as the
    scheduler would, then step the clock back an hour and on again."""
    from service.campaigns.release import release_due

    worker = Worker(runtime)
    t = start_local.astimezone(UTC)
    for _ in range(hours * 6):
        clock.set(t)
        await release_due(runtime)
        await worker.drain()
        t += timedelta(minutes=10)
    clock.set(t - timedelta(hours=4))  # the clock is stepped back across the send time
    for _ in range(4 * 6 + 1):
        await release_due(runtime)
        await worker.drain()
        clock.advance(minutes=10)


async def _campaign_for(runtime, title: str) -> int:
    from service.campaigns.compose import CampaignForm, create_campaign
    from tests.campaign_support import add_press, add_subscriber

    await add_press(runtime, "nat@avisen.example", media_type="regional")
    await add_subscriber(runtime, "natlig@example.org", ("presse",))
    form = CampaignForm(kind="press_release", title=title, lead="Manchet.", body_md="Tekst.",
                        contact_name="Pia", contact_email="pia@raadet.example", media_types=["regional"])
    async with runtime.db.transaction() as s:
        return await create_campaign(s, form, now=runtime.clock.now(), templates_root=runtime.templates.root)


async def test_item11_campaign_at_0230_on_the_fall_back_night_is_sent_once(runtime, smtp_server, clock, db_kind):
    """02:30 happens twice that night; the officer's 02:30 is the first (summer time), and
    the release goes out once, also when the clock is stepped back across it."""
    from service.campaigns.schedule import schedule
    from service.campaigns.times import parse_local

    clock.set(datetime(2026, 10, 24, 12, tzinfo=CPH))
    cid = await _campaign_for(runtime, "Udsendt om natten")
    at = parse_local("2026-10-25 02:30", CPH)
    assert at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    async with runtime.db.transaction() as s:
        await schedule(s, cid, scheduled_at=at, embargo_until=None, now=clock.now())
    await _walk_the_night(runtime, clock, datetime(2026, 10, 25, 0, 0, tzinfo=CPH))
    for rcpt in ("nat@avisen.example", "natlig@example.org"):
        mails = smtp_server.to(rcpt)
        assert [m.message["Subject"] for m in mails] == ["Udsendt om natten"], rcpt


async def test_item11_campaign_on_the_spring_forward_night_02_30_is_refused_03_00_sent_once(
        runtime, smtp_server, clock, db_kind):
    """02:30 does not exist that night: the admin page says so and schedules nothing (never a
    silent skip); 03:00 that night goes out once, also across a clock stepped back."""
    from tests.admin_support import csrf, staff_client

    clock.set(datetime(2026, 3, 28, 12, tzinfo=CPH))
    cid = await _campaign_for(runtime, "Forårsnat")
    c = await staff_client(runtime, "pia@raadet.example", "press")
    try:
        r = await c.post(f"/admin/campaigns/{cid}/schedule",
                         data={"csrf_token": csrf(c), "date": "29.3.2026", "time": "02.30"})
        assert r.status == 422 and "findes ikke (sommertid begynder)" in await r.text()
        r = await c.post(f"/admin/campaigns/{cid}/schedule",
                         data={"csrf_token": csrf(c), "date": "29.3.2026", "time": "03.00", "confirm": "1"},
                         allow_redirects=False)
        assert r.status == 303
    finally:
        await c.close()
    await _walk_the_night(runtime, clock, datetime(2026, 3, 29, 0, 0, tzinfo=CPH))
    for rcpt in ("nat@avisen.example", "natlig@example.org"):
        assert [m.message["Subject"] for m in smtp_server.to(rcpt)] == ["Forårsnat"], rcpt
