"""The count table (AUL01) and the rate table (AUP01) of one release make ONE figures item,
whichever is seen first; it is announced once: when both are in, or when the wait is over
with what is there. Figures are made up by the stand-in (not the fixtures)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from service.db.models import Delivery, Item, ItemSource
from service.matching.match import match_pending_items
from service.sources.poll import poll_source
from tests.integration._matching import add_subscriber
from tests.integration._sources import add_source
from tests.statbank_standin import made_up_release, standin  # noqa: F401  (the fixture)


async def _sources(runtime, standin, *tables):
    ids = {}
    for table in tables:
        ids[table] = await add_source(runtime, table.lower(), standin.url, kind="statbank", item_kind="figures",
                                      topics=["ledighedstal"], options={"table": table})
    return ids


async def _items(runtime):
    async with runtime.db.reader() as s:
        return list((await s.scalars(select(Item).order_by(Item.id))).all())


async def _alerts(runtime):
    async with runtime.db.reader() as s:
        return int(await s.scalar(select(func.count(Delivery.id)).where(Delivery.kind == "alert")))


def area(item, code):
    return next(a for a in item.data["areas"] if a["code"] == code)


@pytest.mark.parametrize("first", ["AUL01", "AUP01"])
async def test_either_table_first_makes_one_item_announced_once_when_both_are_in(runtime, standin, db_kind, first):
    release = made_up_release("2027M01", seed=11)
    standin.publish(release)
    await add_subscriber(runtime, "aarhus@example.dk", municipalities=("751",))
    ids = await _sources(runtime, standin, "AUL01", "AUP01")
    second = "AUP01" if first == "AUL01" else "AUL01"

    assert (await poll_source(runtime, ids[first])).new == 1
    (item,) = await _items(runtime)
    assert item.public_at is not None and item.public_at > runtime.clock.now()  # waits for the other table
    assert await match_pending_items(runtime) == 0 and await _alerts(runtime) == 0

    report = await poll_source(runtime, ids[second])
    assert (report.new, report.updated, report.error) == (0, 1, None)
    (item,) = await _items(runtime)
    assert item.public_at is None
    aarhus = area(item, "751")
    assert aarhus["value"] == release.value("AUL01", "751") and aarhus["rate"] == release.value("AUP01", "751")
    prev = release.value("AUP01", "751", release.periods[1])
    assert aarhus["rate_change_month"] == pytest.approx(release.value("AUP01", "751") - prev, abs=1e-9)
    assert round(aarhus["rate_change_month"], 1) == aarhus["rate_change_month"]  # decimals, not 0.2999…
    assert item.data["tables"] == {"count": "AUL01", "rate": "AUP01"}
    async with runtime.db.reader() as s:
        keys = sorted((await s.scalars(select(ItemSource.entry_key).where(ItemSource.item_id == item.id))).all())
    assert keys == ["AUL01:2027M01", "AUP01:2027M01"]

    assert await match_pending_items(runtime) == 1
    assert await _alerts(runtime) == 1
    # Polled again: nothing moved, nothing more.
    assert (await poll_source(runtime, ids[first])).not_modified and standin.conditional >= 1
    assert await match_pending_items(runtime) == 0 and await _alerts(runtime) == 1


async def test_the_wait_ends_with_what_is_there_and_a_late_table_is_not_announced_again(runtime, standin, db_kind):
    release = made_up_release("2027M02", seed=5)
    standin.publish(release, tables=("AUL01",))  # the rate table is late
    await add_subscriber(runtime, "aarhus@example.dk", municipalities=("751",))
    ids = await _sources(runtime, standin, "AUL01", "AUP01")
    assert (await poll_source(runtime, ids["AUL01"])).new == 1
    assert "404" in (await poll_source(runtime, ids["AUP01"])).error
    assert await match_pending_items(runtime) == 0

    runtime.clock.advance(minutes=runtime.settings.figures.join_wait_minutes)
    assert await match_pending_items(runtime) == 1
    assert await _alerts(runtime) == 1
    (item,) = await _items(runtime)
    assert area(item, "751")["rate"] is None and area(item, "751")["value"] == release.value("AUL01", "751")

    standin.publish(release, tables=("AUP01",))
    runtime.clock.advance(minutes=1)
    assert (await poll_source(runtime, ids["AUP01"])).updated == 1
    (item,) = await _items(runtime)
    assert area(item, "751")["rate"] == release.value("AUP01", "751")
    assert item.announce_revision is False
    await match_pending_items(runtime)
    assert await _alerts(runtime) == 1  # announced once


async def test_a_lone_table_goes_out_at_once(runtime, standin, db_kind):
    standin.publish(made_up_release("2027M03", seed=2))
    ids = await _sources(runtime, standin, "AUP01")
    assert (await poll_source(runtime, ids["AUP01"])).new == 1
    (item,) = await _items(runtime)
    assert item.public_at is None and item.data["tables"] == {"rate": "AUP01"} and item.data["unit"] is None


async def test_the_polls_are_polite(runtime, standin, db_kind):
    standin.publish(made_up_release("2027M04", seed=3))
    ids = await _sources(runtime, standin, "AUL01")
    await poll_source(runtime, ids["AUL01"])
    await poll_source(runtime, ids["AUL01"])
    agents = {ua for _, ua in standin.hits}
    assert agents == {runtime.settings.fetch.user_agent}
    assert standin.conditional == 1  # the second look at the table information was a conditional GET

