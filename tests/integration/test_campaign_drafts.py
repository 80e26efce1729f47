"""New figures → a press release draft with the right numbers, and a mail to the press
officers; a revision of the figures updates the unsent draft and tells them again."""

from __future__ import annotations

import csv
from pathlib import Path

from service.campaigns.drafts import draft_from_figures
from service.db.models import Campaign, Item
from tests.campaign_support import TextOf, add_user, deliveries, render

DATA = Path(__file__).resolve().parents[1] / "data" / "statbank"
LEVELS = {"000": "country", "082": "region"}


def figures(csv_name: str, period: str, previous: str, year_ago: str) -> dict:
    """The figures block (docs/figures.md) for the fixture, as the StatBank watcher makes it."""
    values: dict[str, dict[str, int | None]] = {}
    names = {}
    with (DATA / csv_name).open(encoding="utf-8-sig") as fh:
        for area, _, _, tid, value in list(csv.reader(fh, delimiter=";"))[1:]:
            code, _, name = area.partition(" ")
            names[code] = name
            values.setdefault(code, {})[tid] = None if value == ".." else int(value)
    areas = []
    for code, v in values.items():
        now, prev, ago = v.get(period), v.get(previous), v.get(year_ago)
        areas.append({
            "code": code, "name": names[code], "level": LEVELS.get(code, "municipality"), "value": now,
            "previous": prev, "year_ago": ago,
            "change_month": None if now is None or prev is None else now - prev,
            "change_year": None if now is None or ago is None else now - ago,
        })
    return {"table": "AUL01", "period": period, "previous_period": previous, "year_ago_period": year_ago,
            "unit": "Antal", "updated": "2026-11-26T08:00:00", "areas": areas}


async def _item(runtime, data) -> int:
    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        item = Item(kind="figures", title="Ledighedstal oktober 2026", content_hash="x", published_at=now,
                    created_at=now, updated_at=now, data=data, period=data["period"])
        s.add(item)
        await s.flush()
        return item.id


async def test_october_figures_make_a_draft_and_tell_the_press_officers(runtime, db_kind):
    officer = "pia@raadet.example"
    await add_user(runtime, officer, "press")
    await add_user(runtime, "editor@raadet.example", "editor")
    item_id = await _item(runtime, figures("data-AUL01-2026M10.csv", "2026M10", "2026M09", "2025M10"))

    cid = await draft_from_figures(runtime, item_id)
    assert cid
    async with runtime.db.reader() as s:
        c = await s.get(Campaign, cid)
    assert (c.status, c.kind, c.figures_item_id) == ("draft", "press_release", item_id)
    assert c.title == "Ledigheden i Region Midtjylland faldt i oktober 2026"
    assert c.lead == ("I oktober 2026 var der 21.466 fuldtidsledige i Region Midtjylland, 119 færre end i september "
                      "og 156 færre end i oktober 2025.")
    assert "| Region Midtjylland | 21.466 | −119 (−0,6 %) | −156 (−0,7 %) |" in c.body_md
    assert "| Hele landet | 81.931 |" in c.body_md
    movers = [line for line in c.body_md.splitlines() if line.startswith("- **")]
    assert movers == [
        "- **Hedensted**: 504 ledige (−34 (−6,3 %))",
        "- **Norddjurs**: 671 ledige (−40 (−5,6 %))",
        "- **Herning**: 1.188 ledige (+52 (+4,6 %))",
    ]
    assert c.focus == "Virksomhedsrettet indsats"  # the theme calendar's October
    assert "## Månedens tema: Virksomhedsrettet indsats" in c.body_md

    [notice] = await deliveries(runtime, kind="draft_notice")
    assert notice.recipient == officer
    msg = await render(runtime, notice.id)
    assert msg.subject == "Ny kladde til pressemeddelelse: Ledigheden i Region Midtjylland faldt i oktober 2026"
    assert f"http://127.0.0.1:8080/admin/campaigns/{cid}" in TextOf(msg.html).links
    assert f"http://127.0.0.1:8080/admin/campaigns/{cid}" in msg.text

    # Called again for the same revision: no second draft, no second mail.
    assert await draft_from_figures(runtime, item_id) == cid
    assert len(await deliveries(runtime, kind="draft_notice")) == 1

    # A revision of the figures updates the unsent draft and tells the officers again.
    revised = figures("data-AUL01-2026M10.csv", "2026M10", "2026M09", "2025M10")
    region = next(a for a in revised["areas"] if a["code"] == "082")
    region["value"] = 21700
    async with runtime.db.transaction() as s:
        item = await s.get(Item, item_id)
        item.data, item.revision = revised, 2
    assert await draft_from_figures(runtime, item_id) == cid
    async with runtime.db.reader() as s:
        c = await s.get(Campaign, cid)
    assert c.title == "Ledigheden i Region Midtjylland steg i oktober 2026"
    assert "21.700" in c.lead
    notices = await deliveries(runtime, kind="draft_notice")
    assert len(notices) == 2
    assert (await render(runtime, notices[1].id)).subject.startswith("Reviderede tal")


async def test_other_items_are_ignored(runtime, db_kind):
    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        item = Item(kind="news", title="Nyhed", content_hash="n", published_at=now, created_at=now, updated_at=now)
        s.add(item)
        await s.flush()
    assert await draft_from_figures(runtime, item.id) == 0
    assert await draft_from_figures(runtime, 424242) == 0
