"""A release of made-up figures (the stand-in's, not the fixtures) from both tables reaches
subscribers at once, through the send worker to a real SMTP server, read as aiosmtpd got
it: an Aarhus subscriber sees Aarhus's rate, its rank among the 19 and its change in
points, first, in the HTML and the text part alike; an English subscriber reads it all in
English; a subscriber with no municipality sees the region and the biggest moves with the
change they are sorted by; a politician's mail leads with a summary."""

from __future__ import annotations

import re

import pytest

from service.delivery.worker import Worker
from service.matching.match import match_pending_items
from service.render.formatting import month_name, number, percent, signed
from service.sources.poll import poll_source
from tests.integration._matching import add_subscriber
from tests.integration._sources import add_source
from tests.statbank_standin import ROOT, made_up_release, municipalities, standin  # noqa: F401  (standin: the fixture)

DANISH = re.compile(r"\b(Ledighed|ledighed|fuldtidsledige|Område|Siden|siden|Hele landet|kommuner|laveste|højeste|"
                    r"pct\.|Største|bevægelser|januar|februar|marts|maj|juni|juli|oktober|december)\b")


def parts(received):
    msg = received.message
    return msg.get_body(("plain",)).get_content().replace("\r\n", "\n"), msg.get_body(("html",)).get_content()


def keep(received, name: str) -> None:
    """The mail as received, for a person to read (var/test-artifacts/mail/)."""
    out = ROOT / "var" / "test-artifacts" / "mail"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.eml").write_bytes(received.data)
    text, html = parts(received)
    (out / f"{name}.txt").write_text(text, encoding="utf-8")
    (out / f"{name}.html").write_text(html, encoding="utf-8")


