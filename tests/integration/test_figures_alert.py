"""A figures item from the (fake) StatBank API reaches an Aarhus subscriber at once, through
the send worker to a real SMTP server, with Aarhus first; a subscriber with no municipality
sees the region and the biggest movers; a politician's mail leads with a summary."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer

from service.delivery.worker import Worker
from service.matching.match import match_pending_items
from service.sources.poll import poll_source
from tests.integration._matching import add_subscriber
from tests.integration._sources import FeedServer, add_source


@pytest.fixture
async def statbank():
    server = FeedServer()
    async with TestServer(server.app(), host="127.0.0.1") as ts:
        server.url = lambda path: str(ts.make_url(path))
        yield server


def body(received, kind):
    return received.message.get_body((kind,)).get_content()


async def test_figures_reach_aarhus_first(runtime, statbank, smtp_server, db_kind):
    await add_subscriber(runtime, "aarhus@example.dk", municipalities=("751",))
    await add_subscriber(runtime, "region@example.dk")
    await add_subscriber(runtime, "politiker@example.dk", municipalities=("751", "730"), audience="politiker",
                         language="en")
    await add_subscriber(runtime, "daglig@example.dk", frequency="daily", municipalities=("751",))
    sid = await add_source(runtime, "aul01", statbank.url("/v1"), kind="statbank", item_kind="figures",
                           options={"table": "AUL01"})
    assert (await poll_source(runtime, sid)).new == 1

    assert await match_pending_items(runtime) == 1
    await Worker(runtime).drain()

    (mail,) = smtp_server.to("aarhus@example.dk")
    assert mail.message["Subject"] == "Ledighedstal for september 2026"
    text = body(mail, "plain")
    # Aarhus first, with value and change from last month and last year, then region, then country.
    first = text.index("- Aarhus: ")
    assert first < text.index("- Region Midtjylland: ") < text.index("- Hele landet: ")
    region_line = next(line for line in text.splitlines() if line.startswith("- Region Midtjylland: "))
    assert region_line == ("- Region Midtjylland: 21.585; fra sidste måned −670 (fald), "
                           "fra sidste år −1.280 (fald)")
    assert "Største bevægelser" not in text
    html = body(mail, "html")
    assert html.index(">Aarhus<") < html.index(">Region Midtjylland<") < html.index(">Hele landet<")
    assert "▼ −670" in html and 'bgcolor="#00505a"' in html  # direction, and the table-built bar chart
    assert "Var det nyttigt?" in html

    (region,) = smtp_server.to("region@example.dk")
    text = body(region, "plain")
    assert text.index("- Region Midtjylland: ") < text.index("Største bevægelser siden sidste måned")
    assert "- Aarhus: " not in text.split("Største bevægelser")[0]

    (pol,) = smtp_server.to("politiker@example.dk")
    text = body(pol, "plain")
    assert text.startswith("IN SHORT")
    summary = text.splitlines()[1]
    assert summary == ("* Ledighedstal for september 2026: "
                       "Randers 1.985 (−121 since last month, −105 since last year); "
                       "Aarhus 8.054 (−77 since last month, −499 since last year)")
    assert text.index("- Randers: ") < text.index("- Aarhus: ") < text.index("- Region Midtjylland: ")

    assert smtp_server.to("daglig@example.dk") == []  # daily: it waits for the digest
