"""Local wall-clock times (Europe/Copenhagen) ↔ stored UTC, correct across summer time.

A press officer types "2026-03-29 02:30": that time does not exist (clocks jump from
02:00 to 03:00), so it is refused with a plain message. "2026-10-25 02:30" happens twice;
the first (summer time) is meant unless the officer says otherwise.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from service.errors import Invalid
from service.render.formatting import MONTHS, datetime_local, language


def parse_local(value: str, tz: ZoneInfo, field: str = "scheduled_at") -> datetime:
    """'YYYY-MM-DD HH:MM' or 'YYYY-MM-DDTHH:MM' (local) → aware UTC."""
    text = (value or "").strip().replace("T", " ")
    try:
        naive = datetime.strptime(text[:16], "%Y-%m-%d %H:%M")
    except ValueError:
        raise Invalid("Skriv tidspunktet som ÅÅÅÅ-MM-DD TT:MM.", {field: "Ugyldigt tidspunkt"}) from None
    return local_to_utc(naive, tz, field)


def local_to_utc(naive: datetime, tz: ZoneInfo, field: str = "scheduled_at") -> datetime:
    first = naive.replace(tzinfo=tz, fold=0)
    back = first.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None)
    if back != naive:
        raise Invalid(
            f"{naive:%d.%m.%Y kl. %H:%M} findes ikke (sommertid begynder). Vælg et andet tidspunkt.",
            {field: "Tidspunktet findes ikke"},
        )
    return first.astimezone(timezone.utc)


def to_local_input(at: datetime | None, tz: ZoneInfo) -> str:
    """For <input type="datetime-local">."""
    return at.astimezone(tz).strftime("%Y-%m-%dT%H:%M") if at else ""


def format_local(at: datetime, tz: ZoneInfo, lang: str = "da") -> str:
    """'2. december 2026 kl. 10.00' / '2 December 2026 at 10:00 (CET)' (local time; English
    names the zone). The words and numbers are `service.render.formatting`'s."""
    return datetime_local(at, tz, lang, zone=language(lang) == "en")


_DATE_FORMS = ("%d.%m.%Y", "%d-%m-%Y", "%d/%m/%Y", "%Y-%m-%d", "%d.%m.%y")


def parse_danish(date_text: str, time_text: str, tz: ZoneInfo, field: str = "scheduled_at") -> datetime:
    """A date and a time as a Dane types them ('1.12.2026' or '1. december 2026'; '09.30',
    '9:30', '0930' or '9'), 24-hour, local → aware UTC. The browser's locale plays no part."""
    d = " ".join((date_text or "").strip().lower().split())
    for n, name in enumerate(MONTHS["da"], 1):
        d = re.sub(rf"^(\d{{1,2}})\.? {name} (\d{{4}})$", rf"\1.{n}.\2", d)
    day = None
    for form in _DATE_FORMS:
        try:
            day = datetime.strptime(d, form).date()
            break
        except ValueError:
            continue
    if day is None:
        raise Invalid("Skriv datoen som dag.måned.år, fx 1.12.2026.", {f"{field}_date": "Ugyldig dato"})
    t = (time_text or "").strip().lower().removeprefix("kl.").strip()
    m = re.fullmatch(r"(\d{1,2})(?:[.:]?(\d{2}))?", t)
    if not m or int(m.group(1)) > 23 or int(m.group(2) or 0) > 59:
        raise Invalid("Skriv klokkeslættet som timer.minutter, fx 09.30.", {f"{field}_time": "Ugyldigt klokkeslæt"})
    naive = datetime(day.year, day.month, day.day, int(m.group(1)), int(m.group(2) or 0))
    return local_to_utc(naive, tz, field)


def to_local_fields(at: datetime | None, tz: ZoneInfo) -> tuple[str, str]:
    """('1.12.2026', '09.30') for the editor's date and time fields."""
    if at is None:
        return "", ""
    loc = at.astimezone(tz)
    return f"{loc.day}.{loc.month}.{loc.year}", f"{loc:%H.%M}"


def zone_label(at: datetime, tz: ZoneInfo) -> str:
    """'dansk tid (vintertid, CET)' / 'dansk tid (sommertid, CEST)' for the moment `at`."""
    loc = at.astimezone(tz)
    summer = bool(loc.dst())
    return f"dansk tid ({'sommertid' if summer else 'vintertid'}, {loc.tzname()})"
