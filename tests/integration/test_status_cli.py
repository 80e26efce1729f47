"""`budbringer status` as the operator reads it, on both databases: processes and their
roles from the heartbeats, the queue, failing sources, digests and the next campaign; and
`status --check-host`, a one-role container's health check."""

import asyncio
import io
import socket
import sys
from dataclasses import dataclass
from datetime import timedelta

from service import heartbeats
from service.cli import main
from service.clock import SystemClock
from service.db.campaigns import Campaign
from service.db.models import DigestRun, Source
from service.delivery.outbox import enqueue


@dataclass
class Ran:
    code: int
    out: str
    err: str


async def _status(runtime, tmp_path, monkeypatch, *args) -> Ran:
    monkeypatch.setenv("BUDBRINGER_SERVICE__SECRET_KEY", runtime.settings.service.secret_key.get_secret_value())
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{runtime.settings.database.url}"\n', encoding="utf-8")
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err = io.StringIO(), io.StringIO()
    try:
        code = await asyncio.to_thread(main, ["--config", str(config), "status", *args])
    finally:
        sys.stdout, sys.stderr = saved
    return Ran(code, out.getvalue(), err.getvalue())


async def test_status_shows_what_an_operator_checks_first(runtime, tmp_path, monkeypatch, db_kind):
    now = SystemClock().now()  # the command reads the real clock
    web = heartbeats.Identity("web-1", 7, "web-1:7:a")
    worker = heartbeats.Identity("worker-2", 8, "worker-2:8:b")
    old = heartbeats.Identity("sched-1", 9, "sched-1:9:c")
    await heartbeats.beat(runtime.db, web, roles={"web"}, started_at=now - timedelta(hours=2), now=now - timedelta(seconds=5))
    await heartbeats.beat(runtime.db, worker, roles={"worker"}, started_at=now - timedelta(hours=2),
                          now=now - timedelta(minutes=5))  # killed: no beat since
    await heartbeats.beat(runtime.db, old, roles={"scheduler"}, started_at=now - timedelta(hours=3), now=now - timedelta(minutes=20))
    await heartbeats.stopped(runtime.db, old, now - timedelta(minutes=20))
    async with runtime.db.transaction() as s:
        ids = [await enqueue(s, key=f"st{n}", kind="test", recipient=f"st{n}@example.dk",
                             now=now - timedelta(minutes=10 - n), domain="example.dk") for n in range(3)]
        s.add(Source(slug="ledighed", name="Ledighedstal", kind="statbank", url="http://127.0.0.1:1/v1",
                     item_kind="figures", topics=[], options={}, interval_minutes=15, enabled=True,
                     consecutive_failures=3, last_error="HTTP 503 fra Danmarks Statistik",
                     last_error_at=now - timedelta(minutes=4), created_at=now - timedelta(days=3)))
        s.add(DigestRun(frequency="daily", period_key="2026-12-01", status="done", started_at=now - timedelta(hours=1),
                        finished_at=now - timedelta(hours=1), deliveries=312))
        s.add(Campaign(kind="press_release", status="scheduled", title="Ledigheden falder i Midtjylland",
                       audience={}, scheduled_at=now + timedelta(hours=2), embargo_until=now + timedelta(hours=3),
                       created_at=now, updated_at=now))

    ran = await _status(runtime, tmp_path, monkeypatch)
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()

    def line_with(text: str) -> str:
        found = [line for line in lines if text in line]
        assert found, ran.out
        return found[0]

    assert "running" in line_with("web-1:7") and "5 s ago" in line_with("web-1:7")
    assert "gone" in line_with("worker-2:8") and "5 min ago" in line_with("worker-2:8")
    assert "stopped" in line_with("sched-1:9")
    assert f"3 due now, the oldest (#{ids[0]}) waiting 10 min" in line_with("Queue")
    assert "ledighed (Ledighedstal): 3 failures in a row" in ran.out and "HTTP 503 fra Danmarks Statistik" in ran.out
    assert "2026-12-01 done, 312 messages" in line_with("daily")
    assert "weekly  never run" in ran.out
    assert "press release" in line_with("Campaigns") and "Ledigheden falder i Midtjylland" in line_with("Campaigns")
    assert "under embargo until" in line_with("Campaigns")


async def test_check_host_is_healthy_only_while_the_newest_process_here_comes_round(runtime, tmp_path, monkeypatch, db_kind):
    now = SystemClock().now()
    here = socket.gethostname()
    ran = await _status(runtime, tmp_path, monkeypatch, "--check-host")
    assert ran.code == 1 and "no budbringer process has been seen" in ran.out

    first = heartbeats.Identity(here, 11, f"{here}:11:x")
    await heartbeats.beat(runtime.db, first, roles={"worker"}, started_at=now - timedelta(minutes=30), now=now)
    ran = await _status(runtime, tmp_path, monkeypatch, "--check-host")
    assert ran.code == 0 and "worker on" in ran.out and "running" in ran.out, ran.out

    # Restarted in the same container (same host name): the new process counts, and while
    # its worker loop is stuck its beats say so.
    second = heartbeats.Identity(here, 12, f"{here}:12:y")
    await heartbeats.beat(runtime.db, second, roles={"worker"}, started_at=now, now=now,
                          problem="worker not seen for 400 s")
    ran = await _status(runtime, tmp_path, monkeypatch, "--check-host")
    assert ran.code == 1 and "unhealthy" in ran.out and "worker not seen for 400 s" in ran.out, ran.out
