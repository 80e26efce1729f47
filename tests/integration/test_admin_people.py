"""Subscribers in and out: CSV import (dry run, then for real, with a report of what was
skipped), formula-safe export, the suppression list, deleting a subscriber, and the same
from the command line."""

from __future__ import annotations

import getpass

import asyncio
import base64
import csv
import io
import re
import sys
from dataclasses import dataclass

from aiohttp import FormData
from sqlalchemy import select

from service.cli import main
from service.db.models import AuditEntry, Bounce
from subscribers.models import Consent, Subscriber, Suppression
from subscribers.suppression import email_hash, is_suppressed, suppress
from tests.admin_support import csrf, staff_client
from tests.campaign_support import add_subscriber

CSV = (
    "E-mail;Navn;Emner;Kommune;Hyppighed\n"
    "ny@jobcenter.example;Ny Person;analyser;Aarhus;ugentligt\n"
    "ikke-en-adresse;Forkert;analyser;;\n"
    "spaerret@example.org;Spærret;analyser;;\n"
    "findes@example.org;Findes;analyser;;\n"
    "NY@jobcenter.example;Igen;analyser;;\n"
    "ukendt@example.org;Ukendt;hemmeligt-emne;;\n"
    "=1+2@evil.example;=HYPERLINK(\"http://evil\");retningslinjer;Randers;\n"
    "to@kommune.example;+45 1234;retningslinjer|analyser;Randers Kommune, 751;dagligt\n"
)


async def _post_import(c, data: dict, file: bytes | None = None):
    fd = FormData()
    fd.add_field("csrf_token", csrf(c))
    for k, v in data.items():
        for one in v if isinstance(v, list) else [v]:
            fd.add_field(k, one)
    if file is not None:
        fd.add_field("file", file, filename="liste.csv", content_type="text/csv")
    return await c.post("/admin/subscribers/import", data=fd)


async def finished(c, r, timeout: float = 60) -> str:
    """The real import is written in the background: follow its page (it refreshes itself
    every 2 s while running) until it is done; its text then."""
    import asyncio

    assert r.status == 200 and "/admin/subscribers/import/" in r.url.path, (r.status, r.url)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        page = await r.text()
        if r.headers.get("Refresh") is None:
            return page
        assert asyncio.get_running_loop().time() < deadline, "the import did not finish"
        await asyncio.sleep(0.2)
        r = await c.get(r.url.path)


async def _emails(runtime) -> set[str]:
    async with runtime.db.reader() as s:
        return set((await s.scalars(select(Subscriber.email))).all())


async def test_import_dry_run_then_real_with_report(runtime, db_kind):
    await add_subscriber(runtime, "findes@example.org", ("analyser",))
    async with runtime.db.transaction() as s:
        await suppress(s, "spaerret@example.org", reason="complaint", now=runtime.clock.now())
    c = await staff_client(runtime)
    try:
        r = await _post_import(c, {"consent_source": "", "action": "preview"}, CSV.encode())
        assert r.status == 422 and "Hvor kommer samtykket fra" in await r.text()

        r = await _post_import(c, {"consent_source": "Liste fra LBR-mødet 12.11.2026", "action": "preview"}, CSV.encode())
        page = await r.text()
        assert r.status == 200 and "Prøvekørsel – intet er gemt" in page
        assert "3 ville blive tilføjet, 5 sprunget over" in page
        skipped = page[page.index('id="skipped"'):]
        for line, reason in ((3, "ugyldig e-mailadresse"), (4, "på spærrelisten"), (5, "er allerede abonnent"),
                             (6, "står flere gange i filen"), (7, "ukendt emne: hemmeligt-emne")):
            assert re.search(rf'<td class="num">{line}</td><td>[^<]*</td><td>{re.escape(reason)}', skipped), line
        assert await _emails(runtime) == {"findes@example.org"}  # nothing saved

        # The file rides along in the form; the admin maps a column and imports for real.
        b64 = re.search(r'name="content_b64" value="([^"]+)"', page).group(1)
        assert base64.b64decode(b64) == CSV.encode()
        r = await _post_import(c, {"consent_source": "Liste fra LBR-mødet 12.11.2026", "content_b64": b64,
                                   "filename": "liste.csv", "map_email": "E-mail", "map_name": "Navn",
                                   "action": "import"})
        page = await finished(c, r)
        assert "Importen er gennemført" in page and "3 tilføjet, 5 sprunget over" in page
    finally:
        await c.close()
    assert await _emails(runtime) == {"findes@example.org", "ny@jobcenter.example", "to@kommune.example",
                                      "=1+2@evil.example"}
    async with runtime.db.reader() as s:
        ny = await s.scalar(select(Subscriber).where(Subscriber.email == "ny@jobcenter.example"))
        consent = await s.scalar(select(Consent).where(Consent.subscriber_id == ny.id))
        audit = await s.scalar(select(AuditEntry).where(AuditEntry.action == "subscriber.import"))
    assert (ny.status, ny.frequency, ny.name) == ("active", "weekly", "Ny Person")
    assert consent.action == "import" and consent.source == "import:Liste fra LBR-mødet 12.11.2026"
    assert consent.detail["line"] == 2 and consent.detail["by"] == "admin:admin@raadet.example"
    assert audit.detail["added"] == 3 and audit.detail["skipped"] == 5


