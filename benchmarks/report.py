"""Figures: each measured several times, printed as one JSON line and in a table, and
held against the issue's targets."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field


@dataclass
class Figure:
    name: str
    unit: str
    runs: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def as_json(self) -> str:
        return json.dumps({"name": self.name, "unit": self.unit, "median": round(self.median, 3),
                           "min": round(min(self.runs), 3), "max": round(max(self.runs), 3),
                           "runs": len(self.runs), "note": self.note}, ensure_ascii=False)


# name → (at least / at most, value): from issue 8 ("Targets on a 2-core machine"), and
# issue 19 where it asks for more (ratios to the raw limit of the same run, fan-out on
# PostgreSQL, signups, memory).
TARGETS: dict[str, tuple[str, float]] = {
    "send.e2e.sqlite.1proc": (">=", 1000), "send.e2e.postgres.1proc": (">=", 1000),
    "send.ratio.sqlite.1proc": (">=", 50), "send.ratio.postgres.1proc": (">=", 50),
    "send.ratio.sqlite.newsletter.1proc": (">=", 50), "send.ratio.postgres.newsletter.1proc": (">=", 50),
    "send.ratio.postgres.run": (">=", 75),
    "send.relay.sqlite": (">=", 80), "send.relay.postgres": (">=", 80),
    "signup.sqlite.post.rps": (">=", 300), "signup.postgres.post.rps": (">=", 500),
    "signup.sqlite.open100.p99": ("<=", 50), "signup.postgres.open100.p99": ("<=", 50),
    "rss.worker.100k": ("<=", 150),
    "fanout.sqlite": ("<=", 1.0), "fanout.postgres": ("<=", 1.5),
    "digest.sqlite": ("<=", 90), "digest.postgres": ("<=", 90),
    "signup.sqlite.get.p99": ("<=", 50), "signup.sqlite.post.p99": ("<=", 50),
    "signup.postgres.get.p99": ("<=", 50), "signup.postgres.post.p99": ("<=", 50),
    "figures.first.sqlite": ("<=", 10), "figures.first.postgres": ("<=", 10),  # issue 16
    "figures.all.sqlite": ("<=", 30), "figures.all.postgres": ("<=", 30),
    "rss.worker": ("<=", 300), "rss.fanout": ("<=", 300), "rss.digest": ("<=", 300), "rss.web": ("<=", 300),
}


def verdict(f: Figure, figures: dict[str, Figure]) -> str:
    if f.name == "send.e2e.postgres.2proc" and "send.e2e.postgres.1proc" in figures:
        return "met" if f.median > figures["send.e2e.postgres.1proc"].median else "MISSED (not above 1 process)"
    if f.name not in TARGETS:
        return ""
    op, value = TARGETS[f.name]
    ok = f.median >= value if op == ">=" else f.median <= value
    return f"{'met' if ok else 'MISSED'} ({op} {value:g})"


def table(figures: dict[str, Figure]) -> str:
    rows = [("figure", "unit", "median", "min", "max", "runs", "target")]
    for f in figures.values():
        rows.append((f.name, f.unit, f"{f.median:,.2f}", f"{min(f.runs):,.2f}", f"{max(f.runs):,.2f}",
                     str(len(f.runs)), verdict(f, figures)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for k, r in enumerate(rows):
        lines.append("  ".join(c.rjust(w) if 1 < i < 6 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
