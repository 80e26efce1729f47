"""Poll a `statbank` source: when the table's `updated` moves, fetch the data of the newest
period and store it as this table's part of the release; the parts of one period (the
count table's and the rate table's) make one figures item (`figures_join`). The item's
`data` shape is in docs/figures.md.

The table information is fetched with a conditional GET (StatBank may answer 304). Everything
is fetched, parsed and checked before the one transaction that saves the part, the item and
the table's new `updated` value: an API error leaves no half-made item and the next poll
tries again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from service.db import seed
from service.db.models import Source
from service.sources.figures_join import TOPIC, join_parts, measure_of, store_part, summary, title
from service.sources.info import SourceInfo
from service.sources.report import PollReport
from service.sources.statbank import (
    Cell, StatbankError, TableInfo, data_url, latest_month, parse_csv, parse_tableinfo, shift_period, tableinfo_url,
)
from service.sources.store import ItemDraft


def level(code: str) -> str:
    if code == seed.COUNTRY_CODE:
        return "country"
    if code in ("081", "082", "083", "084", "085"):
        return "region"
    return "municipality"


def default_areas() -> list[str]:
    return [seed.COUNTRY_CODE, seed.REGION_CODE] + [r["code"] for r in seed.municipality_rows()]


def request_variables(info: TableInfo, source: SourceInfo, periods: list[str]) -> dict[str, list[str]]:
    opts = source.options
    area_var = str(opts.get("area_variable", "OMRÅDE"))
    area = info.variable(area_var)
    if area is None:
        raise StatbankError(f"table {info.id} has no variable {area_var}")
    offered = {code for code, _ in area.values}
    areas = [a for a in (opts.get("areas") or default_areas()) if a in offered]
    if not areas:
        raise StatbankError(f"none of the configured areas are in table {info.id}")
    variables = {area.id: areas}
    filters = opts.get("filters") or {}
    for var in info.variables:
        if var is area or var.time:
            continue
        wanted = filters.get(var.id)
        if wanted:
            variables[var.id] = [str(w) for w in (wanted if isinstance(wanted, list) else [wanted])]
        elif not var.elimination and var.values:
            ids = [v for v, _ in var.values]
            variables[var.id] = ["TOT"] if "TOT" in ids else ids[:1]
    variables[info.time_variable().id] = periods
    return variables


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _diff(a: Decimal | None, b: Decimal | None) -> float | None:
    return None if a is None or b is None else float(a - b)


def figures_data(info: TableInfo, table: str, period: str, cells: list[Cell], measure: str = "count") -> dict[str, Any]:
    """One table's part of a release: per area the value, last month's, last year's and the changes."""
    previous, year_ago = shift_period(period, -1), shift_period(period, -12)
    by_key = {(c.area, c.period): c for c in cells}
    codes: list[str] = []
    names: dict[str, str] = {}
    for c in cells:
        if c.area not in names:
            codes.append(c.area)
            names[c.area] = c.area_name
    order = {"country": 0, "region": 1, "municipality": 2}
    codes.sort(key=lambda code: order[level(code)])  # stable: municipalities keep the data's order
    areas = []
    for code in codes:
        now, prev, ago = (by_key.get((code, p)) for p in (period, previous, year_ago))
        v, p, y = (c.value if c else None for c in (now, prev, ago))
        areas.append({
            "code": code, "name": names[code], "level": level(code),
            "value": _num(v), "previous": _num(p), "year_ago": _num(y),
            "change_month": _diff(v, p), "change_year": _diff(v, y),
        })
    if not any(a["value"] is not None for a in areas):
        raise StatbankError(f"the data has no values for {period}")
    return {
        "table": table, "period": period, "previous_period": previous, "year_ago_period": year_ago,
        "unit": info.unit, "updated": info.updated, "measure": measure, "text": info.text, "areas": areas,
    }


def _published(updated: str, tz: ZoneInfo, fallback: datetime) -> datetime:
    try:
        local = datetime.fromisoformat(updated)
    except ValueError:
        return fallback
    if local.tzinfo is None:
        local = local.replace(tzinfo=tz)
    return local.astimezone(timezone.utc)


@dataclass(frozen=True)
class Fetched:
    part: dict[str, Any] | None  # None: `updated` has not moved (or 304)
    etag: str | None
    last_modified: str | None


async def fetch_part(runtime, source: SourceInfo, *, conditional: bool = True) -> Fetched:
    """This table's part of its newest release; `part` is None when nothing moved."""
    table = str(source.options.get("table") or "")
    if not table or not source.url:
        raise StatbankError("the source needs a table and the API's base address")
    etag, modified = (source.etag, source.last_modified) if conditional else (None, None)
    fetched = await runtime.fetcher.get(tableinfo_url(source.url, table), etag=etag, last_modified=modified)
    if fetched.status == 304:
        return Fetched(None, source.etag, source.last_modified)
    info = parse_tableinfo(fetched.body)
    tags = (fetched.etag, fetched.last_modified)
    if info.updated == source.remote_updated:
        return Fetched(None, *tags)
    period = str(source.options.get("period") or latest_month(info.time_variable().values))
    periods = [shift_period(period, -12), shift_period(period, -1), period]
    data = await runtime.fetcher.get(data_url(source.url, table, request_variables(info, source, periods)))
    cells = parse_csv(data.body, str(source.options.get("area_variable", "OMRÅDE")), info.time_variable().id)
    part = figures_data(info, table, period, cells, measure_of(source.options, info.unit))
    published = _published(info.updated, runtime.settings.service.tz(), runtime.clock.now())
    part["published_at"] = published.isoformat()
    part["link"] = _link(source, table)
    return Fetched(part, *tags)


def _link(source: SourceInfo, table: str) -> str:
    return str(source.options.get("link") or f"https://www.statistikbanken.dk/{table}")


async def figures_draft(runtime, source: SourceInfo) -> ItemDraft | None:
    """What this table alone would make (the admin's test fetch; saves nothing)."""
    part = (await fetch_part(runtime, source, conditional=False)).part
    if part is None:
        return None
    data = join_parts(part if part["measure"] == "count" else None, part if part["measure"] == "rate" else None)
    return ItemDraft(
        key=f"{part['table']}:{part['period']}", kind="figures", title=title(part["period"]),
        published_at=datetime.fromisoformat(part["published_at"]), summary=summary(data, part["text"]),
        link=_link(source, part["table"]), topics=list(dict.fromkeys([TOPIC, *source.topics])),
        municipalities=[a["code"] for a in data["areas"] if a["level"] == "municipality"],
        data=data, period=part["period"], dedupe_by_link=False,
    )


async def poll_statbank(runtime, source: SourceInfo) -> PollReport:
    fetched = await fetch_part(runtime, source)
    now = runtime.clock.now()
    report = PollReport(not_modified=fetched.part is None)
    async with runtime.db.transaction() as s:
        row = await s.get(Source, source.id)
        row.etag, row.last_modified = fetched.etag, fetched.last_modified
        if fetched.part is None:
            return report
        part = fetched.part
        wait = timedelta(minutes=runtime.settings.figures.join_wait_minutes)
        announce = bool(source.options.get("announce_updates", runtime.settings.figures.announce_revisions))
        saved = await store_part(s, row, part, now=now, wait=wait, announce_updates=announce,
                                 topics=source.topics)
        report.count(saved)
        row.remote_updated = part["updated"]
    return report
