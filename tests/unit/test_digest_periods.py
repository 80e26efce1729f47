"""Digest periods in Copenhagen time across the summer-time changes (pure functions)."""

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from service.digests.periods import due_period, local_instant, period_key

CPH = ZoneInfo("Europe/Copenhagen")
UTC = timezone.utc


def test_period_keys():
    assert period_key("daily", datetime(2026, 11, 23, 7, 0, tzinfo=CPH)) == "2026-11-23"
    assert period_key("weekly", datetime(2026, 11, 23, 7, 0, tzinfo=CPH)) == "2026-W48"
    assert period_key("weekly", date(2027, 1, 1)) == "2026-W53"  # ISO year, not calendar year
    with pytest.raises(ValueError):
        period_key("hourly", date(2026, 1, 1))


def test_daily_seven_oclock_is_one_instant_per_day_across_both_changes():
    assert local_instant(date(2026, 3, 28), datetime.min.time().replace(hour=7), CPH) == datetime(2026, 3, 28, 6, tzinfo=UTC)
    assert local_instant(date(2026, 3, 29), datetime.min.time().replace(hour=7), CPH) == datetime(2026, 3, 29, 5, tzinfo=UTC)
    assert local_instant(date(2026, 10, 25), datetime.min.time().replace(hour=7), CPH) == datetime(2026, 10, 25, 6, tzinfo=UTC)
    # A time in the spring-forward gap moves forward instead of disappearing.
    assert local_instant(date(2026, 3, 29), datetime.min.time().replace(hour=2, minute=30), CPH) \
        == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize("start", [datetime(2026, 3, 26, tzinfo=UTC), datetime(2026, 10, 22, tzinfo=UTC)])
@pytest.mark.parametrize("at", ["07:00", "02:30"])
def test_every_minute_over_the_change_gives_each_day_once_in_order(start, at):
    """Sampled every 10 minutes for five days around the change: no day skipped, none twice."""
    seen: list[str] = []
    dues: list[datetime] = []
    now = start
    while now < start + timedelta(days=5):
        key, due = due_period("daily", now, CPH, at)
        assert due <= now < due + timedelta(hours=25)
        if not seen or seen[-1] != key:
            seen.append(key)
            dues.append(due)
        now += timedelta(minutes=10)
    days = [date.fromisoformat(k) for k in seen]
    assert all((b - a).days == 1 for a, b in zip(days, days[1:]))
    assert len(set(seen)) == len(seen)
    assert all(d.astimezone(CPH).strftime("%H:%M") == at or at == "02:30" for d in dues)


def test_weekly_due_monday_seven():
    # Sunday 29 March 2026 (summer time begins) → still week 13's digest until Monday 07:00 CEST.
    assert due_period("weekly", datetime(2026, 3, 30, 4, 59, tzinfo=UTC), CPH) == ("2026-W13", datetime(2026, 3, 23, 6, tzinfo=UTC))
    assert due_period("weekly", datetime(2026, 3, 30, 5, 0, tzinfo=UTC), CPH) == ("2026-W14", datetime(2026, 3, 30, 5, tzinfo=UTC))
    assert due_period("weekly", datetime(2026, 10, 26, 6, 0, tzinfo=UTC), CPH)[0] == "2026-W44"
