"""The release calendar: which StatBank tables of which period are expected when.

Staff keep it in the admin (`add_entry`, `update_entry`, `delete_entry`) or import a file
shaped like the council's `release-calendar.toml` (`import_calendar`):

    [[releases]]
    tables = ["AUL01", "AUP01"]
    period = "2026M11"
    at = "2026-12-22T08:00:00"          # local time, Europe/Copenhagen
    follow_up = "Beskæftigelsesrådets kommentar"   # optional
    follow_up_at = "2026-12-22T08:30:00"           # optional; default: `follow_up_after_minutes` later

An import checks the whole file first and saves nothing when any entry is wrong; every
problem is named with its entry. An entry of the same period and tables that is already
known is updated; a new time for it is a move (`moved_from` keeps the time first
announced). A table appears at most once per period.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.campaigns.times import local_to_utc
from service.db.releases import ReleaseEntry
from service.errors import Invalid, NotFound
from service.settings import CalendarSettings

PERIOD = re.compile(r"^\d{4}M(0[1-9]|1[0-2])$")
TABLE = re.compile(r"^[A-Z0-9]{2,20}$")


@dataclass(frozen=True)
class EntryForm:
    period: str
    tables: list[str]
    at: datetime  # aware UTC
    follow_up: str = ""
    follow_up_at: datetime | None = None


class CalendarProblems(Invalid):
    """An import with mistakes; `problems` lists them in plain words."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("Kalenderen blev ikke indlæst: " + "; ".join(problems[:10]), {"file": problems[0]})


def tables_of(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value or "").replace(";", ",").split(",")
    return list(dict.fromkeys(str(t).strip().upper() for t in items if str(t).strip()))


def _local(value: Any, tz: ZoneInfo, what: str) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(ZoneInfo("UTC"))
        return local_to_utc(value, tz, what)
    text = re.sub(r"[ T]+(\d{1,2})[.:](\d{2})", lambda m: f"T{int(m.group(1)):02d}:{m.group(2)}", str(value).strip())
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{what}: {str(value)[:40]!r} er ikke et tidspunkt som 2026-12-22T08:00:00") from None
    if naive.tzinfo is not None:
        return naive.astimezone(ZoneInfo("UTC"))
    return local_to_utc(naive, tz, what)


def checked(period: Any, tables: Any, at: Any, follow_up: Any, follow_up_at: Any, tz: ZoneInfo,
            cfg: CalendarSettings) -> EntryForm:
    """One entry, checked; raises ValueError (or Invalid for a time that does not exist) in plain words."""
    period = str(period or "").strip().upper()
    if not PERIOD.match(period):
        raise ValueError(f"perioden {period or '(ingen)'!r} er ikke en måned som 2026M11")
    names = tables_of(tables)
    if not names:
        raise ValueError("ingen tabeller angivet")
    bad = [t for t in names if not TABLE.match(t)]
    if bad:
        raise ValueError(f"{', '.join(bad)} er ikke et tabelnavn fra Statistikbanken (som AUL01)")
    when = _local(at, tz, "at")
    follow = str(follow_up or "").strip()[:200] or cfg.follow_up
    follow_when = _local(follow_up_at, tz, "follow_up_at") if follow_up_at not in (None, "") else (
        when + timedelta(minutes=cfg.follow_up_after_minutes) if cfg.follow_up_after_minutes else None)
    return EntryForm(period, names, when, follow, follow_when)


