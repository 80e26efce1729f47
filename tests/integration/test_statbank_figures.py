"""StatBank figures from a fake StatBank API on loopback serving the fixtures."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from service.db.models import Item, ItemRevision, Source
from service.sources.poll import poll_source
from service.sources.preview import test_fetch as preview_fetch
from tests.integration._sources import FeedServer, add_source, items_view


@pytest.fixture
async def statbank():
    server = FeedServer()
    async with TestServer(server.app(), host="127.0.0.1") as ts:
        server.url = lambda path: str(ts.make_url(path))
        yield server


def area(data, code):
    return next(a for a in data["areas"] if a["code"] == code)


async def test_september_revision_october(runtime, statbank, db_kind):
    sid = await add_source(runtime, "aul01", statbank.url("/v1"), kind="statbank", item_kind="figures",
                           options={"table": "AUL01"})
    report = await poll_source(runtime, sid)
    assert (report.new, report.error) == (1, None)
    query = statbank.statbank_queries[-1]
    assert query["Tid"] == "2025M09,2026M08,2026M09" and query["valuePresentation"] == "CodeAndValue"
    assert query["OMRÅDE"].split(",")[:3] == ["000", "082", "615"] and len(query["OMRÅDE"].split(",")) == 21

    items = await items_view(runtime)
    (title, view), = items.items()
    item = view["item"]
    assert title == "Ledighedstal for september 2026"
    assert (item.kind, item.period, item.revision, item.matched_revision) == ("figures", "2026M09", 1, 0)
    assert view["topics"] == {"ledighedstal"} and len(view["municipalities"]) == 19
    data = item.data
    assert {k: data[k] for k in ("table", "period", "previous_period", "year_ago_period", "unit", "updated")} == {
        "table": "AUL01", "period": "2026M09", "previous_period": "2026M08", "year_ago_period": "2025M09",
        "unit": "Antal", "updated": "2026-10-29T08:00:00"}
    assert [a["level"] for a in data["areas"][:3]] == ["country", "region", "municipality"]
    assert area(data, "082") == {"code": "082", "name": "Region Midtjylland", "level": "region", "value": 21585.0,
                                 "previous": 22255.0, "year_ago": 22865.0, "change_month": -670.0, "change_year": -1280.0,
                                 "rate": None, "rate_previous": None, "rate_year_ago": None,
                                 "rate_change_month": None, "rate_change_year": None}  # no rate source here
    samso = area(data, "741")
    assert samso["year_ago"] is None and samso["change_year"] is None and samso["value"] == 45.0  # ".." is not zero
    assert item.published_at.isoformat() == "2026-10-29T07:00:00+00:00"  # 08:00 in Copenhagen (CET)
    aarhus_before = area(data, "751")["value"]

    # Same `updated`: no data call.
    calls = len(statbank.statbank_queries)
    assert (await poll_source(runtime, sid)).not_modified
    assert len(statbank.statbank_queries) == calls

    # The revision: same period, Aarhus and Randers corrected.
    statbank.statbank_release = "2026M09-revised"
    report = await poll_source(runtime, sid)
    assert (report.new, report.updated) == (0, 1)
    items = await items_view(runtime)
    assert len(items) == 1
    item = items["Ledighedstal for september 2026"]["item"]
    assert item.revision == 2 and item.announce_revision is False and item.data["updated"] == "2026-11-03T08:00:00"
    async with runtime.db.reader() as s:
        rev = await s.scalar(select(ItemRevision).where(ItemRevision.item_id == item.id))
    assert {"751", "730"} <= set(rev.changes["areas"]) and rev.changes["areas"]["751"]["value"][0] == aarhus_before

    # October: a second item.
    statbank.statbank_release = "2026M10"
    assert (await poll_source(runtime, sid)).new == 1
    items = await items_view(runtime)
    october = items["Ledighedstal for oktober 2026"]["item"]
    assert october.period == "2026M10" and october.data["year_ago_period"] == "2025M10"
    assert statbank.statbank_queries[-1]["Tid"] == "2025M10,2026M09,2026M10"


async def test_api_error_leaves_no_item_and_is_retried(runtime, statbank, db_kind):
    sid = await add_source(runtime, "aul01", statbank.url("/v1"), kind="statbank", options={"table": "AUL01"})
    statbank.statbank_fail = 500
    report = await poll_source(runtime, sid)
    assert "500" in report.error
    async with runtime.db.reader() as s:
        assert await s.scalar(select(func.count(Item.id))) == 0
        src = await s.get(Source, sid)
        assert src.remote_updated is None and src.consecutive_failures == 1
    statbank.statbank_fail = None
    assert (await poll_source(runtime, sid)).new == 1


@pytest.mark.parametrize("option,announced", [({}, True), ({"announce_updates": False}, False)])
async def test_a_revision_after_the_announcement_is_announced_unless_the_source_says_not(
        runtime, statbank, db_kind, option, announced):
    from service.matching.match import match_pending_items

    sid = await add_source(runtime, "aul01", statbank.url("/v1"), kind="statbank", options={"table": "AUL01", **option})
    await poll_source(runtime, sid)
    assert await match_pending_items(runtime) == 1  # subscribers were told September's figures
    statbank.statbank_release = "2026M09-revised"
    await poll_source(runtime, sid)
    item = (await items_view(runtime))["Ledighedstal for september 2026"]["item"]
    assert item.revision == 2 and item.announce_revision is announced


async def test_preview_saves_nothing(runtime, statbank, db_kind):
    statbank.serve("/nyheder.rss", "nyheder.rss.xml")
    feed = await add_source(runtime, "nyheder", statbank.url("/nyheder.rss"))
    figures = await add_source(runtime, "aul01", statbank.url("/v1"), kind="statbank", options={"table": "AUL01"})
    previews = await preview_fetch(runtime, feed)
    assert len(previews) == 6 and {p.status for p in previews} == {"new"}
    assert previews[0].topics == ["analyser", "flaskehalse"] and previews[0].municipalities == ["657", "661", "760"]
    (fig,) = await preview_fetch(runtime, figures)
    assert fig.kind == "figures" and fig.title == "Ledighedstal for september 2026"
    assert await items_view(runtime) == {}
    await poll_source(runtime, feed)
    assert {p.status for p in await preview_fetch(runtime, feed)} == {"known"}
