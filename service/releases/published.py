"""The release calendar as the public sees it: the page at `/kalender` and `/kalender.ics`
(iCalendar, RFC 5545, times in Europe/Copenhagen with its VTIMEZONE, one event per
release that keeps its UID when it is moved, so a calendar program moves it too).

Each release carries the council's follow-up ("Beskæftigelsesrådets kommentar kl. 08.30");
a moved release says so ("Flyttet fra 21. december 2026 kl. 08.00").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from service.db.releases import ReleaseEntry
from service.render.formatting import date_local, datetime_local, month_name, time_local, weekday

EVENT_MINUTES = 15  # a release is a moment; an event without a follow-up lasts this long


@dataclass(frozen=True)
class ReleaseView:
    id: int
    period: str
    title: str  # "Ledighedstal for november 2026"
    tables: str  # "AUL01, AUP01"
    at: datetime
    date_label: str  # "tirsdag 22. december 2026"
    time_label: str  # "08.00"
    when_label: str  # "22. december 2026 kl. 08.00"
    moved_label: str  # "Flyttet fra 21. december 2026 kl. 08.00" or ""
    follow_up_label: str  # "Beskæftigelsesrådets kommentar kl. 08.30" or ""
    seen: bool
    late: bool


def release_view(e: ReleaseEntry, tz: ZoneInfo) -> ReleaseView:
    follow = ""
    if e.follow_up:
        follow = e.follow_up
        if e.follow_up_at is not None:
            same_day = e.follow_up_at.astimezone(tz).date() == e.at.astimezone(tz).date()
            follow += f" kl. {time_local(e.follow_up_at, tz)}" if same_day else f" {datetime_local(e.follow_up_at, tz)}"
    return ReleaseView(
        id=e.id, period=e.period, title=f"Ledighedstal for {month_name(e.period)}", tables=", ".join(e.tables or []),
        at=e.at, date_label=f"{weekday(e.at.astimezone(tz))} {date_local(e.at, tz)}", time_label=time_local(e.at, tz),
        when_label=datetime_local(e.at, tz),
        moved_label=f"Flyttet fra {datetime_local(e.moved_from, tz)}" if e.moved_from else "",
        follow_up_label=follow, seen=e.seen_at is not None, late=e.late_at is not None and e.seen_at is None,
    )


def ics(entries: list[ReleaseEntry], *, tz: ZoneInfo, base_url: str, organisation: str, now: datetime) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//Budbringer//Udgivelseskalender//DA")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"Ledighedstal – udgivelser ({organisation})")
    cal.add("x-wr-timezone", str(tz.key))
    host = urlsplit(base_url).hostname or "budbringer.invalid"
    for e in entries:
        v = release_view(e, tz)
        ev = Event()
        ev.add("uid", f"release-{e.id}@{host}")
        ev.add("dtstamp", now)
        ev.add("last-modified", e.updated_at)
        ev.add("sequence", e.moves or 0)
        start = e.at.astimezone(tz)
        end = e.follow_up_at if e.follow_up_at and e.follow_up_at > e.at else e.at + timedelta(minutes=EVENT_MINUTES)
        ev.add("dtstart", start)
        ev.add("dtend", end.astimezone(tz))
        ev.add("summary", f"{v.title} ({v.tables})" + (" – flyttet" if v.moved_label else ""))
        lines = [f"Danmarks Statistik offentliggør {v.tables} for {month_name(e.period)} {v.when_label}."]
        if v.follow_up_label:
            lines.append(f"{v.follow_up_label}.")
        if v.moved_label:
            lines.append(f"{v.moved_label}.")
        ev.add("description", "\n".join(lines))
        ev.add("url", f"{base_url}/kalender")
        ev.add("transp", "TRANSPARENT")
        ev.add("status", "CONFIRMED")
        cal.add_component(ev)
    if entries:  # the zone's rules for the years the events fall in (not 1970–2038)
        years = [e.at.astimezone(tz).year for e in entries]
        cal.add_missing_timezones(date(min(years) - 1, 1, 1), date(max(years) + 2, 1, 1))
    return cal.to_ical()
