"""Issue 9 item 6 / issue 5: `kill -9` of a worker process at random points of a
1,000-recipient send, ten times, then a restart: nobody lost, nobody skipped, and
duplicates only from sends in flight (bounded by the record batch plus the concurrency)."""

from __future__ import annotations

import asyncio
import collections
import os
import random
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path


from service.delivery.worker import Worker
from tests.conftest import SECRET
from tests.integration import _delivery as h

ROOT = Path(__file__).resolve().parents[2]
RECIPIENTS = [f"k{i:04d}@example.dk" for i in range(1000)]
KILLS = 10
CONCURRENCY = 8
BOOT = "import sys; from service.cli import main; sys.exit(main(sys.argv[1:]))"


async def test_item06_kill_9_at_random_points_loses_nobody(runtime, db_url, smtp_server, clock, tmp_path, db_kind):
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "{db_url}"\n\n[mail]\ntransport = "smtp"\n\n'
        f'[mail.smtp]\nhost = "127.0.0.1"\nport = {smtp_server.port}\n\n'
        f"[delivery]\nbatch_size = 100\nconcurrency = {CONCURRENCY}\nlease_seconds = 600\n",
        encoding="utf-8",
    )
    await h.queue(runtime, RECIPIENTS, kind="notice", params=h.NOTICE, not_before=datetime(2020, 1, 1, tzinfo=timezone.utc))
    env = {**os.environ, "BUDBRINGER_SERVICE__SECRET_KEY": SECRET}
    rng = random.Random(int(os.environ.get("KILL_SEED", "9")))
    kills = 0
    for _ in range(KILLS):
        before = len(smtp_server.received)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", BOOT, "--config", str(config), "worker", "drain", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        target = before + rng.randint(1, 90)  # a random point, somewhere inside a batch
        deadline = time.monotonic() + 15
        while len(smtp_server.received) < target and proc.returncode is None and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        await proc.wait()
    assert kills >= KILLS - 1  # the last round may have finished the work before the kill
    # Restart after the leases of the killed workers ran out.
    clock.set(datetime.fromtimestamp(time.time() + 3600, timezone.utc))
    await Worker(runtime).drain(max_seconds=60)

    counts = collections.Counter(r.rcpt_tos[0] for r in smtp_server.received)
    assert set(counts) == set(RECIPIENTS)  # zero lost, nobody skipped
    rows = await h.deliveries(runtime)
    assert {d.status for d in rows.values()} == {"sent"}
    duplicated = {rcpt for rcpt, n in counts.items() if n > 1}
    flagged = {d.recipient for d in rows.values() if d.possible_duplicate}
    print(f"\nkills={kills} received={sum(counts.values())} duplicated={len(duplicated)} flagged={len(flagged)}")
    assert duplicated <= flagged  # every duplicate is one we know about
    assert sum(counts.values()) - len(RECIPIENTS) <= kills * (max(2 * CONCURRENCY, 16) + CONCURRENCY)
