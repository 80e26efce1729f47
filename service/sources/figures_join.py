"""One figures item per release: the count table's part and the rate table's part of the
same period, joined (docs/figures.md).

StatBank publishes the count (AUL01, `Antal`) and the rate (AUP01, `Pct.`) at the same
moment, but they are two tables, polled by two sources, and either may be seen first.
Each poll stores its table's part (`FiguresPart`); `store_part` then (re)builds the one
item of the group (the sources' shared topic) and period from every part that is in:

- all the group's enabled sources have delivered: the item is public at once;
- not yet: the item waits (`public_at`) until `join_wait_minutes` after the first part
  was seen, and then goes out with what is there. A part that comes later fills the item
  in without announcing it again.

`join_parts` is pure: the parts in, the item's `data` out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import Item, ItemRevision, ItemSource, Source
from service.db.releases import FiguresPart
from service.render.formatting import month_name, number, percent, points, signed
from service.sources.store import ItemDraft, Saved, save_item

TOPIC = "ledighedstal"
MEASURES = ("count", "rate")
COUNT_FIELDS = ("value", "previous", "year_ago", "change_month", "change_year")
RATE_FIELDS = tuple(f"rate_{f}" if f != "value" else "rate" for f in COUNT_FIELDS)
COMPARED = {"count": ("value", "previous", "year_ago"), "rate": ("rate", "rate_previous", "rate_year_ago")}


def group_of(options: dict[str, Any], topics: list[str]) -> str:
    """Sources with the same group (by default their first topic) make one item per period."""
    return str(options.get("group") or (topics[0] if topics else TOPIC))[:64]


def measure_of(options: dict[str, Any], unit: str) -> str:
    """'rate' for a percentage table (unit `Pct.`), 'count' otherwise; the option `measure` decides if set."""
    wanted = str(options.get("measure") or "").lower()
    if wanted in MEASURES:
        return wanted
    u = unit.strip().lower()
    return "rate" if u.startswith(("pct", "procent", "percent")) or "%" in u else "count"


def join_parts(count: dict[str, Any] | None, rate: dict[str, Any] | None) -> dict[str, Any]:
    """The figures item's data from a count part and a rate part (either may be None)."""
    lead = count or rate
    if lead is None:
        raise ValueError("no part to join")
    rate_by = {a["code"]: a for a in (rate or {}).get("areas", [])}
    count_by = {a["code"]: a for a in (count or {}).get("areas", [])}
    order = [a["code"] for a in lead["areas"]] + [a["code"] for a in (rate or {}).get("areas", []) if a["code"] not in count_by]
    areas = []
    for code in order:
        c, r = count_by.get(code), rate_by.get(code)
        base = c or r
        area = {"code": code, "name": base["name"], "level": base["level"]}
        area.update({f: (c or {}).get(f) for f in COUNT_FIELDS})
        area.update({rf: (r or {}).get(f) for f, rf in zip(COUNT_FIELDS, RATE_FIELDS)})
        areas.append(area)
    rank = {"country": 0, "region": 1, "municipality": 2}
    areas.sort(key=lambda a: rank.get(a["level"], 2))  # stable: municipalities keep the data's order
    return {
        "table": (count or {}).get("table"), "period": lead["period"], "previous_period": lead["previous_period"],
        "year_ago_period": lead["year_ago_period"],
        "unit": (count or {}).get("unit"), "updated": (count or {}).get("updated"),
        "rate_table": (rate or {}).get("table"), "rate_unit": (rate or {}).get("unit"),
        "rate_updated": (rate or {}).get("updated"),
        "tables": {m: p["table"] for m, p in (("count", count), ("rate", rate)) if p},
        "areas": areas,
    }


