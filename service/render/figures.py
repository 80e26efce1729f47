"""The figures view: one subscriber's reading of a figures item (`docs/figures.md`).

Own municipalities first (value, change from last month and from last year, with
direction), beside the region and the whole country. A subscriber with no municipality
sees the region and the municipalities that moved most since last month. A small bar
chart (HTML tables in the template) sets the municipalities side by side.

Pure functions over the item's `data` dict; the result is a plain dataclass for templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.campaigns.times import month_name

MOVERS = 5
MAX_BARS = 8


@dataclass(frozen=True)
class AreaRow:
    code: str
    name: str
    level: str
    own: bool
    value: str  # formatted ("5.432", "4,5")
    month: str  # "−120" / "+35" / "0" / "–"
    year: str
    month_dir: str  # "up", "down", "same", "" (unknown)
    year_dir: str
    month_word: str  # "fald" / "stigning" / "uændret" (for plain text and screen readers)
    year_word: str


@dataclass(frozen=True)
class Bar:
    name: str
    value: str
    width: int  # percent of the widest bar, 1..100
    own: bool


@dataclass(frozen=True)
class FiguresView:
    period_label: str
    previous_label: str
    year_ago_label: str
    unit: str
    own: tuple[AreaRow, ...]
    region: AreaRow | None
    country: AreaRow | None
    movers: tuple[AreaRow, ...]  # only for subscribers without a municipality
    bars: tuple[Bar, ...]
    headline: str  # one sentence, for summaries and previews

    @property
    def rows(self) -> tuple[AreaRow, ...]:
        """Own municipalities, then the region, then the whole country."""
        return self.own + tuple(r for r in (self.region, self.country) if r is not None)


WORDS = {
    "da": {"up": "stigning", "down": "fald", "same": "uændret", "": "ikke oplyst"},
    "en": {"up": "up", "down": "down", "same": "unchanged", "": "not available"},
}


def _fmt(value: float | None, decimals: int, signed: bool = False) -> str:
    if value is None:
        return "–"
    text = f"{abs(value):,.{decimals}f}".replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    if not signed:
        return ("−" if value < 0 else "") + text
    if round(value, decimals) == 0:
        return "0"
    return ("+" if value > 0 else "−") + text


def _dir(change: float | None) -> str:
    if change is None:
        return ""
    return "up" if change > 0 else "down" if change < 0 else "same"


def _decimals(data: dict[str, Any]) -> int:
    unit = str(data.get("unit") or "").lower()
    if "pct" in unit or "%" in unit:
        return 1
    values = [a.get("value") for a in data.get("areas") or [] if isinstance(a.get("value"), (int, float))]
    return 0 if all(float(v).is_integer() for v in values) else 1


def _row(area: dict[str, Any], own: bool, decimals: int, lang: str) -> AreaRow:
    words = WORDS.get(lang, WORDS["da"])
    m, y = _dir(area.get("change_month")), _dir(area.get("change_year"))
    return AreaRow(
        code=str(area.get("code", "")), name=str(area.get("name", "")), level=str(area.get("level", "")), own=own,
        value=_fmt(area.get("value"), decimals), month=_fmt(area.get("change_month"), decimals, signed=True),
        year=_fmt(area.get("change_year"), decimals, signed=True), month_dir=m, year_dir=y,
        month_word=words[m], year_word=words[y],
    )


def _relative_move(area: dict[str, Any]) -> float:
    change, previous = area.get("change_month"), area.get("previous")
    if change is None:
        return -1.0
    if previous:
        return abs(change) / abs(previous)
    return abs(change)


def _headline(rows: tuple[AreaRow, ...], lang: str, period_label: str) -> str:
    """'Aarhus 8.054 (−77 fra sidste måned, −499 fra sidste år); Randers …' (the title names the month)."""
    if not rows:
        return ""
    if lang == "en":
        parts = [f"{r.name} {r.value} ({r.month} since last month, {r.year} since last year)" for r in rows[:3]]
    else:
        parts = [f"{r.name} {r.value} ({r.month} fra sidste måned, {r.year} fra sidste år)" for r in rows[:3]]
    return "; ".join(parts)


def figures_view(data: dict[str, Any] | None, own_codes: tuple[str, ...] | frozenset[str], lang: str) -> FiguresView | None:
    """The view of `data` for a subscriber who chose `own_codes` (empty: none chosen)."""
    if not data or not data.get("areas"):
        return None
    decimals = _decimals(data)
    areas = [a for a in data["areas"] if isinstance(a, dict)]
    munis = [a for a in areas if a.get("level") == "municipality"]
    own_set = set(own_codes)
    own = tuple(_row(a, True, decimals, lang) for a in munis if str(a.get("code")) in own_set)
    region_area = next((a for a in areas if a.get("level") == "region"), None)
    country_area = next((a for a in areas if a.get("level") == "country"), None)
    region = _row(region_area, False, decimals, lang) if region_area else None
    country = _row(country_area, False, decimals, lang) if country_area else None
    ranked = sorted(munis, key=_relative_move, reverse=True)
    movers = () if own else tuple(_row(a, False, decimals, lang) for a in ranked[:MOVERS])
    charted = [a for a in munis if str(a.get("code")) in own_set]
    charted += [a for a in ranked if str(a.get("code")) not in own_set][: max(0, MAX_BARS - len(charted))] if not own else []
    if own and len(charted) < 2:  # one bar says nothing: add the biggest movers around it
        charted += [a for a in ranked if str(a.get("code")) not in own_set][:4]
    top = max((a.get("value") or 0 for a in charted), default=0) or 1
    bars = tuple(
        Bar(name=str(a.get("name", "")), value=_fmt(a.get("value"), decimals),
            width=max(1, round(100 * (a.get("value") or 0) / top)), own=str(a.get("code")) in own_set)
        for a in charted
    )
    period_label = month_name(str(data.get("period") or ""), lang)
    lead = own if own else tuple(r for r in (region,) if r is not None)
    return FiguresView(
        period_label=period_label,
        previous_label=month_name(str(data.get("previous_period") or ""), lang),
        year_ago_label=month_name(str(data.get("year_ago_period") or ""), lang),
        unit=str(data.get("unit") or ""), own=own, region=region, country=country, movers=movers, bars=bars,
        headline=_headline(lead, lang, period_label),
    )
