"""A revision of figures already announced (same period, new numbers; made up by the
stand-in, not the fixtures) says what changed, old → new, and goes only to subscribers
whose own municipality changed, and to those with none when the region's total changed;
a threshold keeps small corrections quiet. Read as aiosmtpd got it, in both languages."""

from __future__ import annotations

import copy

import pytest

from service.delivery.worker import Worker
from service.matching.match import match_pending_items
from service.render.formatting import number, percent
from service.sources.poll import poll_source
from tests.integration._matching import add_subscriber
from tests.integration._sources import add_source
from tests.statbank_standin import made_up_release, standin  # noqa: F401  (the fixture)


def revised(release, updated: str, counts: dict[str, float] = {}, rates: dict[str, float] = {}):  # noqa: B006
    new = copy.deepcopy(release)
    new.updated = updated
    for code, value in counts.items():
        new.counts[code][release.period] = value
    for code, value in rates.items():
        new.rates[code][release.period] = value
    return new


def parts(received):
    msg = received.message
    return msg["Subject"], msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()


async def _announced(runtime, standin, release) -> list[int]:
    standin.publish(release)
    sources = [await add_source(runtime, t.lower(), standin.url, kind="statbank", item_kind="figures",
                                topics=["ledighedstal"], options={"table": t}) for t in ("AUL01", "AUP01")]
    for sid in sources:
        assert (await poll_source(runtime, sid)).error is None
    assert await match_pending_items(runtime) == 1
    await Worker(runtime).drain()
    return sources


async def _revise(runtime, standin, sources, release) -> None:
    standin.publish(release)
    for sid in sources:
        assert (await poll_source(runtime, sid)).error is None
    await match_pending_items(runtime)
    await Worker(runtime).drain()


async def test_a_revision_goes_only_where_the_numbers_moved_and_says_what_changed(runtime, standin, smtp_server,
                                                                                 db_kind):
    for email, munis, lang in (("aarhus@example.dk", ("751",), "da"), ("aarhus.en@example.dk", ("751",), "en"),
                               ("viborg@example.dk", ("791",), "da"), ("region@example.dk", (), "da")):
        await add_subscriber(runtime, email, municipalities=munis, language=lang)
    release = made_up_release("2027M06", seed=21)
    sources = await _announced(runtime, standin, release)
    assert len(smtp_server.received) == 4

    old_count, old_rate = release.value("AUL01", "751"), release.value("AUP01", "751")
    old_region = release.value("AUL01", "082")
    new_count, new_rate = old_count + 37, round(old_rate + 0.2, 1)
    first = revised(release, "2027-07-30T08:00:00", counts={"751": new_count, "082": old_region + 37},
                    rates={"751": new_rate})
    await _revise(runtime, standin, sources, first)
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received[4:]) == [
        "aarhus.en@example.dk", "aarhus@example.dk", "region@example.dk"]  # not Viborg: its numbers did not move

    subject, text, html = parts(smtp_server.to("aarhus@example.dk")[-1])
    assert subject == "Rettede ledighedstal for juni 2027"
    assert "Danmarks Statistik har rettet tallene for juni 2027. Det er ændret:" in text
    line = next(x for x in text.splitlines() if x.startswith("* Aarhus: "))
    assert f"fuldtidsledige i juni 2027 {number(old_count)} → {number(new_count)}" in line
    assert f"ledighed i juni 2027 {percent(old_rate)} → {percent(new_rate)}" in line
    assert f"- Region Midtjylland: fuldtidsledige i juni 2027 {number(old_region)} → {number(old_region + 37)}" in text
    assert "<strong>Aarhus</strong>: " in html and f"{number(old_count)} → {number(new_count)}" in html
    row = next(x for x in text.splitlines() if x.startswith("Aarhus "))
    assert percent(new_rate) in row and number(new_count) in row  # the table shows the new numbers

    subject, text, _ = parts(smtp_server.to("aarhus.en@example.dk")[-1])
    assert subject == "Revised unemployment figures for June 2027"
    assert "Statistics Denmark has revised the figures for June 2027. What changed:" in text
    assert (f"full-time unemployed in June 2027 {number(old_count, lang='en')} → {number(new_count, lang='en')}"
            in text)
    assert "Central Denmark Region: full-time unemployed in June 2027" in text

    # A second revision moves only Viborg, by one person: Viborg's subscriber hears of it.
    viborg = first.value("AUL01", "791")
    second = revised(first, "2027-07-31T08:00:00", counts={"791": viborg + 1})
    await _revise(runtime, standin, sources, second)
    assert [r.rcpt_tos[0] for r in smtp_server.received[7:]] == ["viborg@example.dk"]
    _, text, _ = parts(smtp_server.to("viborg@example.dk")[-1])
    assert f"* Viborg: fuldtidsledige i juni 2027 {number(viborg)} → {number(viborg + 1)}" in text


@pytest.mark.parametrize("min_count,told", [(10, []), (1, ["viborg@example.dk"])])
async def test_a_threshold_keeps_small_corrections_quiet(runtime, standin, smtp_server, db_kind, min_count, told):
    runtime.settings.figures.revision_min_count = min_count
    await add_subscriber(runtime, "viborg@example.dk", municipalities=("791",))
    await add_subscriber(runtime, "region@example.dk")
    release = made_up_release("2027M07", seed=4)
    sources = await _announced(runtime, standin, release)
    await _revise(runtime, standin, sources,
                  revised(release, "2027-08-30T08:00:00", counts={"791": release.value("AUL01", "791") + 3}))
    assert [r.rcpt_tos[0] for r in smtp_server.received[2:]] == told
