"""Whom a campaign goes to and when, in a sentence, before it is scheduled:

    "Går til 5 pressekontakter kl. 09.30 (under embargo til 09.40) og til 312 abonnenter
     kl. 09.40 – tirsdag 1. december 2026, dansk tid."

The counts come from the same audience queries the release uses (`audience.recipients_for`),
so the page says what the fan-out will do, not an estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from service.campaigns.audience import recipients_for
from service.db.campaigns import Campaign
from service.render.formatting import date_local, number, time_local, weekday


@dataclass(frozen=True)
class Reach:
    press: int
    subscribers: int


async def reach(session: AsyncSession, c: Campaign, press_topic: str) -> Reach:
    press = await recipients_for(session, c, "press", press_topic) if c.kind == "press_release" else []
    subs = await recipients_for(session, c, "sub", press_topic)
    return Reach(len(press), len(subs))


def _count(n: int, one: str, many: str) -> str:
    return f"ingen {many}" if n == 0 else f"1 {one}" if n == 1 else f"{number(n)} {many}"


def _at(at: datetime, day: datetime, tz: ZoneInfo) -> str:
    """'kl. 09.40', or with its date when it is another day than `day`."""
    if at.astimezone(tz).date() != day.astimezone(tz).date():
        return f"{date_local(at, tz)} kl. {time_local(at, tz)}"
    return f"kl. {time_local(at, tz)}"


def sentence(kind: str, r: Reach, tz: ZoneInfo, scheduled_at: datetime | None = None,
             embargo_until: datetime | None = None) -> str:
    press = _count(r.press, "pressekontakt", "pressekontakter")
    subs = _count(r.subscribers, "abonnent", "abonnenter")
    if scheduled_at is None:
        if kind == "newsletter":
            return f"Går til {subs}."
        return f"Går til {press} og {subs}" + (" (når embargoen udløber)." if embargo_until else ".")
    when = f" – {weekday(scheduled_at.astimezone(tz))} {date_local(scheduled_at, tz)}, dansk tid."
    send = f"kl. {time_local(scheduled_at, tz)}"
    if kind == "newsletter":
        return f"Går til {subs} {send}{when}"
    if embargo_until:
        until = _at(embargo_until, scheduled_at, tz).removeprefix("kl. ")
        return f"Går til {press} {send} (under embargo til {until}) og til {subs} {_at(embargo_until, scheduled_at, tz)}{when}"
    return f"Går til {press} og til {subs} {send}{when}"