def area_changes(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """What a revision changed: per area `{field: [old, new]}` for the measures the old data had,
    and which tables were added (a part that came late is no revision)."""
    old = old or {}
    before = {a["code"]: a for a in old.get("areas", [])}
    had = set((old.get("tables") or ({"count": old["table"]} if old.get("table") else {})))
    changed: dict[str, Any] = {}
    for area in new["areas"]:
        was = before.get(area["code"])
        if was is None:
            continue
        diff = {k: [was.get(k), area.get(k)] for m in had for k in COMPARED[m] if was.get(k) != area.get(k)}
        if diff:
            changed[area["code"]] = diff
    added = sorted(t for m, t in (new.get("tables") or {}).items() if m not in had)
    return {"updated": [old.get("updated"), new.get("updated")],
            "rate_updated": [old.get("rate_updated"), new.get("rate_updated")], "areas": changed, "added": added}


def merged(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """Two revisions' area changes as one (old from the earlier, new from the later): the count
    table and the rate table of a revision are seen one after the other, and told as one."""
    out: dict[str, Any] = {code: dict(diff) for code, diff in earlier.items()}
    for code, diff in later.items():
        for field, (old, new) in diff.items():
            first = out.setdefault(code, {}).get(field, [old, new])[0]
            out[code][field] = [first, new]
    return {code: {f: p for f, p in diff.items() if p[0] != p[1]} for code, diff in out.items()
            if any(p[0] != p[1] for p in diff.values())}


def title(period: str) -> str:
    """The stored (Danish) title; mail shows `service.render.figures.figures_title` in the reader's language."""
    return f"Ledighedstal for {month_name(period)}"


def summary(data: dict[str, Any], text: str = "") -> str:
    """A plain Danish summary for the archive and the feed (mail renders the figures itself)."""
    prev, ago = month_name(data["previous_period"]), month_name(data["year_ago_period"])
    lines = []
    for a in data["areas"]:
        if a["level"] not in ("region", "country"):
            continue
        parts = []
        if a.get("rate") is not None:
            parts.append(f"ledighed {percent(a['rate'])} ({points(a['rate_change_month'])} siden {prev}, "
                         f"{points(a['rate_change_year'])} siden {ago})")
        if a.get("value") is not None:
            parts.append(f"{number(a['value'])} fuldtidsledige ({signed(a['change_month'])} siden {prev}, "
                         f"{signed(a['change_year'])} siden {ago})")
        if parts:
            lines.append(f"{a['name']}: " + "; ".join(parts) + ".")
    return f"{text or 'Ledighedstal'} i {month_name(data['period'])}.\n" + "\n".join(lines)


async def _expected(s: AsyncSession, group: str) -> set[int]:
    rows = (await s.execute(select(Source.id, Source.options, Source.topics)
                            .where(Source.kind == "statbank", Source.enabled.is_(True)))).all()
    return {r.id for r in rows if group_of(r.options or {}, list(r.topics or [])) == group}


async def store_part(s: AsyncSession, source: Source, part: dict[str, Any], *, now: datetime, wait: timedelta,
                     announce_updates: bool, topics: list[str]) -> Saved:
    """Save this source's part and (re)build the release's item; in the caller's transaction."""
    group = group_of(source.options or {}, list(source.topics or []))
    period = part["period"]
    row = await s.scalar(select(FiguresPart).where(FiguresPart.source_id == source.id, FiguresPart.period == period))
    if row is None:
        row = FiguresPart(source_id=source.id, period=period, first_seen_at=now, data={})
        s.add(row)
    if row.data != part:
        row.changed_at = now
    row.group_key, row.table_id, row.measure = group, part["table"], part["measure"]
    row.unit, row.updated, row.data = part["unit"], part["updated"], part
    await s.flush()
    parts = list((await s.scalars(
        select(FiguresPart).where(FiguresPart.group_key == group, FiguresPart.period == period)
        .order_by(FiguresPart.table_id, FiguresPart.id))).all())
    pick = {m: next((p.data for p in parts if p.measure == m), None) for m in MEASURES}
    data = join_parts(pick["count"], pick["rate"])
    key = f"{part['table']}:{period}"
    item_id = next((p.item_id for p in parts if p.item_id), None)
    old = None
    if item_id is None:
        item_id = await s.scalar(select(ItemSource.item_id).where(ItemSource.source_id == source.id,
                                                                  ItemSource.entry_key == key))
    announced = pending_announce = False
    pending: dict[str, Any] = {}
    if item_id is not None:
        row = (await s.execute(select(Item.data, Item.matched_revision, Item.revision, Item.announce_revision)
                               .where(Item.id == item_id))).one()
        old, announced = row.data, bool(row.matched_revision)
        if announced and row.revision > row.matched_revision:  # a change not yet told: this one adds to it
            pending = (await s.scalar(select(ItemRevision.changes).where(
                ItemRevision.item_id == item_id, ItemRevision.revision == row.revision)) or {}).get("areas") or {}
            pending_announce = bool(row.announce_revision)
    changes = area_changes(old, data)
    changes["areas"] = merged(pending, changes["areas"])
    changes["after_announcement"] = announced  # a correction of what subscribers were told
    texts = [p.data.get("text") or "" for p in parts]
    published = min((p.data.get("published_at") or "" for p in parts), default="") or None
    draft = ItemDraft(
        key=key, kind="figures", title=title(period),
        published_at=datetime.fromisoformat(published) if published else None,
        summary=summary(data, next((t for t in texts if t), "")),
        link=(pick["count"] or pick["rate"] or {}).get("link") or part.get("link"),
        topics=list(dict.fromkeys([TOPIC, *topics])),
        municipalities=[a["code"] for a in data["areas"] if a["level"] == "municipality"],
        data=data, period=period, dedupe_by_link=False,
    )
    saved = await save_item(s, source, draft, now,
                            announce_updates=pending_announce or (announce_updates and announced and bool(changes["areas"])),
                            changes=changes, item_id=item_id)
    item = await s.get(Item, saved.item_id)
    if item.matched_revision == 0:  # not announced yet: out now when complete, else when the wait is over
        complete = await _expected(s, group) <= {p.source_id for p in parts}
        item.public_at = None if complete else min(p.first_seen_at for p in parts) + wait
    for p in parts:
        p.item_id = item.id
    return saved
