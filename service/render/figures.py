"""The figures view: one subscriber's reading of a figures item (`docs/figures.md`), in the
subscriber's language.

- A table of the subscriber's own municipalities, then the region and the whole country:
  the unemployment rate and the number of full-time unemployed, each with its change from
  last month and from last year (the rate's in percentage points).
- A chart of all the region's municipalities by rate, lowest first, the subscriber's own
  marked, with the region's and the country's rate as reference lines, and a sentence per
  own municipality saying its rank ("Viborg har den 4. laveste ledighed af regionens 19
  kommuner").
- A subscriber with no municipality gets the biggest moves instead, with the change they
  are sorted by.

Every word comes from the `[figures]` and `[area_name]` groups of templates/messages.toml
and every number from `service.render.formatting`. Pure functions over the item's `data`;
the result is a plain dataclass for templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.render.formatting import Labels, month_name, number, ordinal, percent, signed

MOVERS = 5
CHANGE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Change:
    text: str  # "−77", "+0,1", "0", "–"
    dir: str  # "up", "down", "same", "" (unknown)
    word: str  # "fald" / "down" (for plain text and screen readers)


@dataclass(frozen=True)
class AreaRow:
    code: str
    name: str
    level: str
    own: bool
    rate: str  # "2,3 pct." / "2.3 %"
    rate_month: Change  # in points
    rate_year: Change
    count: str  # "8.054" / "8,054"
    count_month: Change
    count_year: Change


@dataclass(frozen=True)
class Mover:
    name: str
    value: str  # the rate (or the count, when the item has no rates)
    change: Change  # the change the list is sorted by


@dataclass(frozen=True)
class ChartRow:
    rank: int
    name: str
    value: str
    own: bool
    segments: tuple[tuple[int, str], ...]  # (width in %, "bar" | "gap" | "region" | "country" | "both")


@dataclass(frozen=True)
class Reference:
    kind: str  # "region", "country"
    name: str
    value: str
    after: int  # how many chart rows have a rate at or below it (where it falls in the text list)


@dataclass(frozen=True)
class Correction:
    name: str
    own: bool
    changes: tuple[str, ...]  # "fuldtidsledige i september 2026 8.054 → 8.100"


@dataclass(frozen=True)
class FiguresView:
    title: str
    period_label: str
    previous_label: str
    year_ago_label: str
    words: dict[str, str]  # column heads and notes, in the reader's language
    has_rate: bool
    has_count: bool
    own: tuple[AreaRow, ...]
    region: AreaRow | None
    country: AreaRow | None
    movers: tuple[Mover, ...]  # only for subscribers without a municipality
    chart: tuple[ChartRow, ...]  # every municipality with a rate, lowest first
    references: tuple[Reference, ...]
    ranks: tuple[str, ...]  # one sentence per own municipality
    name_width: int  # for the plain-text columns
    headline: str  # one line, for summaries and previews
    corrections: tuple[Correction, ...] = ()  # a revision: what changed, own areas first
    corrections_intro: str = ""

    @property
    def rows(self) -> tuple[AreaRow, ...]:
        """Own municipalities, then the region, then the whole country."""
        return self.own + tuple(r for r in (self.region, self.country) if r is not None)


def _w(labels: Labels, key: str, lang: str, **fields: str) -> str:
    text = labels.get("figures", key, lang)
    return text.format(**fields) if fields else text


def area_name(area: dict[str, Any], labels: Labels, lang: str) -> str:
    code, name = str(area.get("code", "")), str(area.get("name", ""))
    if area.get("level") in ("country", "region"):
        named = labels.get("area_name", code, lang)
        return name if named == code else named
    return name


def figures_title(data: dict[str, Any] | None, labels: Labels, lang: str, *, revised: bool = False) -> str:
    month = month_name(str((data or {}).get("period") or ""), lang)
    return _w(labels, "revised_title" if revised else "title", lang, month=month)


def _dir(change: float | None) -> str:
    if change is None:
        return ""
    return "up" if change > CHANGE_TOLERANCE else "down" if change < -CHANGE_TOLERANCE else "same"


def _change(value: float | None, decimals: int, labels: Labels, lang: str) -> Change:
    d = _dir(value if value is None else round(value, decimals))
    return Change(signed(value, decimals, lang), d, _w(labels, d or "unknown", lang))


def _row(area: dict[str, Any], own: bool, labels: Labels, lang: str) -> AreaRow:
    return AreaRow(
        code=str(area.get("code", "")), name=area_name(area, labels, lang), level=str(area.get("level", "")), own=own,
        rate=percent(area.get("rate"), 1, lang), rate_month=_change(area.get("rate_change_month"), 1, labels, lang),
        rate_year=_change(area.get("rate_change_year"), 1, labels, lang),
        count=number(area.get("value"), 0, lang), count_month=_change(area.get("change_month"), 0, labels, lang),
        count_year=_change(area.get("change_year"), 0, labels, lang),
    )


def _relative(area: dict[str, Any]) -> float | None:
    change, previous = area.get("change_month"), area.get("previous")
    if change is None or not previous:
        return None
    return 100 * change / previous


def movers(munis: list[dict[str, Any]], has_rate: bool, labels: Labels, lang: str) -> tuple[Mover, ...]:
    """The municipalities that moved most since last month, by the change shown beside them:
    the rate's change in points; without rates, the count's change in per cent."""
    if has_rate:
        moved = [a for a in munis if a.get("rate_change_month") is not None]
        moved.sort(key=lambda a: (-abs(a["rate_change_month"]), -abs(_relative(a) or 0)))
        return tuple(Mover(area_name(a, labels, lang), percent(a.get("rate"), 1, lang),
                           _change(a["rate_change_month"], 1, labels, lang)) for a in moved[:MOVERS])
    moved = [a for a in munis if _relative(a) is not None]
    moved.sort(key=lambda a: -abs(_relative(a)))
    return tuple(Mover(area_name(a, labels, lang), number(a.get("value"), 0, lang),
                       _change(_relative(a), 1, labels, lang)) for a in moved[:MOVERS])


def segments(value: float, marks: list[tuple[float, str]], top: float) -> tuple[tuple[int, str], ...]:
    """A bar of `value` on a 0..`top` scale as table cells in per cent, with 1 % wide marks
    at the reference values (two marks in the same place become one "both")."""
    end = max(1, min(100, round(100 * value / top))) if top > 0 else 1
    at: dict[int, str] = {}
    for ref, kind in marks:
        pos = max(0, min(99, round(100 * ref / top))) if top > 0 else 0
        at[pos] = "both" if pos in at and at[pos] != kind else kind
    out: list[tuple[int, str]] = []
    pos = 0

    def span(a: int, b: int) -> None:
        if min(b, end) > a:
            out.append((min(b, end) - a, "bar"))
        if b > max(a, end):
            out.append((b - max(a, end), "gap"))

    for mark in sorted(at):
        span(pos, mark)
        out.append((1, at[mark]))
        pos = mark + 1
    span(pos, 100)
    return tuple(out)


def ranking(munis: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """(rank, area) by rate, lowest first; equal rates share a rank (1, 2, 2, 4, …)."""
    rated = sorted((a for a in munis if a.get("rate") is not None), key=lambda a: (a["rate"], str(a.get("name"))))
    out = []
    for a in rated:
        rank = 1 + sum(1 for b in rated if b["rate"] < a["rate"] - CHANGE_TOLERANCE)
        out.append((rank, a))
    return out


def rank_sentence(area: dict[str, Any], ranked: list[tuple[int, dict[str, Any]]], labels: Labels, lang: str) -> str:
    n = len(ranked)
    rank = next(r for r, a in ranked if a is area)
    shared = [a for r, a in ranked if r == rank and a is not area]
    from_top = 1 + sum(1 for r, a in ranked if a["rate"] > area["rate"] + CHANGE_TOLERANCE)
    name = area_name(area, labels, lang)
    if rank <= from_top:  # in the lower half: say how low
        key, place = ("rank_lowest_1", rank) if rank == 1 else ("rank_lowest", rank)
    else:
        key, place = ("rank_highest_1", from_top) if from_top == 1 else ("rank_highest", from_top)
    text = _w(labels, key, lang, name=name, rank=ordinal(place, lang), n=str(n))
    if shared:
        names = [area_name(a, labels, lang) for a in shared]
        joined = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {_w(labels, 'and', lang)} {names[-1]}"
        text += f" ({_w(labels, 'rank_shared', lang, names=joined)})"
    return text + "."


def _headline(row: AreaRow, area: dict[str, Any], prev: str, labels: Labels, lang: str) -> str:
    parts = []
    if area.get("rate") is not None:
        parts.append(_w(labels, "headline_rate", lang, name=row.name, rate=row.rate, points=row.rate_month.text, prev=prev))
    if area.get("value") is not None:
        count = _w(labels, "headline_count", lang, count=row.count, change=row.count_month.text, prev=prev)
        parts.append(count if parts else f"{row.name} {count}")
    return ", ".join(parts)


FIELDS = {  # field → (message, which period, decimals, a rate?)
    "value": ("corrected_count", "period", 0, False), "previous": ("corrected_count", "previous_period", 0, False),
    "year_ago": ("corrected_count", "year_ago_period", 0, False), "rate": ("corrected_rate", "period", 1, True),
    "rate_previous": ("corrected_rate", "previous_period", 1, True),
    "rate_year_ago": ("corrected_rate", "year_ago_period", 1, True),
}


def corrections(data: dict[str, Any], changed: dict[str, Any], own: set[str], labels: Labels,
                lang: str) -> tuple[Correction, ...]:
    """Each changed area with its old → new numbers: own municipalities, region, country, the rest."""
    by_code = {str(a.get("code")): a for a in data.get("areas") or [] if isinstance(a, dict)}
    rank = {"region": 1, "country": 2, "municipality": 3}
    out = []
    for code, diff in changed.items():
        area = by_code.get(code, {"code": code, "name": code, "level": "municipality"})
        parts = []
        for field, (key, period, decimals, rate) in FIELDS.items():
            pair = diff.get(field) if isinstance(diff, dict) else None
            if not pair or pair[0] == pair[1]:
                continue
            show = (lambda v: percent(v, decimals, lang)) if rate else (lambda v: number(v, decimals, lang))
            parts.append(_w(labels, key, lang, month=month_name(str(data.get(period) or ""), lang),
                            old=show(pair[0]), new=show(pair[1])))
        if parts:
            out.append((0 if code in own else rank.get(area.get("level"), 3),
                        Correction(area_name(area, labels, lang), code in own, tuple(parts))))
    return tuple(c for _, c in sorted(out, key=lambda p: p[0]))


def figures_view(data: dict[str, Any] | None, own_codes: tuple[str, ...] | frozenset[str], lang: str,
                 labels: Labels, changed: dict[str, Any] | None = None) -> FiguresView | None:
    """The view of `data` for a subscriber who chose `own_codes` (empty: none chosen)."""
    if not data or not data.get("areas"):
        return None
    areas = [a for a in data["areas"] if isinstance(a, dict)]
    munis = [a for a in areas if a.get("level") == "municipality"]
    own_set = {str(c) for c in own_codes}
    own_areas = [a for a in munis if str(a.get("code")) in own_set]
    has_rate = any(a.get("rate") is not None for a in areas)
    has_count = any(a.get("value") is not None for a in areas)
    region_area = next((a for a in areas if a.get("level") == "region"), None)
    country_area = next((a for a in areas if a.get("level") == "country"), None)
    own = tuple(_row(a, True, labels, lang) for a in own_areas)
    region = _row(region_area, False, labels, lang) if region_area else None
    country = _row(country_area, False, labels, lang) if country_area else None
    period = month_name(str(data.get("period") or ""), lang)
    prev = month_name(str(data.get("previous_period") or ""), lang)
    ago = month_name(str(data.get("year_ago_period") or ""), lang)

    ranked = ranking(munis) if has_rate else []
    refs = [(a, kind) for a, kind in ((region_area, "region"), (country_area, "country")) if a and a.get("rate") is not None]
    top = max([a["rate"] for _, a in ranked] + [a["rate"] for a, _ in refs], default=0)
    chart = tuple(
        ChartRow(rank, area_name(a, labels, lang), percent(a["rate"], 1, lang), str(a.get("code")) in own_set,
                 segments(a["rate"], [(r["rate"], kind) for r, kind in refs], top))
        for rank, a in ranked
    )
    references = tuple(
        Reference(kind, area_name(a, labels, lang), percent(a["rate"], 1, lang),
                  sum(1 for _, m in ranked if m["rate"] <= a["rate"] + CHANGE_TOLERANCE))
        for a, kind in refs)
    ranks = tuple(rank_sentence(a, ranked, labels, lang) for a in own_areas if a.get("rate") is not None)
    n = str(len(ranked))
    words = {k: _w(labels, k, lang) for k in (
        "area", "rate_group", "count_group", "points_note", "text_rate", "text_count", "text_month", "text_year",
        "chart_rank", "reference")}
    words.update(
        since_prev=_w(labels, "since", lang, month=prev), since_ago=_w(labels, "since", lang, month=ago),
        movers=_w(labels, "movers", lang, prev=prev, month=period),
        chart=_w(labels, "chart", lang, n=n, month=period),
        text_legend=_w(labels, "text_legend", lang, prev=prev, ago=ago),
        movers_head=_w(labels, "movers_points" if has_rate else "movers_percent", lang),
    )
    shown = own + tuple(r for r in (region, country) if r is not None)
    lead = [(r, a) for r, a in zip(own, own_areas)] or ([(region, region_area)] if region else [])
    return FiguresView(
        title=figures_title(data, labels, lang, revised=bool(changed)), period_label=period, previous_label=prev, year_ago_label=ago,
        words=words, has_rate=has_rate, has_count=has_count, own=own, region=region, country=country,
        movers=() if own else movers(munis, has_rate, labels, lang), chart=chart, references=references,
        ranks=ranks, name_width=max((len(r.name) for r in shown), default=10),
        headline="; ".join(_headline(r, a, prev, labels, lang) for r, a in lead[:3]),
        corrections=corrections(data, changed, own_set, labels, lang) if changed else (),
        corrections_intro=_w(labels, "corrections_intro", lang, month=period) if changed else "",
    )
