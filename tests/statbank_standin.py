"""A StatBank stand-in on loopback that makes up its own figures (same shape as the
fixtures, other numbers), for tests and the figures benchmark.

    standin = StatbankStandin()
    standin.publish(made_up_release("2026M10", seed=7))          # both tables at once
    standin.publish_at(release, instant)                          # or when the clock passes `instant`
    app = standin.app()                                           # /v1/tableinfo/{table}, /v1/data/{table}/CSV

The tables: AUL01 (counts, `Antal`) and AUP01 (rates, `Pct.`, decimal comma), country,
region and the 19 municipalities, three periods (a year ago, last month, this month),
one `..` where `missing` says. The tableinfo answer carries an ETag and honours
If-None-Match, as a polite client expects of a real server.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

ROOT = Path(__file__).resolve().parents[1]
COUNTRY, REGION = ("000", "Hele landet"), ("082", "Region Midtjylland")


def municipalities() -> list[tuple[str, str]]:
    with (ROOT / "service" / "data" / "municipalities.csv").open(encoding="utf-8") as fh:
        return [(r["code"], r["name"]) for r in csv.DictReader(fh)]


def shift(period: str, months: int) -> str:
    y, m = period.split("M")
    i = int(y) * 12 + int(m) - 1 + months
    return f"{i // 12}M{i % 12 + 1:02d}"


@dataclass
class Release:
    """One release of both tables: per table, per area code, per period, a value (None: `..`)."""

    period: str
    updated: str  # local time, as StatBank writes it: "2026-11-26T08:00:00"
    counts: dict[str, dict[str, float | None]]
    rates: dict[str, dict[str, float | None]]
    names: dict[str, str]

    @property
    def periods(self) -> list[str]:
        return [shift(self.period, -12), shift(self.period, -1), self.period]

    def value(self, table: str, code: str, period: str | None = None) -> float | None:
        values = (self.counts if table == "AUL01" else self.rates)[code]
        return values[period or self.period]


def made_up_release(period: str, seed: int, *, updated: str | None = None,
                    missing: tuple[str, str] | None = None) -> Release:
    """Plausible made-up figures: counts 150–9,000 per municipality, rates 1.5–5.5 %."""
    rnd = random.Random(seed)
    munis = municipalities()
    periods = [shift(period, -12), shift(period, -1), period]
    counts: dict[str, dict[str, float | None]] = {}
    rates: dict[str, dict[str, float | None]] = {}
    for code, _ in munis:
        base, rate = rnd.randint(150, 9000), rnd.uniform(1.5, 5.5)
        counts[code] = {p: float(max(1, round(base * rnd.uniform(0.85, 1.15)))) for p in periods}
        rates[code] = {p: round(max(0.5, rate + rnd.uniform(-0.6, 0.6)), 1) for p in periods}
    region_counts = {p: sum(counts[c][p] for c, _ in munis) for p in periods}
    counts[REGION[0]] = region_counts
    rates[REGION[0]] = {p: round(sum(rates[c][p] for c, _ in munis) / len(munis), 1) for p in periods}
    counts[COUNTRY[0]] = {p: float(round(region_counts[p] * rnd.uniform(3.6, 4.0))) for p in periods}
    rates[COUNTRY[0]] = {p: round(rates[REGION[0]][p] + rnd.uniform(-0.3, 0.3), 1) for p in periods}
    if missing:
        code, p = missing
        counts[code][p] = None
        rates[code][p] = None
    names = {COUNTRY[0]: COUNTRY[1], REGION[0]: REGION[1], **dict(munis)}
    y, m = period.split("M")
    month = int(m) % 12 + 1
    return Release(period, updated or f"{int(y) + (int(m) == 12)}-{month:02d}-26T08:00:00", counts, rates, names)


TABLES = {
    "AUL01": {"text": "Fuldtidsledige", "unit": "Antal", "extra": [("YDELSESTYPE", "TOT", "Bruttoledige i alt")]},
    "AUP01": {"text": "Fuldtidsledige i procent af arbejdsstyrken", "unit": "Pct.", "extra": []},
}


def tableinfo(table: str, release: Release) -> bytes:
    spec = TABLES[table]
    codes = [COUNTRY[0], REGION[0]] + [c for c, _ in municipalities()]
    variables = [{"id": "OMRÅDE", "text": "område", "elimination": True, "time": False, "map": "denmark_municipality_07",
                  "values": [{"id": c, "text": release.names[c]} for c in codes]}]
    for vid, code, text in spec["extra"]:
        variables.append({"id": vid, "text": vid.lower(), "elimination": True, "time": False,
                          "values": [{"id": code, "text": text}]})
    variables.append({"id": "KØN", "text": "køn", "elimination": True, "time": False,
                      "values": [{"id": "TOT", "text": "I alt"}]})
    variables.append({"id": "Tid", "text": "tid", "elimination": False, "time": True,
                      "values": [{"id": p, "text": p} for p in [shift(release.period, -k) for k in range(12, -1, -1)]]})
    return json.dumps({
        "id": table, "text": spec["text"], "description": f"{spec['text']} (made-up test data)", "unit": spec["unit"],
        "updated": release.updated, "active": True, "contacts": [], "documentation": None, "footnote": None,
        "variables": variables,
    }, ensure_ascii=False, indent=1).encode("utf-8")


def _cell(value: float | None, rate: bool) -> str:
    if value is None:
        return ".."
    return f"{value:.1f}".replace(".", ",") if rate else str(int(value))


def data_csv(table: str, release: Release, areas: list[str], periods: list[str]) -> bytes:
    spec = TABLES[table]
    head = ["OMRÅDE", *(v for v, _, _ in spec["extra"]), "KØN", "TID", "INDHOLD"]
    lines = [";".join(head)]
    for p in periods:
        for code in areas:
            extra = [f"{c} {t}" for _, c, t in spec["extra"]]
            lines.append(";".join([f"{code} {release.names[code]}", *extra, "TOT I alt", p,
                                   _cell(release.value(table, code, p), table == "AUP01")]))
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


@dataclass
class StatbankStandin:
    """Serves the current release of each table; `publish_at` flips it when `now()` passes an instant."""

    now: Callable[[], float] = time.time
    current: dict[str, Release] = field(default_factory=dict)
    pending: list[tuple[float, Release, tuple[str, ...]]] = field(default_factory=list)
    hits: list[tuple[str, str]] = field(default_factory=list)  # (path, User-Agent)
    conditional: int = 0  # answers 304

    def publish(self, release: Release, tables: tuple[str, ...] = ("AUL01", "AUP01")) -> None:
        for t in tables:
            self.current[t] = release

    def publish_at(self, release: Release, at: float, tables: tuple[str, ...] = ("AUL01", "AUP01")) -> None:
        self.pending.append((at, release, tables))

    def _release(self, table: str) -> Release:
        now = self.now()
        for at, release, tables in sorted(self.pending, key=lambda p: p[0]):
            if at <= now:
                self.publish(release, tables)
        self.pending = [p for p in self.pending if p[0] > now]
        if table not in self.current:
            raise web.HTTPNotFound(text=json.dumps({"errorTypeCode": "TABLE_NOT_FOUND", "message": "Ukendt tabel"}))
        return self.current[table]

    async def _tableinfo(self, request: web.Request) -> web.Response:
        table = request.match_info["table"]
        self.hits.append((request.path, request.headers.get("User-Agent", "")))
        body = tableinfo(table, self._release(table))
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            self.conditional += 1
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, content_type="application/json", headers={"ETag": etag})

    async def _data(self, request: web.Request) -> web.Response:
        table = request.match_info["table"]
        self.hits.append((request.path, request.headers.get("User-Agent", "")))
        release = self._release(table)
        areas = request.query.get("OMRÅDE", "").split(",")
        periods = request.query.get("Tid", release.period).strip("()").split(",")
        return web.Response(body=data_csv(table, release, areas, periods), content_type="text/csv")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/tableinfo/{table}", self._tableinfo)
        app.router.add_get("/v1/data/{table}/CSV", self._data)
        return app


@pytest.fixture
async def standin():
    """A stand-in on a loopback port; `standin.url` is its API base (`…/v1`)."""
    server = StatbankStandin()
    async with TestServer(server.app(), host="127.0.0.1") as ts:
        server.url = str(ts.make_url("/v1"))
        yield server
