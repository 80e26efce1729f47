"""New figures → a press release draft with the right numbers, and a mail to the press
officers; a revision of the figures updates the unsent draft and tells them again."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from service.campaigns.drafts import draft_from_figures
from service.db.campaigns import Campaign
from service.db.models import Item
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
    region["value"], region["change_month"], region["change_year"] = 21700, 21700 - region["previous"], 21700 - region["year_ago"]
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


def made_up_data(seed: int) -> tuple[dict, object]:
    """Both tables of a made-up release, read by the watcher's own parsing and joined."""
    from service.sources.figures import figures_data
    from service.sources.figures_join import join_parts
    from service.sources.statbank import parse_csv, parse_tableinfo
    from tests.statbank_standin import COUNTRY, REGION, data_csv, made_up_release, municipalities, tableinfo

    release = made_up_release("2027M03", seed=seed)
    codes = [COUNTRY[0], REGION[0]] + [c for c, _ in municipalities()]
    parts = {}
    for table, measure in (("AUL01", "count"), ("AUP01", "rate")):
        info = parse_tableinfo(tableinfo(table, release))
        cells = parse_csv(data_csv(table, release, codes, release.periods), time_variable="Tid")
        parts[measure] = figures_data(info, table, release.period, cells, measure)
    return join_parts(parts["count"], parts["rate"]), release


@pytest.mark.parametrize("seed", [4, 12])
async def test_a_draft_speaks_in_rates_and_points_as_a_press_release_would(runtime, db_kind, seed):
    from service.render.formatting import number, percent
    from tests.statbank_standin import municipalities

    await add_user(runtime, "pia@raadet.example", "press")
    data, release = made_up_data(seed)
    item_id = await _item(runtime, data)
    cid = await draft_from_figures(runtime, item_id)
    async with runtime.db.reader() as s:
        c = await s.get(Campaign, cid)
    rate, prev = release.value("AUP01", "082"), release.value("AUP01", "082", release.periods[1])
    diff = round(rate - prev, 1)
    verb = "var uændret på" if diff == 0 else "steg til" if diff > 0 else "faldt til"
    assert c.title == f"Ledigheden i Region Midtjylland {verb} {percent(rate)} i marts 2027"
    assert c.lead.startswith(f"Ledigheden i Region Midtjylland var {percent(rate)} af arbejdsstyrken i marts 2027, ")
    if diff:
        assert f"{number(abs(diff), 1)} procentpoint {'højere' if diff > 0 else 'lavere'} end i februar" in c.lead
    assert f"Det svarer til {number(release.value('AUL01', '082'))} fuldtidsledige" in c.lead
    # Every municipality by rate, lowest first, with the change in points.
    ranked = sorted(municipalities(), key=lambda m: (release.value("AUP01", m[0]), m[1]))
    table = [line for line in c.body_md.split("laveste først")[1].splitlines() if line.startswith("| ") and "Kommune" not in line]
    assert [line.split(" | ")[0][2:] for line in table] == [name for _, name in ranked]
    first_code = ranked[0][0]
    assert table[0].split(" | ")[1] == percent(release.value("AUP01", first_code))
    movers = [line for line in c.body_md.splitlines() if line.startswith("- **")]
    moves = {name: round(release.value("AUP01", code) - release.value("AUP01", code, release.periods[1]), 1)
             for code, name in municipalities()}
    named = [line[4:line.index("**:")] for line in movers]
    assert len(named) == 3 and abs(moves[named[0]]) == max(abs(v) for v in moves.values())
    assert all("procentpoint" in line or "uændret" in line for line in movers)
    assert "tabellerne AUP01, AUL01" in c.body_md


async def test_a_revision_after_the_release_was_sent_takes_the_correction_path(runtime, db_kind):
    from service.db.models import ItemRevision
    from service.render.formatting import number, percent

    await add_user(runtime, "pia@raadet.example", "press")
    data, release = made_up_data(7)
    item_id = await _item(runtime, data)
    cid = await draft_from_figures(runtime, item_id)
    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        c = await s.get(Campaign, cid)
        c.status, c.started_at, c.sent_at = "sent", now, now
    runtime.clock.advance(days=3)

    async def revise(revision: int, code: str, value: float, rate: float) -> None:
        async with runtime.db.transaction() as s:
            item = await s.get(Item, item_id)
            new = {**item.data, "areas": [dict(a) for a in item.data["areas"]]}
            area = next(a for a in new["areas"] if a["code"] == code)
            changes = {"areas": {code: {"value": [area["value"], value], "rate": [area["rate"], rate]}},
                       "after_announcement": True}
            area["value"], area["rate"] = value, rate
            item.data, item.revision = new, revision
            s.add(ItemRevision(item_id=item_id, revision=revision, changes=changes, at=runtime.clock.now()))

    old_value, old_rate = release.value("AUL01", "751"), release.value("AUP01", "751")
    await revise(2, "751", old_value + 40, round(old_rate + 0.3, 1))
    fix = await draft_from_figures(runtime, item_id)
    async with runtime.db.reader() as s:
        original, correction = await s.get(Campaign, cid), await s.get(Campaign, fix)
    assert fix != cid and original.status == "sent" and original.title != correction.title
    assert (correction.corrects_id, correction.status) == (cid, "draft")
    assert correction.title.startswith("Rettelse: Ledigheden i Region Midtjylland")
    assert (f"- **Aarhus**: ledigheden {percent(old_rate)} → {percent(round(old_rate + 0.3, 1))}, "
            f"fuldtidsledige {number(old_value)} → {number(old_value + 40)}") in correction.body_md
    notices = await deliveries(runtime, kind="draft_notice")
    assert [n.params["campaign_id"] for n in notices] == [cid, fix]

    # A second revision updates the same unsent correction, against the numbers that went out.
    await revise(3, "751", old_value + 45, round(old_rate + 0.3, 1))
    assert await draft_from_figures(runtime, item_id) == fix
    async with runtime.db.reader() as s:
        correction = await s.get(Campaign, fix)
    assert f"fuldtidsledige {number(old_value)} → {number(old_value + 45)}" in correction.body_md


async def test_other_items_are_ignored(runtime, db_kind):
    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        item = Item(kind="news", title="Nyhed", content_hash="n", published_at=now, created_at=now, updated_at=now)
        s.add(item)
        await s.flush()
    assert await draft_from_figures(runtime, item.id) == 0
    assert await draft_from_figures(runtime, 424242) == 0
