"""Every row of every table, read back as plain text: to show that a request changed
nothing at all, or that a value (an erased address) is nowhere in the database."""

from __future__ import annotations

from sqlalchemy import select

import service.db.models  # noqa: F401  (registers every table on the one metadata)
from service.db.base import Base


async def snapshot(runtime, *, skip: tuple[str, ...] = ("rate_events",)) -> dict[str, list[str]]:
    """{table: sorted rows as text}. `rate_events` (per-IP counters) is left out unless asked for."""
    out: dict[str, list[str]] = {}
    async with runtime.db.reader() as s:
        for table in Base.metadata.sorted_tables:
            if table.name in skip:
                continue
            rows = (await s.execute(select(table))).all()
            out[table.name] = sorted(repr(tuple(r)) for r in rows)
    return out


def changed(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, tuple[list[str], list[str]]]:
    """{table: (rows gone, rows new)} for the tables that differ."""
    diff = {}
    for name in before.keys() | after.keys():
        old, new = set(before.get(name, [])), set(after.get(name, []))
        if old != new:
            diff[name] = (sorted(old - new), sorted(new - old))
    return diff


async def rows_mentioning(runtime, *needles: str) -> list[tuple[str, str]]:
    """(table, row) for every row in which any needle occurs (case-insensitive), rate events included."""
    wanted = [n.lower() for n in needles if n]
    return [(name, row) for name, rows in (await snapshot(runtime, skip=())).items()
            for row in rows if any(n in row.lower() for n in wanted)]
