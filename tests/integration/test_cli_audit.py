"""A change made from the command line is in the audit log like one made in the browser:
press list imports and exports, subscriber imports, staff users and passwords."""

from __future__ import annotations

import asyncio
import getpass

import pytest
from sqlalchemy import select

from service.cli import main
from service.db.models import AuditEntry
from tests.conftest import SECRET, run_in_thread


@pytest.fixture
def config(tmp_path, db_url, smtp_server, monkeypatch):
    monkeypatch.setenv("BUDBRINGER_SERVICE__SECRET_KEY", SECRET)
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "{db_url}"\n\n[mail]\ntransport = "smtp"\nfrom = "nyheder@budbringer.example"\n\n'
                    f'[mail.smtp]\nhost = "127.0.0.1"\nport = {smtp_server.port}\n', encoding="utf-8")
    return path


def cli(*argv, stdin: str = "") -> int:
    import io
    import sys

    def run():
        old = sys.stdin
        sys.stdin = io.StringIO(stdin)
        try:
            return main(list(argv))
        finally:
            sys.stdin = old

    return run_in_thread(lambda: asyncio.to_thread(run))


async def _log(runtime) -> list[tuple[str, str, str, dict]]:
    async with runtime.db.reader() as s:
        rows = (await s.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    return [(r.actor, r.action, r.target, r.detail) for r in rows]


async def test_command_line_changes_are_audited(runtime, config, tmp_path, capsys, db_kind):
    press = tmp_path / "presse.csv"
    press.write_text("email;name;outlet;media_type\njens@dr.example;Jens;DR;tv\nbad;;;\n", encoding="utf-8")
    subs = tmp_path / "abonnenter.csv"
    subs.write_text("E-mail;Navn\nanna@jobcenter.example;Anna\n", encoding="utf-8")
    assert cli("--config", str(config), "campaign", "press-import", str(press)) == 1  # one line rejected
    assert cli("--config", str(config), "subscribers", "import", str(subs), "--consent-source", "LBR-mødet") == 0
    assert cli("--config", str(config), "user", "add", "ole@raadet.example", "--role", "press", "--password-stdin",
               stdin="korrekt-hest-batteri\n") == 0
    assert cli("--config", str(config), "user", "password", "ole@raadet.example", "--password-stdin",
               stdin="endnu-et-godt-kodeord\n") == 0
    me = f"cli:{getpass.getuser()}"
    log = await _log(runtime)
    assert [(a, act) for a, act, _, _ in log] == [(me, "press.import"), (me, "subscriber.import"), (me, "user.add"),
                                                   (me, "user.password")]
    assert log[0][3] == {"file": "presse.csv", "added": 1, "updated": 0, "rejected": 1}
    assert log[2][2].startswith("user:")
