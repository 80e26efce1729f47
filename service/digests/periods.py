"""Digest periods in local time (Europe/Copenhagen), safe across summer time.

A period is named by its local calendar: daily "2026-11-23", weekly ISO "2026-W48". The
digest of a period is due at a local wall time (07:00; weekly on a weekday). Wall times
are turned into instants with zoneinfo, so the night the clocks spring forward or fall
back neither skips nor doubles a day: each local date has exactly one 07:00.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

FREQUENCIES = ("daily", "weekly")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def period_key(frequency: str, local_dt: datetime | date) -> str:
    """The period a local date belongs to: "2026-11-23" (daily) or "2026-W48" (weekly)."""
    day = local_dt.date() if isinstance(local_dt, datetime) else local_dt
    if frequency == "daily":
        return day.isoformat()
    if frequency == "weekly":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    raise ValueError(f"unknown digest frequency {frequency!r}")


def current_period(frequency: str, now: datetime, tz: ZoneInfo) -> str:
    """The period that contains `now` (local calendar)."""
    return period_key(frequency, now.astimezone(tz))


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local wall time.

    fold=0: a time that happens twice (the fall-back night) means the first; a time that
    does not exist (inside the spring-forward gap) is read with the offset before the jump,
    which lands as far after the gap as it was into it (02:30 → 03:30 summer time).
    """
    return datetime.combine(day, at).replace(tzinfo=tz, fold=0).astimezone(timezone.utc)


def _hhmm(text: str) -> time:
    hour, _, minute = text.partition(":")
    return time(int(hour), int(minute))


def due_period(frequency: str, now: datetime, tz: ZoneInfo, at: str = "07:00", weekday: str = "mon") -> tuple[str, datetime]:
    """The latest period whose digest time has passed at `now`: (period key, due instant UTC)."""
    wall = _hhmm(at)
    day = now.astimezone(tz).date()
    if frequency == "weekly":
        day -= timedelta(days=(day.weekday() - WEEKDAYS.index(weekday)) % 7)
        step = timedelta(days=7)
    elif frequency == "daily":
        step = timedelta(days=1)
    else:
        raise ValueError(f"unknown digest frequency {frequency!r}")
    due = local_instant(day, wall, tz)
    if due > now:
        day -= step
        due = local_instant(day, wall, tz)
    return period_key(frequency, day), due
