"""`budbringer worker drain` and `budbringer send-test` against a real SMTP server."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from service.cli import main
from tests.conftest import SECRET, run_in_thread
from tests.integration import _delivery as h


@pytest.fixture
def config(tmp_path, db_url, smtp_server, monkeypatch):
    monkeypatch.setenv("BUDBRINGER_SERVICE__SECRET_KEY", SECRET)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n\n[mail]\ntransport = "smtp"\n\n[mail.smtp]\nhost = "127.0.0.1"\nport = {smtp_server.port}\n',
        encoding="utf-8",
    )
    return path


async def test_worker_drain_sends_what_is_due_and_reports(runtime, config, smtp_server, capsys, db_kind):
    smtp_server.rcpt_replies["nej@example.dk"] = "550 5.1.1 unknown"
    # The command runs on the system clock: queue the mail as due long ago.
    # The command builds its own runtime (the product's renderers): real notices.
    await h.queue(runtime, ["a@example.dk", "b@example.dk", "nej@example.dk"], kind="notice", params=h.NOTICE,
                  not_before=datetime(2020, 1, 1, tzinfo=timezone.utc))
    code = run_in_thread(lambda: _main(["--config", str(config), "worker", "drain"]))
    out = capsys.readouterr().out
    assert code == 1  # one failed
    assert "claimed 3: failed 1, sent 2" in out and "nej@example.dk" in out and "550" in out
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == ["a@example.dk", "b@example.dk"]


async def test_send_test_queues_and_sends_one_mail(config, smtp_server, capsys, db_kind):
    code = run_in_thread(lambda: _main(["--config", str(config), "send-test", "drift@example.dk"]))
    assert code == 0, capsys.readouterr()
    assert "drift@example.dk: sent" in capsys.readouterr().out
    assert [r.rcpt_tos for r in smtp_server.received] == [["drift@example.dk"]]
    assert run_in_thread(lambda: _main(["--config", str(config), "send-test", "ikke en adresse"])) == 2


async def _main(argv):
    import asyncio

    return await asyncio.to_thread(main, argv)
