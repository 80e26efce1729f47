"""The clock: the only place that asks the system for the time.

Everything else receives a `Clock` and calls `now()` (an aware UTC datetime). Tests use
`FrozenClock` and move it with `advance()` or `set()`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo

UTC = timezone.utc


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that stands still until told to move."""

    def __init__(self, at: datetime):
        self._now = _aware(at)

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        self._now = _aware(at)

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self._now += delta if delta is not None else timedelta(**kwargs)
        return self._now


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("FrozenClock needs an aware datetime")
    return at.astimezone(UTC)


def local(at: datetime, tz: ZoneInfo) -> datetime:
    """`at` (aware) in the service's time zone."""
    return at.astimezone(tz)


def as_utc(at: datetime) -> datetime:
    """Databases may hand back naive datetimes (SQLite): treat those as UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
