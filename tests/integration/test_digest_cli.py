"""`budbringer match`, `budbringer digest run` and the test mail's own renderer, as an
operator runs them (the commands use the system clock)."""

from __future__ import annotations

import asyncio

import pytest

from service.cli import main
from tests.conftest import SECRET, run_in_thread
from tests.integration._matching import add_item, add_subscriber


@pytest.fixture
def config(tmp_path, db_url, smtp_server, monkeypatch):
    monkeypatch.setenv("BUDBRINGER_SERVICE__SECRET_KEY", SECRET)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n\n[mail]\ntransport = "smtp"\nfrom = "nyheder@budbringer.example"\n\n'
        f'[mail.smtp]\nhost = "127.0.0.1"\nport = {smtp_server.port}\n',
        encoding="utf-8",
    )
    return path


def cli(*argv) -> int:
    return run_in_thread(lambda: asyncio.to_thread(main, list(argv)))


async def test_match_and_digest_run_commands(runtime, config, smtp_server, capsys, db_kind):
    one = await add_subscriber(runtime, "en@example.dk", frequency="daily")
    await add_subscriber(runtime, "to@example.dk", frequency="daily")
    await add_item(runtime, "Nyt fra rådet")
    assert cli("--config", str(config), "match") == 0
    assert "matched 1 items" in capsys.readouterr().out

    assert cli("--config", str(config), "digest", "run", "--frequency", "daily", "--period", "2026-11-23",
               "--subscriber", str(one)) == 0
    assert "for subscriber 1: 1 queued" in capsys.readouterr().out
    assert cli("--config", str(config), "digest", "run", "--frequency", "daily", "--period", "2026-11-23") == 0
    assert "daily digest 2026-11-23: 1 queued" in capsys.readouterr().out
    assert cli("--config", str(config), "digest", "run", "--frequency", "daily", "--period", "2026-11-23") == 0
    assert "nothing queued" in capsys.readouterr().out
    assert cli("--config", str(config), "worker", "drain") == 0
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == ["en@example.dk", "to@example.dk"]
    with pytest.raises(SystemExit) as refused:  # argparse refuses an unknown frequency
        cli("--config", str(config), "digest", "run", "--frequency", "hourly")
    assert refused.value.code == 2


async def test_send_test_uses_the_notice_renderer(config, smtp_server, capsys, db_kind):
    assert cli("--config", str(config), "send-test", "drift@example.dk") == 0, capsys.readouterr()
    (mail,) = smtp_server.received
    msg = mail.message
    assert msg["Subject"] == "Testmail fra Budbringer"
    assert "Kan du læse den, virker udsendelsen" in msg.get_body(("plain",)).get_content()
    assert "List-Unsubscribe" not in msg  # not to a subscriber: no unsubscribe link
