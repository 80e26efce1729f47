"""The benchmarks still run (tiny sizes, SQLite only). Nothing here is timed: speed is
measured by `python -m benchmarks`, outside the pass/fail suite. What this checks is that
every benchmark did what it claims (each run verifies that every message reached the sink
and every subscriber was matched or got a digest) and printed its figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_benchmark_runs_and_prints_its_figures():
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--db", "sqlite", "--runs", "1", "--messages", "40",
         "--subscribers", "300", "--requests", "40", "--clients", "5", "--memory-messages", "60",
         "--open-rate", "20", "--open-seconds", "1", "--figures-subscribers", "50"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = {f["name"]: f for f in map(json.loads, done.stdout.splitlines())}
    for name in ("send.e2e.sqlite.1proc", "send.raw", "send.ratio.sqlite.1proc", "fanout.sqlite", "digest.sqlite",
                 "send.e2e.sqlite.newsletter.1proc", "send.ratio.sqlite.newsletter.1proc", "send.raw.newsletter",
                 "campaign.release.sqlite", "send.e2e.sqlite.relay20ms.1proc", "send.relay.sqlite",
                 "send.raw.transport", "rss.worker.60",
                 "signup.sqlite.get.p99", "signup.sqlite.post.rps", "signup.sqlite.open20.p99",
                 "signup.sqlite.confirm.p99", "figures.first.sqlite", "figures.all.sqlite", "figures.raw_floor.sqlite",
                 "rss.worker", "rss.fanout", "rss.digest", "rss.web"):
        assert name in figures, name
        f = figures[name]
        assert f["runs"] >= 1 and f["min"] <= f["median"] <= f["max"] and f["median"] > 0
    header = next(line for line in done.stderr.splitlines() if line.startswith("figure"))
    assert header.split() == ["figure", "unit", "median", "min", "max", "runs", "target"]  # the readable table