async def test_item25_subscriber_export_cells_cannot_run_as_formulas(runtime, db_kind):
    sub = await add_subscriber(runtime, "anna@example.org", ("analyser",))
    async with runtime.db.transaction() as s:
        row = await s.get(Subscriber, sub)
        row.name, row.organisation = '=HYPERLINK("http://evil.example","Klik")', "@SUM(1+1)"
    await add_subscriber(runtime, "bo@example.org", ("retningslinjer",), status="unsubscribed")
    c = await staff_client(runtime)
    try:
        r = await c.get("/admin/subscribers/export.csv?status=active")
        assert r.headers["Content-Disposition"].startswith("attachment;")
        body = (await r.read()).decode("utf-8")
    finally:
        await c.close()
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff")), delimiter=";"))
    assert rows[0][:3] == ["email", "name", "organisation"] and len(rows) == 2  # only the active one
    assert rows[1][0] == "anna@example.org"
    assert rows[1][1] == "'=HYPERLINK(\"http://evil.example\",\"Klik\")" and rows[1][2] == "'@SUM(1+1)"
    assert rows[1][7] == "analyser"
    for cell in (c for r in rows for c in r):
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


async def test_suppression_add_remove_with_reason_and_bounce_log(runtime, db_kind):
    async with runtime.db.transaction() as s:
        s.add(Bounce(email="væk@example.org", kind="hard", diagnostic="550 5.1.1 <img src=x onerror=alert(1)> no such user",
                     received_at=runtime.clock.now()))
    c = await staff_client(runtime)
    try:
        r = await c.post("/admin/suppression", data={"csrf_token": csrf(c), "email": "Klager@Example.org", "note": "",
                                                     "action": "add"})
        assert r.status == 422 and "begrundelse" in await r.text()
        r = await c.post("/admin/suppression", data={"csrf_token": csrf(c), "email": "Klager@Example.org",
                                                     "note": "Bad om det i telefonen", "action": "add"}, allow_redirects=False)
        assert r.status == 303
        async with runtime.db.reader() as s:
            assert await is_suppressed(s, "klager@example.org")
        page = await (await c.get("/admin/suppression")).text()
        assert "Bad om det i telefonen" in page and "Tilføjet af en administrator" in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page
        page = await (await c.post("/admin/suppression/lookup", data={"csrf_token": csrf(c), "email": "klager@example.org"})).text()
        assert "klager@example.org: står på spærrelisten" in page

        r = await c.post("/admin/suppression", data={"csrf_token": csrf(c), "email": "klager@example.org",
                                                     "note": "Har selv tilmeldt sig igen", "action": "remove"},
                         allow_redirects=False)
        assert r.status == 303
        async with runtime.db.reader() as s:
            assert not await is_suppressed(s, "klager@example.org")
            notes = [a.detail.get("note") for a in (await s.scalars(select(AuditEntry).where(
                AuditEntry.action.in_(("suppression.add", "suppression.remove"))).order_by(AuditEntry.id))).all()]
        assert notes == ["Bad om det i telefonen", "Har selv tilmeldt sig igen"]
    finally:
        await c.close()


