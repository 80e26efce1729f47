"""The whole path with the real send worker and a real SMTP server: figures arrive →
draft and notice mail → scheduled with an embargo → the press copy arrives at the press
time marked under embargo → the subscriber copy at the embargo time → "sent"."""

from __future__ import annotations

from datetime import timedelta

from service.campaigns.drafts import draft_from_figures
from service.campaigns.release import release_due
from service.campaigns.schedule import schedule
from service.campaigns.times import parse_local
from service.db.campaigns import Campaign
from service.db.models import Item
from service.delivery.worker import Worker
from tests.campaign_support import TextOf, add_press, add_subscriber, add_user
from tests.integration.test_campaign_drafts import figures


def _parts(msg):
    html = msg.get_body(("html",)).get_content()
    text = msg.get_body(("plain",)).get_content()
    return TextOf(html), text


async def test_figures_to_press_to_subscribers(runtime, smtp_server, db_kind):
    tz = runtime.settings.service.tz()
    worker = Worker(runtime)
    await add_user(runtime, "pia@raadet.example", "press")
    await add_press(runtime, "reporter@avisen.example")
    await add_subscriber(runtime, "journalist@example.org", ("presse",))
    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        item = Item(kind="figures", title="Ledighedstal oktober 2026", content_hash="f", published_at=now,
                    created_at=now, updated_at=now, period="2026M10",
                    data=figures("data-AUL01-2026M10.csv", "2026M10", "2026M09", "2025M10"))
        s.add(item)
        await s.flush()
    cid = await draft_from_figures(runtime, item.id)
    await worker.drain()
    [notice] = smtp_server.to("pia@raadet.example")
    assert "Ny kladde til pressemeddelelse" in notice.message["Subject"]
    assert f"http://127.0.0.1:8080/admin/campaigns/{cid}" in _parts(notice.message)[1]

    press_at, embargo = parse_local("2026-11-24 10:00", tz), parse_local("2026-11-24 12:00", tz)
    async with runtime.db.transaction() as s:
        await schedule(s, cid, scheduled_at=press_at, embargo_until=embargo, now=now)
    runtime.clock.set(press_at)
    await release_due(runtime)
    await worker.drain()
    [press] = smtp_server.to("reporter@avisen.example")
    assert press.message["Subject"].startswith("Under embargo til 24. november 2026 kl. 12.00: Ledigheden i Region")
    html, text = _parts(press.message)
    assert "Under embargo til 24. november 2026 kl. 12.00" in html.text and "21.466" in html.text
    assert "21.466 fuldtidsledige" in text
    assert smtp_server.to("journalist@example.org") == []

    runtime.clock.set(embargo - timedelta(seconds=1))
    await release_due(runtime)
    await worker.drain()
    assert smtp_server.to("journalist@example.org") == []

    runtime.clock.set(embargo)
    await release_due(runtime)
    await worker.drain()
    [sub] = smtp_server.to("journalist@example.org")
    assert "embargo" not in sub.message["Subject"].lower()
    assert sub.message["List-Unsubscribe"]
    await release_due(runtime)
    async with runtime.db.reader() as s:
        assert (await s.get(Campaign, cid)).status == "sent"
