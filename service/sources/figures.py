"""Poll a `statbank` source: when the table's `updated` moves, fetch the data and make (or
update) the figures item of the newest period. Its `data` shape is in docs/figures.md.

Everything is fetched, parsed and checked before the one transaction that saves the
item together with the new `updated` value: an API error leaves no half-made item and
the next poll tries again.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from service.db import seed
from service.db.models import Item, ItemSource, Source
from service.sources.info import SourceInfo
from service.sources.report import PollReport
from service.sources.statbank import (
    Cell, StatbankError, TableInfo, data_url, latest_month, parse_csv, parse_tableinfo, shift_period, tableinfo_url,
)
from service.sources.store import ItemDraft, save_item

TOPIC = "ledighedstal"
MONTHS = ("januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september", "oktober",
          "november", "december")


def level(code: str) -> str:
    if code == seed.COUNTRY_CODE:
        return "country"
    if code in ("081", "082", "083", "084", "085"):
        return "region"
    return "municipality"


def month_name(period: str) -> str:
    return f"{MONTHS[int(period[5:7]) - 1]} {period[:4]}"


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


def figures_data(info: TableInfo, table: str, period: str, cells: list[Cell]) -> dict[str, Any]:
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
        "unit": info.unit, "updated": info.updated, "areas": areas,
    }


def _fmt(value: float | None) -> str:
    if value is None:
        return "ikke oplyst"
    text = f"{value:,.1f}" if value != int(value) else f"{int(value):,}"
    return text.replace(",", "X").replace(".", ",").replace("X", ".")


def _signed(value: float | None) -> str:
    return "ikke oplyst" if value is None else ("+" if value > 0 else "−" if value < 0 else "±") + _fmt(abs(value))


def summary(data: dict[str, Any], info: TableInfo) -> str:
    lines = []
    for area in data["areas"]:
        if area["level"] in ("region", "country"):
            lines.append(
                f"{area['name']}: {_fmt(area['value'])} ({_signed(area['change_month'])} siden "
                f"{month_name(data['previous_period'])}, {_signed(area['change_year'])} siden {month_name(data['year_ago_period'])})."
            )
    return f"{info.text or 'Ledighedstal'} i {month_name(data['period'])}.\n" + "\n".join(lines)


def _published(updated: str, tz: ZoneInfo, fallback: datetime) -> datetime:
    try:
        local = datetime.fromisoformat(updated)
    except ValueError:
        return fallback
    if local.tzinfo is None:
        local = local.replace(tzinfo=tz)
    return local.astimezone(timezone.utc)


def area_changes(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    before = {a["code"]: a for a in (old or {}).get("areas", [])}
    changed: dict[str, Any] = {}
    for area in new["areas"]:
        was = before.get(area["code"], {})
        diff = {k: [was.get(k), area[k]] for k in ("value", "previous", "year_ago") if was.get(k) != area[k]}
        if diff:
            changed[area["code"]] = diff
    return {"updated": [(old or {}).get("updated"), new["updated"]], "areas": changed}


async def figures_draft(runtime, source: SourceInfo) -> ItemDraft | None:
    """The figures item the table's newest release makes; None when `updated` has not moved."""
    table = str(source.options.get("table") or "")
    if not table or not source.url:
        raise StatbankError("the source needs a table and the API's base address")
    fetched = await runtime.fetcher.get(tableinfo_url(source.url, table))
    info = parse_tableinfo(fetched.body)
    if info.updated == source.remote_updated:
        return None
    period = str(source.options.get("period") or latest_month(info.time_variable().values))
    periods = [shift_period(period, -12), shift_period(period, -1), period]
    fetched = await runtime.fetcher.get(data_url(source.url, table, request_variables(info, source, periods)))
    cells = parse_csv(fetched.body, str(source.options.get("area_variable", "OMRÅDE")), info.time_variable().id)
    data = figures_data(info, table, period, cells)
    return ItemDraft(
        key=f"{table}:{period}", kind="figures", title=f"Ledighedstal for {month_name(period)}",
        published_at=_published(info.updated, runtime.settings.service.tz(), runtime.clock.now()),
        summary=summary(data, info), link=str(source.options.get("link") or f"https://www.statistikbanken.dk/{table}"),
        topics=[TOPIC] + [t for t in source.topics if t != TOPIC],
        municipalities=[a["code"] for a in data["areas"] if a["level"] == "municipality"],
        data=data, period=period, dedupe_by_link=False,
    )


async def poll_statbank(runtime, source: SourceInfo) -> PollReport:
    draft = await figures_draft(runtime, source)
    if draft is None:
        return PollReport(not_modified=True)
    now = runtime.clock.now()
    report = PollReport()
    async with runtime.db.transaction() as s:
        row = await s.get(Source, source.id)
        old = await s.scalar(
            select(Item.data).join(ItemSource, ItemSource.item_id == Item.id)
            .where(ItemSource.source_id == source.id, ItemSource.entry_key == draft.key)
        )
        saved = await save_item(s, row, draft, now, announce_updates=source.announce_updates,
                                changes=area_changes(old, draft.data))
        report.count(saved)
        row.remote_updated = draft.data["updated"]
    return report
