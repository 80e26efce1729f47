"""The press list: CSV import (adds, updates, rejects with line numbers), formula-safe
export that imports back unchanged, segments, and bounces marking a contact."""

from __future__ import annotations

import csv
import io

from service.campaigns.press_contacts import Segment, export_csv, import_csv, list_contacts, mark_bounced
from service.campaigns.audience import press_recipients

CSV = (
    "\ufeffemail;name;outlet;media_type;region;beats;status\n"
    "Anna@Avisen.example;Anna A;Avisen;regional;Midtjylland;ledighedstal|unge;active\n"
    "tv@kanal.example;=HYPERLINK(\"http://evil\");TV Kanal;landsdækkende;;ledighedstal;active\n"
    "fag@blad.example;Fag;Fagbladet;fagblad;Midtjylland;virksomheder;active\n"
    "not-an-address;X;Y;regional;;;active\n"
    "weird@x.example;W;W;satellite;;;active\n"
)


async def test_import_export_roundtrip_and_segments(runtime, db_kind):
    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        result = await import_csv(s, CSV.encode(), now=now)
    assert (result.added, result.updated) == (3, 0)
    assert [line for line, _ in result.errors] == [5, 6]

    async with runtime.db.transaction() as s:  # importing again updates, never duplicates
        again = await import_csv(s, "email,name\nanna@avisen.example,Anna Andersen\n".encode(), now=now)
    assert (again.added, again.updated) == (0, 1)

    async with runtime.db.reader() as s:
        exported = await export_csv(s)
    rows = list(csv.reader(io.StringIO(exported.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["email", "name", "outlet", "media_type", "region", "beats", "status"]
    by_email = {r[0]: r for r in rows[1:]}
    assert by_email["tv@kanal.example"][1] == "'=HYPERLINK(\"http://evil\")"  # not a formula in a spreadsheet
    assert by_email["tv@kanal.example"][3] == "national"
    assert by_email["anna@avisen.example"][1] == "Anna Andersen"

    async with runtime.db.transaction() as s:  # the export imports back as it was
        back = await import_csv(s, exported, now=now)
    assert (back.added, back.updated, back.errors) == (0, 3, [])
    async with runtime.db.reader() as s:
        tv = (await list_contacts(s, Segment(search="kanal")))[0]
        assert tv.name == '=HYPERLINK("http://evil")'
        assert [c.email for c in await list_contacts(s, Segment(beats=["unge"]))] == ["anna@avisen.example"]
        assert {c.email for c in await list_contacts(s, Segment(regions=["Midtjylland"]))} == {
            "anna@avisen.example", "fag@blad.example"}
        segment = {"press": {"media_types": ["regional", "trade"], "regions": ["Midtjylland"], "beats": ["ledighedstal"]}}
        assert [r.email for r in await press_recipients(s, segment)] == ["anna@avisen.example"]

    async with runtime.db.transaction() as s:
        assert await mark_bounced(s, "ANNA@avisen.example", now=now)
    async with runtime.db.reader() as s:
        assert await press_recipients(s, {"press": {"beats": ["unge"]}}) == []
