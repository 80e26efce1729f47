"""The release calendar in the staff console: open to admins and press officers (an editor
gets 403), entries added, imported, moved and deleted by form, each change in the audit log;
`budbringer calendar import` does the same from the command line."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from service.cli import main as cli
from service.db.models import AuditEntry
from service.db.releases import ReleaseEntry
from tests.admin_support import csrf, staff_client
from tests.conftest import DATA

FILE = (DATA / "release-calendar.toml").read_bytes()


async def _rows(runtime):
    async with runtime.db.reader() as s:
        return list((await s.scalars(select(ReleaseEntry).order_by(ReleaseEntry.at))).all())


@pytest.mark.parametrize("role,status", [("admin", 200), ("press", 200), ("editor", 403)])
async def test_who_may_open_the_calendar(runtime, db_kind, role, status):
    c = await staff_client(runtime, f"{role}@raadet.example", role)
    try:
        resp = await c.get("/admin/calendar")
        assert resp.status == status
        text = await resp.text()
        if status == 200:
            assert "<h1>Udgivelseskalender</h1>" in text and 'href="/admin/calendar"' in text  # and in the menu
        else:
            assert "må ikke" in text or "adgang" in text.lower()
    finally:
        await c.close()


async def test_a_press_officer_adds_imports_moves_and_deletes(runtime, db_kind):
    c = await staff_client(runtime, "pia@raadet.example", "press")
    try:
        r = await c.post("/admin/calendar", data={"csrf_token": csrf(c), "period": "2027M05", "tables": "aul01, AUP01",
                                                  "at": "2027-06-29T08:00", "follow_up": "Beskæftigelsesrådets kommentar",
                                                  "follow_up_at": ""}, allow_redirects=False)
        assert r.status == 303 and "ok=release-added" in r.headers["Location"]
        (row,) = await _rows(runtime)
        assert row.tables == ["AUL01", "AUP01"] and row.at.isoformat() == "2027-06-29T06:00:00+00:00"

        # A mistake: the form comes back with the field marked and what was typed.
        r = await c.post("/admin/calendar", data={"csrf_token": csrf(c), "period": "2027M13", "tables": "AUL01",
                                                  "at": "2027-07-29T08:00", "follow_up": "", "follow_up_at": ""})
        assert r.status == 422
        text = await r.text()
        assert "2027M13" in text and "er ikke en måned" in text and len(await _rows(runtime)) == 1

        # An import with one broken entry saves nothing and names the entry.
        broken = FILE.replace(b'period = "2027M02"', b'period = "2027-02"')
        r = await c.post("/admin/calendar/import", data={"csrf_token": csrf(c), "text": broken.decode()})
        assert r.status == 422 and "udgivelse 4: perioden" in await r.text()
        assert len(await _rows(runtime)) == 1
        r = await c.post("/admin/calendar/import", data={"csrf_token": csrf(c), "text": FILE.decode()},
                         allow_redirects=False)
        assert r.status == 303 and "ok=calendar-imported&n=6" in r.headers["Location"]
        page = await (await c.get(r.headers["Location"])).text()
        assert "Kalenderen er indlæst: 6 udgivelser tilføjet eller ændret." in page
        assert page.count("<tr><td>") >= 7

        first = (await _rows(runtime))[0]
        r = await c.post(f"/admin/calendar/{first.id}", data={
            "csrf_token": csrf(c), "action": "save", "period": first.period, "tables": "AUL01, AUP01",
            "at": "2026-12-23T08:00", "follow_up": "Beskæftigelsesrådets kommentar", "follow_up_at": "2026-12-23T09:00"},
            allow_redirects=False)
        assert r.status == 303
        page = await (await c.get("/admin/calendar")).text()
        assert "Flyttet fra 22. december 2026 kl. 08.00" in page
        assert "Beskæftigelsesrådets kommentar kl. 09.00" in page
        public = await (await c.get("/kalender")).text()
        assert "Flyttet fra 22. december 2026 kl. 08.00" in public

        r = await c.post(f"/admin/calendar/{first.id}", data={"csrf_token": csrf(c), "action": "delete"},
                         allow_redirects=False)
        assert r.status == 303 and "release-deleted" in r.headers["Location"]
        assert len(await _rows(runtime)) == 6
        async with runtime.db.reader() as s:
            actions = list((await s.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all())
        assert [a for a in actions if a.startswith("release.")] == ["release.add", "release.import", "release.move",
                                                                    "release.delete"]
    finally:
        await c.close()


def test_calendar_import_from_the_command_line(tmp_path, settings, capsys, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{settings.database.url}"\n', encoding="utf-8")
    monkeypatch.setenv("BUDBRINGER_SERVICE__SECRET_KEY", settings.service.secret().decode())
    path = tmp_path / "kalender.toml"
    path.write_bytes(FILE)
    assert cli(["--config", str(config), "calendar", "import", str(path)]) == 0
    assert capsys.readouterr().out.strip().endswith("6 added, 0 moved, 0 updated, 0 unchanged")
    assert cli(["--config", str(config), "calendar", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 6 and re.match(r"2026-12-22 08:00  2026M11  AUL01, AUP01\s+expected", listed[0])
    path.write_bytes(FILE.replace(b'"2026M11"', b'"2026M14"'))
    assert cli(["--config", str(config), "calendar", "import", str(path)]) == 1
    err = capsys.readouterr().err
    assert "nothing was saved" in err and "udgivelse 1: perioden '2026M14'" in err
