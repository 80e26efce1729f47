"""CSV imports at the allowed maximum, and files that are not CSV (catalogue 32 and 33).

A 50,000-row import ran in one transaction: on SQLite it held the write lock past the
30 s busy timeout, so a visitor's signup got 500 "database is locked" (and the worker and
the campaign release failed). Bad files gave a bare 500.
"""

from __future__ import annotations

import asyncio

from aiohttp import FormData
from sqlalchemy import func, select

from subscribers.models import Subscriber, SubscriberImport
from tests.admin_support import csrf, new_client, staff_client
from tests.integration._probe import Probe
from tests.integration.test_admin_people import finished

SIGNUP = {"email": "midt.i.importen@example.dk", "name": "Mette", "topics": ["ledighedstal"], "municipalities": ["751"],
          "audience": "jobcenter", "frequency": "immediate", "language": "da", "consent": "yes", "website": ""}


def _form(c, content: bytes, action: str = "import") -> FormData:
    fd = FormData()
    for k, v in {"csrf_token": csrf(c), "consent_source": "Liste fra LBR-mødet 12.11.2026", "action": action}.items():
        fd.add_field(k, v)
    fd.add_field("file", content, filename="stor.csv", content_type="text/csv")
    return fd


async def _run(runtime) -> SubscriberImport:
    async with runtime.db.reader() as s:
        return await s.scalar(select(SubscriberImport).order_by(SubscriberImport.id.desc()))


async def test_item32_a_50000_row_import_is_written_in_chunks_while_a_signup_is_answered(runtime, db_kind):
    rows = "".join(f"person{i}@jobcenter.example;Person {i};analyser;Aarhus\n" for i in range(50_000))
    content = ("email;navn;emner;kommune\n" + rows).encode()
    admin = await staff_client(runtime)
    visitor = await new_client(runtime)
    try:
        await visitor.get("/")
        async with Probe(admin) as probe:
            r = await admin.post("/admin/subscribers/import", data=_form(admin, content))
            assert r.status == 200 and "Importen er i gang" in await r.text(), (r.status, (await r.text())[:300])
            # The import is being written now; a visitor signs up in the middle of it.
            for _ in range(200):
                run = await _run(runtime)
                if run.done > 0 or run.status != "running":
                    break
                await asyncio.sleep(0.05)
            signup = await visitor.post("/", data={**SIGNUP, "csrf_token": csrf(visitor)})
            signed_up_at = await _run(runtime)
            assert signup.status == 200 and "Tjek din indbakke" in await signup.text()
            page = await finished(admin, r, timeout=240)
        probe.assert_healthy()
        # The signup went through between two chunks: the import was still being written.
        assert signed_up_at.status == "running" and signed_up_at.done < 50_000, (signed_up_at.status, signed_up_at.done)
        assert "Importen er gennemført" in page and "50.000 tilføjet, 0 sprunget over" in page
    finally:
        await admin.close()
        await visitor.close()
    async with runtime.db.reader() as s:
        assert await s.scalar(select(func.count()).select_from(Subscriber).where(Subscriber.status == "active")) == 50_000
        assert await s.scalar(select(Subscriber.status).where(Subscriber.email == SIGNUP["email"])) == "pending"


BAD_FILES = {
    "an unterminated quote in a large file": (
        "email;navn\n" + "".join(f"p{i}@example.dk;P {i}\n" for i in range(4)) + 'p4@example.dk;"Ole\n'
        + "".join(f"p{i}@example.dk;P {i}\n" for i in range(5, 9000)), 6, "anførselstegn"),
    "an unterminated quote at the end": ('email;navn\na@example.dk;"Ole\nb@example.dk;Bo\n', 2, "anførselstegn"),
    "text after a closing quote": ('email;navn\na@example.dk;A\nb@example.dk;"Bo" Hansen\n', 3, "skilletegn"),
    "a NUL in a cell": ("email;navn\na@example.dk;A\nb@example.dk;B\x00o\n", 3, "NUL"),
    "a NUL after a quoted line break": ('email;navn\na@example.dk;"A\nB"\nb@example.dk;B\x00o\n', 4, "NUL"),
}


async def test_item33_a_file_that_is_not_csv_gets_a_422_naming_the_line_and_saves_nothing(runtime, db_kind):
    admin = await staff_client(runtime)
    try:
        for what, (text, line, words) in BAD_FILES.items():
            for action in ("preview", "import"):
                r = await admin.post("/admin/subscribers/import", data=_form(admin, text.encode(), action))
                page = await r.text()
                assert r.status == 422, (what, action, r.status, page[:300])
                assert f"linje {line}" in page and words in page, (what, page[page.find("error-summary"):][:400])
    finally:
        await admin.close()
    async with runtime.db.reader() as s:
        assert await s.scalar(select(func.count()).select_from(Subscriber)) == 0
        assert await s.scalar(select(func.count()).select_from(SubscriberImport)) == 0
