"""Numbers, dates and words in the reader's language: the one place pages, mail and
drafts format values.

Danish is the default everywhere; English is chosen per subscriber (and per staff
member where the console offers it). Every function takes `lang` and treats anything
but "en" as Danish, so a missing or unknown choice reads as Danish, never as a crash.

    number(1188) -> "1.188"          number(1188, lang="en") -> "1,188"
    percent(4.1) -> "4,1 pct."       percent(4.1, lang="en") -> "4.1 %"
    signed(-77) -> "−77"             points(0.2) -> "+0,2 pct.-point"
    datetime_local(at, tz) -> "1. december 2026 kl. 09.30"
    month_name("2026M10") -> "oktober 2026"

Status and kind words come from `templates/labels.toml` through `Labels` (also the
`label` filter in the page and mail templates), so no English status word reaches a
Danish page.
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

LANGS = ("da", "en")
MINUS = "\u2212"  # a real minus sign, not a hyphen
MISSING = "–"

MONTHS = {
    "da": ("januar", "februar", "marts", "april", "maj", "juni", "juli", "august",
           "september", "oktober", "november", "december"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}
WEEKDAYS = {
    "da": ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}


def language(value: object) -> str:
    """'en' for English, 'da' for anything else (the default language)."""
    return "en" if str(value or "").strip().lower()[:2] == "en" else "da"


# ------------------------------------------------------------------ numbers


def _grouped(value: float, decimals: int, lang: str) -> str:
    text = f"{abs(value):,.{decimals}f}"
    if language(lang) == "da":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def number(value: float | int | None, decimals: int = 0, lang: str = "da", missing: str = MISSING) -> str:
    """1234.5 -> '1.234,5' (da) / '1,234.5' (en); negative with a real minus; None -> missing."""
    if value is None:
        return missing
    text = _grouped(value, decimals, lang)
    return (MINUS + text) if round(value, decimals) < 0 else text


def signed(value: float | int | None, decimals: int = 0, lang: str = "da", missing: str = MISSING) -> str:
    """A change: '+12', '−77', '0' (a change that rounds to nothing has no sign)."""
    if value is None:
        return missing
    if round(value, decimals) == 0:
        return _grouped(0, decimals, lang)
    return ("+" if value > 0 else MINUS) + _grouped(value, decimals, lang)


def percent(value: float | None, decimals: int = 1, lang: str = "da", missing: str = MISSING) -> str:
    """A rate: '4,1 pct.' (da) / '4.1 %' (en)."""
    if value is None:
        return missing
    text = number(value, decimals, lang)
    return f"{text} %" if language(lang) == "en" else f"{text} pct."


def points(value: float | None, decimals: int = 1, lang: str = "da", missing: str = MISSING,
           short: bool = False) -> str:
    """A change in a rate: '+0,2 pct.-point' / '+0.2 percentage points' ('+0.2 pp' short)."""
    if value is None:
        return missing
    text = signed(value, decimals, lang)
    if language(lang) == "en":
        return f"{text} pp" if short else f"{text} percentage points"
    return f"{text} pct.-point"


def ordinal(n: int, lang: str = "da") -> str:
    """4 -> '4.' (da) / '4th' (en)."""
    if language(lang) == "da":
        return f"{n}."
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# ------------------------------------------------------------------ dates and times


def month_name(period: str, lang: str = "da") -> str:
    """StatBank period '2026M10' -> 'oktober 2026' / 'October 2026' (unchanged if not a period)."""
    try:
        year, month = str(period).split("M")
        return f"{MONTHS[language(lang)][int(month) - 1]} {int(year)}"
    except (ValueError, IndexError):
        return str(period)


def date_local(at: datetime | date, tz: ZoneInfo | None = None, lang: str = "da") -> str:
    """'1. december 2026' / '1 December 2026'."""
    if isinstance(at, datetime) and tz is not None:
        at = at.astimezone(tz)
    month = MONTHS[language(lang)][at.month - 1]
    return f"{at.day} {month} {at.year}" if language(lang) == "en" else f"{at.day}. {month} {at.year}"


def time_local(at: datetime, tz: ZoneInfo | None = None, lang: str = "da") -> str:
    """'09.30' (da) / '09:30' (en), 24-hour."""
    loc = at.astimezone(tz) if tz is not None else at
    return f"{loc:%H:%M}" if language(lang) == "en" else f"{loc:%H.%M}"


def datetime_local(at: datetime, tz: ZoneInfo | None = None, lang: str = "da", zone: bool = False) -> str:
    """'1. december 2026 kl. 09.30' / '1 December 2026 at 09:30'; zone=True adds '(CET)'."""
    loc = at.astimezone(tz) if tz is not None else at
    if language(lang) == "en":
        text = f"{date_local(loc, None, 'en')} at {time_local(loc, None, 'en')}"
    else:
        text = f"{date_local(loc, None, 'da')} kl. {time_local(loc, None, 'da')}"
    return f"{text} ({loc.tzname()})" if zone and loc.tzname() else text


def weekday(at: datetime | date, lang: str = "da") -> str:
    return WEEKDAYS[language(lang)][at.weekday()]


# ------------------------------------------------------------------ labels


class Labels:
    """Status and kind words per language from a TOML catalogue:

        [campaign_status]
        draft = { da = "Kladde", en = "Draft" }

    `get(group, key, lang)` falls back to Danish, then to the key itself, so a value the
    catalogue does not know yet shows as itself rather than breaking the page (and the
    console test catches it as an untranslated word).
    """

    def __init__(self, table: dict[str, dict[str, dict[str, str]]]):
        self._table = table

    @classmethod
    def load(cls, path: Path) -> "Labels":
        with path.open("rb") as fh:
            return cls(tomllib.load(fh))

    def get(self, group: str, key: object, lang: str = "da") -> str:
        if key is None or key == "":
            return MISSING
        entry = self._table.get(group, {}).get(str(key))
        if not entry:
            return str(key)
        return entry.get(language(lang)) or entry.get("da") or str(key)

    def options(self, group: str, lang: str = "da") -> list[tuple[str, str]]:
        """(key, label) pairs in catalogue order, for a <select> or a filter list."""
        return [(key, self.get(group, key, lang)) for key in self._table.get(group, {})]

    def groups(self) -> tuple[str, ...]:
        return tuple(self._table)

    def words(self, group: str, lang: str) -> set[str]:
        return {entry.get(language(lang), "") for entry in self._table.get(group, {}).values()} - {""}
