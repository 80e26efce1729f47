"""Statistics Denmark's StatBank API (docs/statbank.md): the table's metadata and its data
as CSV, read strictly. Anything unexpected raises `StatbankError` in plain words, before
anything is saved."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import quote

PERIOD = re.compile(r"^(\d{4})M(0[1-9]|1[0-2])$")


class StatbankError(Exception):
    """StatBank answered with something we cannot use; the message says what."""


@dataclass(frozen=True)
class Variable:
    id: str
    text: str
    time: bool
    elimination: bool
    values: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class TableInfo:
    id: str
    text: str
    unit: str
    updated: str
    variables: list[Variable]

    def variable(self, wanted: str) -> Variable | None:
        return next((v for v in self.variables if v.id.casefold() == wanted.casefold()), None)

    def time_variable(self) -> Variable:
        for v in self.variables:
            if v.time:
                return v
        raise StatbankError(f"table {self.id} has no time variable")


@dataclass(frozen=True)
class Cell:
    area: str
    area_name: str
    period: str
    value: Decimal | None  # None: ".." (not available), never zero


def tableinfo_url(base: str, table: str) -> str:
    return f"{base.rstrip('/')}/tableinfo/{quote(table, safe='')}?format=JSON&lang=da"


def data_url(base: str, table: str, variables: dict[str, list[str]]) -> str:
    query = "&".join(f"{quote(k, safe='')}={quote(','.join(v), safe=',*')}" for k, v in variables.items())
    return f"{base.rstrip('/')}/data/{quote(table, safe='')}/CSV?lang=da&valuePresentation=CodeAndValue&{query}"


def parse_tableinfo(body: bytes) -> TableInfo:
    try:
        raw = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StatbankError(f"the table information is not valid JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise StatbankError("the table information is not a JSON object")
    if "errorTypeCode" in raw or "message" in raw and "id" not in raw:
        raise StatbankError(f"StatBank answered with an error: {str(raw.get('message', raw))[:200]}")
    try:
        variables = [
            Variable(
                id=str(v["id"]), text=str(v.get("text", "")), time=bool(v.get("time")),
                elimination=bool(v.get("elimination")),
                values=[(str(x["id"]), str(x.get("text", x["id"]))) for x in v.get("values", [])],
            )
            for v in raw["variables"]
        ]
        info = TableInfo(str(raw["id"]), str(raw.get("text", "")), str(raw.get("unit", "")), str(raw["updated"]), variables)
    except (KeyError, TypeError) as exc:
        raise StatbankError(f"the table information lacks a field StatBank always sends ({exc})") from exc
    info.time_variable()
    return info


def parse_csv(body: bytes, area_variable: str = "OMRÅDE", time_variable: str = "TID") -> list[Cell]:
    """The CSV StatBank sends (BOM, CRLF, `;`, `CodeAndValue` cells, decimal comma, `..`)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StatbankError("the data is not UTF-8 text") from exc
    rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=";") if r]
    if not rows:
        raise StatbankError("the data is empty")
    header = [h.strip().casefold() for h in rows[0]]
    try:
        area_col = header.index(area_variable.casefold())
        time_col = header.index(time_variable.casefold())
        value_col = header.index("indhold")
    except ValueError as exc:
        raise StatbankError(f"the data lacks a column it must have (got {';'.join(rows[0])[:200]})") from exc
    cells: list[Cell] = []
    seen: set[tuple[str, str]] = set()
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise StatbankError(f"line {n} of the data has {len(row)} fields, not {len(header)}")
        code, _, name = row[area_col].strip().partition(" ")
        period = row[time_col].strip().partition(" ")[0]
        if (code, period) in seen:
            raise StatbankError(f"the data has several values for area {code} in {period}; set the source's filters")
        seen.add((code, period))
        cells.append(Cell(code, name.strip() or code, period, parse_value(row[value_col], n)))
    return cells


def parse_value(raw: str, line: int = 0) -> Decimal | None:
    raw = raw.strip()
    if raw in ("..", ".", "-", ""):
        return None
    try:
        return Decimal(raw.replace(" ", "").replace(",", "."))
    except InvalidOperation as exc:
        raise StatbankError(f"line {line} of the data has a value that is not a number: {raw[:40]!r}") from exc


def shift_period(period: str, months: int) -> str:
    m = PERIOD.match(period)
    if not m:
        raise StatbankError(f"{period!r} is not a monthly period (like 2026M09)")
    index = int(m.group(1)) * 12 + int(m.group(2)) - 1 + months
    return f"{index // 12}M{index % 12 + 1:02d}"


def latest_month(values: list[tuple[str, str]]) -> str:
    months = sorted(v for v, _ in values if PERIOD.match(v))
    if not months:
        raise StatbankError("the table has no monthly periods")
    return months[-1]