def parse_calendar(body: bytes, tz: ZoneInfo, cfg: CalendarSettings) -> list[EntryForm]:
    """Every entry of a calendar file, or `CalendarProblems` naming each mistake."""
    try:
        raw = tomllib.loads(body.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise CalendarProblems(["filen er ikke UTF-8-tekst"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise CalendarProblems([f"filen er ikke gyldig TOML ({exc})"]) from None
    releases = raw.get("releases")
    if not isinstance(releases, list) or not releases:
        raise CalendarProblems(["filen har ingen [[releases]]-udgivelser"])
    forms, problems = [], []
    seen: dict[tuple[str, str], int] = {}
    for n, entry in enumerate(releases, start=1):
        if not isinstance(entry, dict):
            problems.append(f"udgivelse {n}: er ikke en tabel af nøgler")
            continue
        unknown = sorted(set(entry) - {"tables", "period", "at", "follow_up", "follow_up_at"})
        if unknown:
            problems.append(f"udgivelse {n}: ukendt nøgle {', '.join(unknown)}")
            continue
        try:
            form = checked(entry.get("period"), entry.get("tables"), entry.get("at"), entry.get("follow_up"),
                           entry.get("follow_up_at"), tz, cfg)
        except (ValueError, Invalid) as exc:
            problems.append(f"udgivelse {n}: {getattr(exc, 'message', None) or exc}")
            continue
        for t in form.tables:
            if (t, form.period) in seen:
                problems.append(f"udgivelse {n}: {t} for {form.period} står allerede i udgivelse {seen[(t, form.period)]}")
            seen[(t, form.period)] = n
        forms.append(form)
    if problems:
        raise CalendarProblems(problems)
    return forms


async def _clash(s: AsyncSession, form: EntryForm, other_than: int | None) -> ReleaseEntry | None:
    rows = (await s.scalars(select(ReleaseEntry).where(ReleaseEntry.period == form.period))).all()
    return next((r for r in rows if r.id != other_than and set(r.tables) & set(form.tables)), None)


def _apply(row: ReleaseEntry, form: EntryForm, now: datetime) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    follow_up_at = form.follow_up_at
    if row.at is not None and row.at != form.at and row.follow_up_at is not None and follow_up_at == row.follow_up_at:
        follow_up_at = row.follow_up_at + (form.at - row.at)  # a moved release takes its follow-up along
    if row.at is not None and row.at != form.at:
        changes["at"] = [row.at.isoformat(), form.at.isoformat()]
        row.moved_from = row.moved_from or row.at
        row.moves = (row.moves or 0) + 1
        row.late_at = None  # a new time: late is measured from it
        if row.moved_from == form.at:  # moved back to where it was announced
            row.moved_from = None
    if sorted(row.tables or []) != sorted(form.tables):
        changes["tables"] = [row.tables, form.tables]
    row.period, row.tables, row.at = form.period, form.tables, form.at
    row.follow_up, row.follow_up_at, row.updated_at = form.follow_up, follow_up_at, now
    return changes


async def add_entry(s: AsyncSession, form: EntryForm, now: datetime) -> int:
    if (other := await _clash(s, form, None)) is not None:
        raise Invalid(f"{', '.join(sorted(set(other.tables) & set(form.tables)))} for {form.period} står allerede "
                      f"i kalenderen.", {"tables": "Findes allerede for perioden"})
    row = ReleaseEntry(created_at=now, moves=0)
    _apply(row, form, now)
    s.add(row)
    await s.flush()
    return row.id


async def update_entry(s: AsyncSession, entry_id: int, form: EntryForm, now: datetime) -> dict[str, Any]:
    row = await s.get(ReleaseEntry, entry_id)
    if row is None:
        raise NotFound("Udgivelsen findes ikke i kalenderen.")
    if (other := await _clash(s, form, entry_id)) is not None:
        raise Invalid(f"{', '.join(sorted(set(other.tables) & set(form.tables)))} for {form.period} står allerede "
                      f"i kalenderen.", {"tables": "Findes allerede for perioden"})
    return _apply(row, form, now)


async def delete_entry(s: AsyncSession, entry_id: int) -> str:
    row = await s.get(ReleaseEntry, entry_id)
    if row is None:
        raise NotFound("Udgivelsen findes ikke i kalenderen.")
    await s.delete(row)
    return row.period


async def import_calendar(s: AsyncSession, forms: list[EntryForm], now: datetime) -> dict[str, int]:
    """Add the new entries and update the known ones (same period, a table in common)."""
    counts = {"added": 0, "moved": 0, "unchanged": 0, "updated": 0}
    for form in forms:
        row = await _clash(s, form, None)
        if row is None:
            await add_entry(s, form, now)
            counts["added"] += 1
            continue
        before = (row.at, sorted(row.tables), row.follow_up, row.follow_up_at)
        changes = _apply(row, form, now)
        if "at" in changes:
            counts["moved"] += 1
        elif before != (row.at, sorted(row.tables), row.follow_up, row.follow_up_at):
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    return counts


async def entries(s: AsyncSession, *, since: datetime | None = None) -> list[ReleaseEntry]:
    q = select(ReleaseEntry).order_by(ReleaseEntry.at, ReleaseEntry.id)
    if since is not None:
        q = q.where(ReleaseEntry.at >= since)
    return list((await s.scalars(q)).all())
