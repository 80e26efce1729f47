"""The same bytes on the wire for the same input (issue 19): one of every message the
product sends (`_wire.py`), received by a real SMTP server (aiosmtpd), compared byte for
byte with what the send path before issue 19 put on the wire, with and without DKIM.

SQLite only: the bytes depend on the rows, not on the database that holds them, and the
order in which PostgreSQL hands out ids and claims rows differs from run to run less
predictably (the send path itself is the same code on both; the e2e and delivery tests
run it on both databases).

The snapshots in tests/data/wire/ were written by the code as it was before the send path
was made faster (`WIRE_SNAPSHOT=write` writes them again: only do that for a change that
is meant to change what subscribers receive, and say so in the commit).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.integration import _wire

WIRE = Path(__file__).resolve().parents[1] / "data" / "wire"
KEY = WIRE / "dkim-test.pem"  # a throwaway key made for this test only


def _name(received) -> str:
    kind = re.search(rb"^X-Budbringer-Kind: (\S+)", received.data, re.M).group(1).decode()
    mid = re.search(rb"^Message-ID: <([0-9a-f]{8})", received.data, re.M).group(1).decode()
    return f"{kind}-{received.rcpt_tos[0]}-{mid}.eml"


@pytest.mark.parametrize("variant", ["plain", "dkim"])
async def test_every_kind_of_message_has_the_same_bytes_on_the_wire(variant, sqlite_template, tmp_path, smtp_server,
                                                                    clock, monkeypatch):
    import shutil

    from service.wiring import build_runtime

    shutil.copy(sqlite_template, tmp_path / "bb.db")
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'bb.db'}"

    extra = {}
    if variant == "dkim":
        extra["mail"] = {"transport": "smtp", "from": "nyheder@budbringer.example", "outbox_dir": str(tmp_path / "o"),
                         "smtp": {"host": "127.0.0.1", "port": smtp_server.port, "timeout_seconds": 5},
                         "dkim": {"enabled": True, "domain": "budbringer.example", "selector": "wire",
                                  "private_key_file": str(KEY)}}
    runtime = build_runtime(make_settings(db_url, tmp_path, smtp_server.port, **extra), clock=clock)
    _wire.counted_boundaries(monkeypatch)
    _wire.fixed_dkim_time(monkeypatch, runtime)
    _wire.fixed_token_versions(monkeypatch)
    try:
        await _wire.build_and_send(runtime)
    finally:
        await runtime.close()
    got = {_name(r): r.data for r in smtp_server.received}
    assert len(got) == len(smtp_server.received)  # one name per message
    folder = WIRE / variant
    if os.environ.get("WIRE_SNAPSHOT") == "write":
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.eml"):
            old.unlink()
        for name, data in got.items():
            (folder / name).write_bytes(data)
    expected = {p.name: p.read_bytes() for p in folder.glob("*.eml")}
    kinds = {name.split("-", 1)[0] for name in got}
    assert kinds >= {"alert", "digest", "newsletter", "press_release", "confirm", "welcome", "manage", "email_change",
                     "export", "notice", "test", "draft_notice"}, kinds
    assert sorted(got) == sorted(expected), (sorted(set(got) - set(expected)), sorted(set(expected) - set(got)))
    for name in sorted(got):
        assert got[name] == expected[name], f"{variant}/{name} differs from what was sent before"