async def test_item24_admin_delete_leaves_only_a_suppression(runtime, db_kind):
    sub = await add_subscriber(runtime, "slet@example.org", ("analyser",))
    c = await staff_client(runtime)
    try:
        r = await c.post(f"/admin/subscribers/{sub}/delete", data={"csrf_token": csrf(c)})
        assert r.status == 422  # not confirmed
        r = await c.post(f"/admin/subscribers/{sub}/delete", data={"csrf_token": csrf(c), "confirm": "1"},
                         allow_redirects=False)
        assert r.status == 303
    finally:
        await c.close()
    async with runtime.db.reader() as s:
        assert await s.get(Subscriber, sub) is None
        assert (await s.scalars(select(Consent).where(Consent.subscriber_id == sub))).all() == []
        row = await s.scalar(select(Suppression).where(Suppression.email_hash == email_hash("slet@example.org")))
    assert row.reason == "erased" and row.created_by == "admin@raadet.example"


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


async def _cli(runtime, tmp_path, *args, stdin: str = "") -> Ran:
    """`budbringer ...` in this process (its own event loop, in a thread), with stdin and output captured."""
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{runtime.settings.database.url}"\n', encoding="utf-8")
    saved = sys.stdin, sys.stdout, sys.stderr
    out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.StringIO()
    sys.stdin, sys.stdout, sys.stderr = io.StringIO(stdin), out, err
    try:
        code = await asyncio.to_thread(main, ["--config", str(config), *args])
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
    out.flush()
    return Ran(code, out.buffer.getvalue().decode("utf-8"), err.getvalue())


async def test_cli_user_add_then_login_and_import_export(runtime, tmp_path, db_kind, monkeypatch):
    monkeypatch.setenv("BUDBRINGER_SERVICE__SECRET_KEY", runtime.settings.service.secret_key.get_secret_value())
    r = await _cli(runtime, tmp_path, "user", "add", "Chef@Raadet.example", "--role", "admin", "--name", "Chefen",
             "--password-stdin", stdin="et-godt-langt-kodeord\n")
    assert r.returncode == 0, r.stderr
    r = await _cli(runtime, tmp_path, "user", "list")
    assert "chef@raadet.example" in r.stdout and "admin" in r.stdout
    from tests.admin_support import log_in, new_client

    c = await new_client(runtime)
    try:
        assert (await log_in(c, "chef@raadet.example", "et-godt-langt-kodeord")).status == 303
        r = await _cli(runtime, tmp_path, "user", "password", "chef@raadet.example", "--password-stdin",
                 stdin="helt-nyt-kodeord-123\n")
        assert r.returncode == 0 and "sessions have ended" in r.stdout
        r2 = await c.get("/admin/users", allow_redirects=False)
        assert r2.status == 303  # the password change ended the browser's session
    finally:
        await c.close()

    f = tmp_path / "liste.csv"
    f.write_text("email,navn\nen@example.org,En\nto@example.org,To\nikke-gyldig,X\n", encoding="utf-8")
    r = await _cli(runtime, tmp_path, "subscribers", "import", str(f), "--consent-source", "Papirliste", "--topic", "analyser",
             "--dry-run")
    assert r.returncode == 0 and "2 would be added, 1 skipped (dry run" in r.stdout and "line 4" in r.stdout
    assert await _emails(runtime) == set()
    r = await _cli(runtime, tmp_path, "subscribers", "import", str(f), "--consent-source", "Papirliste", "--topic", "analyser")
    assert r.returncode == 0 and "2 added, 1 skipped" in r.stdout
    assert await _emails(runtime) == {"en@example.org", "to@example.org"}
    r = await _cli(runtime, tmp_path, "subscribers", "export", "--topic", "analyser")
    assert r.returncode == 0
    assert r.stdout.lstrip("\ufeff").splitlines()[1].startswith("en@example.org;En;")
    async with runtime.db.reader() as s:
        actions = list((await s.scalars(select(AuditEntry.actor + ":" + AuditEntry.action).order_by(AuditEntry.id))).all())
    me = f"cli:{getpass.getuser()}"  # the login name of who ran the command
    assert actions[0] == f"{me}:user.add" and f"{me}:subscriber.import" in actions and f"{me}:subscriber.export" in actions


