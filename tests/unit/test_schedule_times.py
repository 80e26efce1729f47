"""When the digests fire, in Europe/Copenhagen, across the summer-time changes."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from service.scheduler import last_due

CPH = ZoneInfo("Europe/Copenhagen")
UTC = timezone.utc


def _fires(trigger, start, end):
    """Every fire in [start, end); steps in UTC (local wall-clock steps go back on fall-back night)."""
    out = []
    fire = trigger.get_next_fire_time(None, start)
    while fire and fire < end and (not out or fire.astimezone(UTC) > out[-1]):
        out.append(fire.astimezone(UTC))
        fire = trigger.get_next_fire_time(fire, out[-1] + timedelta(seconds=1))
    return out


def test_daily_seven_oclock_is_seven_local_on_both_sides_of_each_change():
    trigger = CronTrigger(hour=7, minute=0, timezone=CPH)
    for start in (datetime(2026, 3, 27, tzinfo=CPH), datetime(2026, 10, 23, tzinfo=CPH)):
        fires = _fires(trigger, start, start + timedelta(days=4))
        assert [f.astimezone(CPH).strftime("%d %H:%M") for f in fires] == [
            (start + timedelta(days=i)).strftime("%d 07:00") for i in range(4)
        ]


def test_a_local_time_that_happens_twice_can_fire_twice_so_the_period_key_must_dedupe():
    # 02:30 happens twice on the fall-back night: APScheduler fires at both. The digest
    # job turns each fire into the same period key, so only one digest can exist.
    trigger = CronTrigger(hour=2, minute=30, timezone=CPH)
    night = datetime(2026, 10, 24, 12, tzinfo=CPH)
    fires = _fires(trigger, night, night + timedelta(days=1))
    assert len(fires) == 2
    assert {f.astimezone(CPH).date() for f in fires} == {datetime(2026, 10, 25).date()}


def test_last_due_finds_the_latest_fire_at_or_before_now():
    trigger = CronTrigger(hour=7, minute=0, timezone=CPH)
    now = datetime(2026, 11, 23, 6, 59, tzinfo=CPH)
    assert last_due(trigger, now, timedelta(days=2)) == datetime(2026, 11, 22, 7, 0, tzinfo=CPH)
    now = datetime(2026, 11, 23, 7, 0, tzinfo=CPH)
    assert last_due(trigger, now, timedelta(days=2)) == datetime(2026, 11, 23, 7, 0, tzinfo=CPH)
    # A week down: still only the latest one (one catch-up digest, not seven).
    assert last_due(trigger, now, timedelta(days=8)) == datetime(2026, 11, 23, 7, 0, tzinfo=CPH)


def test_last_due_weekly_monday():
    trigger = CronTrigger(day_of_week="mon", hour=7, minute=0, timezone=CPH)
    sunday = datetime(2026, 11, 29, 12, tzinfo=CPH)
    assert last_due(trigger, sunday, timedelta(days=8)) == datetime(2026, 11, 23, 7, 0, tzinfo=CPH)


def test_last_due_on_the_fall_back_night_terminates_and_takes_the_second_fire():
    trigger = CronTrigger(hour=2, minute=30, timezone=CPH)
    now = datetime(2026, 10, 25, 9, 0, tzinfo=CPH)
    due = last_due(trigger, now, timedelta(days=2))
    assert due.astimezone(UTC) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 winter time