def visible(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&nbsp;", " ")


def rank_of(release, code):
    rates = {c: release.value("AUP01", c) for c, _ in municipalities()}
    rank = 1 + sum(1 for r in rates.values() if r < rates[code])
    from_top = 1 + sum(1 for r in rates.values() if r > rates[code])
    return rank, from_top


async def _release(runtime, standin, seed):
    release = made_up_release("2027M05", seed=seed)
    standin.publish(release)
    for table in ("AUL01", "AUP01"):
        sid = await add_source(runtime, table.lower(), standin.url, kind="statbank", item_kind="figures",
                               topics=["ledighedstal"], options={"table": table})
        assert (await poll_source(runtime, sid)).error is None
    assert await match_pending_items(runtime) == 1
    await Worker(runtime).drain()
    return release


@pytest.mark.parametrize("seed", [3, 29])
async def test_an_aarhus_subscriber_reads_aarhus_rate_rank_and_points_change(runtime, standin, smtp_server, db_kind,
                                                                             seed):
    await add_subscriber(runtime, "aarhus@example.dk", municipalities=("751",))
    await add_subscriber(runtime, "daglig@example.dk", frequency="daily", municipalities=("751",))
    release = await _release(runtime, standin, seed)
    rate, prev = release.value("AUP01", "751"), release.value("AUP01", "751", release.periods[1])
    ago = release.value("AUP01", "751", release.periods[0])
    count = release.value("AUL01", "751")

    (mail,) = smtp_server.to("aarhus@example.dk")
    keep(mail, f"figures-alert-aarhus-{seed}")
    assert mail.message["Subject"] == "Ledighedstal for maj 2027"
    text, html = parts(mail)
    row = next(line for line in text.splitlines() if line.startswith("Aarhus "))
    assert row.split() == ["Aarhus", *percent(rate).split(), signed(rate - prev, 1), signed(rate - ago, 1),
                           number(count), signed(count - release.value("AUL01", "751", release.periods[1])),
                           signed(count - release.value("AUL01", "751", release.periods[0]))]
    assert text.index("Aarhus ") < text.index("Region Midtjylland ") < text.index("Hele landet ")
    header = text.splitlines()[text.splitlines().index(row) - 1]
    assert header.split() == ["Område", "Ledighed", "±md.", "±år", "Ledige", "±md.", "±år"]  # labelled columns
    assert "procentpoint" in text and "±md.: siden april 2027" in text

    rank, from_top = rank_of(release, "751")
    if rank == 1:
        sentence = "Aarhus har den laveste ledighed af regionens 19 kommuner"
    elif rank <= from_top:
        sentence = f"Aarhus har den {rank}. laveste ledighed af regionens 19 kommuner"
    else:
        sentence = f"Aarhus har den {from_top}. højeste ledighed af regionens 19 kommuner" if from_top > 1 else \
            "Aarhus har den højeste ledighed af regionens 19 kommuner"
    assert sentence in text and sentence in visible(html)
    # The chart: all 19 by rate, lowest first, Aarhus marked, region and country as reference lines.
    ranked = sorted(municipalities(), key=lambda m: (release.value("AUP01", m[0]), m[1]))
    listed = [m.group(1) for m in re.finditer(r"^[ >]\s*\d+\. (\S+)", text, re.M)]
    assert listed == [name for _, name in ranked]
    assert re.search(rf"^>\s*{rank}\. Aarhus\s+{re.escape(percent(rate))}$", text, re.M)
    region_rate = percent(release.value("AUP01", "082"))
    assert f"┃ Region Midtjylland {region_rate}" in text and f"Region Midtjylland {region_rate}" in visible(html)
    assert html.count('class="seg seg-own"') == 1 or "seg-own" in html
    assert "bgcolor=\"#1b1b1b\"" in html or "bgcolor=\"#c25e00\"" in html  # reference marks in the bars
    assert f"<strong>{rank}. Aarhus</strong>" not in html and "<strong>Aarhus</strong>" in html
    # The HTML table has the same numbers under labelled heads.
    assert "Ledighed i pct. af arbejdsstyrken" in html and "Fuldtidsledige (antal)" in html
    assert percent(rate) in html and signed(rate - prev, 1) in html
    assert "Største bevægelser" not in text  # a subscriber with a municipality gets the chart, not the movers
    assert "Var det nyttigt?" in html
    assert smtp_server.to("daglig@example.dk") == []  # daily: it waits for the digest


async def test_english_subscriber_reads_english_and_no_municipality_sees_the_moves(runtime, standin, smtp_server,
                                                                                  db_kind):
    await add_subscriber(runtime, "en@example.dk", municipalities=("751", "730"), language="en")
    await add_subscriber(runtime, "region@example.dk")
    await add_subscriber(runtime, "politiker@example.dk", municipalities=("791",), audience="politiker")
    release = await _release(runtime, standin, 17)

    (mail,) = smtp_server.to("en@example.dk")
    keep(mail, "figures-alert-english")
    assert mail.message["Subject"] == "Unemployment figures for May 2027"
    text, html = parts(mail)
    for part in (text, visible(html)):
        assert not DANISH.search(part.split("Beskæftigelsesrådet")[0]), DANISH.search(part).group(0)
        assert "All of Denmark" in part and "Central Denmark Region" in part
    rate = release.value("AUP01", "751")
    row = next(line for line in text.splitlines() if line.startswith("Aarhus "))
    assert row.split()[1:3] == [f"{rate:.1f}", "%"]  # 4.1 %, English decimal point
    count = release.value("AUL01", "082")
    assert f"{count:,.0f}" in text  # 21,466: English thousands
    assert "of the region's 19 municipalities" in text

    (region,) = smtp_server.to("region@example.dk")
    keep(region, "figures-alert-region")
    text, html = parts(region)
    movers_at = text.index("Største bevægelser fra april 2027 til maj 2027:")
    assert text.index("Region Midtjylland ") < movers_at
    moves = [line for line in text[movers_at:].splitlines()[1:] if line.startswith("- ")]
    assert len(moves) == 5
    changes = {name: release.value("AUP01", code) - release.value("AUP01", code, release.periods[1])
               for code, name in municipalities()}
    shown = [float(line.rsplit(" ", 1)[1].replace("−", "-").replace(",", ".")) for line in moves]
    assert [abs(v) for v in shown] == sorted((abs(v) for v in shown), reverse=True)  # sorted by what it shows
    biggest = max(abs(round(v, 1)) for v in changes.values())
    assert abs(shown[0]) == biggest
    assert all("ændring i ledigheden (point)" in line for line in moves)
    assert "Ændring i ledigheden (point)" in html

    (pol,) = smtp_server.to("politiker@example.dk")
    text, _ = parts(pol)
    assert text.startswith("KORT FORTALT")
    summary = text.splitlines()[1]
    viborg = release.value("AUP01", "791")
    assert summary.startswith(f"* Ledighedstal for maj 2027: Viborg {percent(viborg)} (")
    assert f"point siden {month_name(release.periods[1])}" in summary