async def test_item25_both_csv_exports_neutralise_every_formula_start(runtime, db_kind):
    """Both CSV downloads of the admin (subscribers, press list), with a cell starting with each
    of = + - @ (and tab, CR) in every text column a person can fill: in the file each such
    cell starts with an apostrophe, and the apostrophe is all that was added."""
    from tests.campaign_support import add_press

    hostile = ["=HYPERLINK(\"http://evil.example\")", "+45 1234", "-2+3", "@SUM(1+1)", "\tTAB", "\rCR"]
    sub = await add_subscriber(runtime, "anna@example.org", ("analyser",))
    pc = await add_press(runtime, "pia@avisen.example")
    from service.db.campaigns import PressContact

    async with runtime.db.transaction() as s:
        row = await s.get(Subscriber, sub)
        row.name, row.organisation = hostile[0], hostile[1]
        press = await s.get(PressContact, pc)
        press.name, press.outlet, press.region = hostile[2], hostile[3], hostile[4]
    sub2 = await add_subscriber(runtime, "bo@example.org", ("analyser",))
    async with runtime.db.transaction() as s:
        row = await s.get(Subscriber, sub2)
        row.name, row.organisation = hostile[5], hostile[2]
    c = await staff_client(runtime)
    try:
        cells = []
        for url in ("/admin/subscribers/export.csv", "/admin/press/export.csv"):
            r = await c.get(url)
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv"), url
            body = (await r.read()).decode("utf-8").lstrip("\ufeff")
            cells += [cell for row in csv.reader(io.StringIO(body, newline=""), delimiter=";") for cell in row]
    finally:
        await c.close()
    for cell in cells:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), repr(cell)
    for value in hostile:  # each one is there, guarded, and otherwise as typed
        assert "'" + value in cells, repr(value)


async def test_item24_admin_delete_leaves_the_person_in_no_row(runtime, db_kind):
    """Deleting from the admin is erasure too: after it, the address, the name and the
    organisation are in no row of any table (deliveries, bounces, consents, audit log
    included); only the hashed suppression entry is left."""
    from service.db.models import Delivery
    from tests.integration._snapshot import rows_mentioning

    sub = await add_subscriber(runtime, "slet.mig@example.org", ("analyser",))
    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        row = await s.get(Subscriber, sub)
        row.name, row.organisation = "Karen Sletmig", "Jobcenter Glemt"
        s.add(Delivery(key="t:1", kind="alert", recipient="slet.mig@example.org", subscriber_id=sub, status="sent",
                       attempts=1, next_attempt_at=now, message_id="<1@budbringer.example>", created_at=now, sent_at=now))
        s.add(Bounce(email="slet.mig@example.org", kind="soft", diagnostic="452 4.2.2 mailbox full", received_at=now))
    c = await staff_client(runtime)
    try:
        r = await c.post(f"/admin/subscribers/{sub}", data={
            "csrf_token": csrf(c), "name": "Karen Sletmig", "organisation": "Jobcenter Glemt", "language": "da",
            "frequency": "weekly", "topics": ["analyser"], "municipalities": ["751"]}, allow_redirects=False)
        assert r.status == 303
        needles = ("slet.mig@example.org", "Karen Sletmig", "Jobcenter Glemt")
        assert await rows_mentioning(runtime, *needles)
        r = await c.post(f"/admin/subscribers/{sub}/delete", data={"csrf_token": csrf(c), "confirm": "1"},
                         allow_redirects=False)
        assert r.status == 303
    finally:
        await c.close()
    assert await rows_mentioning(runtime, *needles) == []
    async with runtime.db.reader() as s:
        (entry,) = (await s.scalars(select(Suppression))).all()
    assert entry.email_hash == email_hash("slet.mig@example.org") and entry.reason == "erased"
