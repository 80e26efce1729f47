"""The admin console in a real browser (headless chromium): log in, find a subscriber whose
name is a script (it shows as text, no dialog), and the dashboard draws its bar chart."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from subscribers.models import Subscriber, subscriber_municipalities
from tests.admin_support import PASSWORD, make_user
from tests.campaign_support import add_subscriber
from tests.e2e._browser import browser_page, site  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


async def _log_in(page, site, email="admin@raadet.example", password=PASSWORD):
    await page.goto(f"{site}/admin/subscribers")
    assert "/admin/login" in page.url  # sent to the login first
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Adgangskode").fill(password)
    await page.get_by_role("button", name="Log ind").click()


async def test_item19_log_in_and_search_a_subscriber_whose_name_is_a_script(runtime, site, browser_page, db_kind):
    page = browser_page
    await make_user(runtime)
    sub = await add_subscriber(runtime, "hanne@jobcenter.example", ("analyser",))
    await add_subscriber(runtime, "other@firma.example", ("analyser",))
    async with runtime.db.transaction() as s:
        (await s.get(Subscriber, sub)).name = "<script>alert(1)</script>"

    await _log_in(page, site, password="forkert-kodeord")
    assert "Det lykkedes ikke at logge ind" in await page.locator(".error-summary").inner_text()
    await page.get_by_label("Adgangskode").fill(PASSWORD)
    await page.get_by_role("button", name="Log ind").click()
    await page.wait_for_url(f"{site}/admin/subscribers")

    await page.get_by_label("E-mail, navn eller organisation").fill("jobcenter")
    await page.get_by_role("button", name="Søg").click()
    await page.wait_for_url("**q=jobcenter**")
    rows = page.locator("tbody tr")
    assert await rows.count() == 1
    assert "<script>alert(1)</script>" in await rows.first.inner_text()  # shown as text
    await page.get_by_role("link", name="hanne@jobcenter.example").click()
    await page.wait_for_url(f"{site}/admin/subscribers/{sub}")
    assert await page.locator("h1").inner_text() == "<script>alert(1)</script>"
    assert page.dialogs == []

    # Keyboard only: the skip link is the first stop.
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Gå til indhold"


async def test_dashboard_draws_its_chart(runtime, site, browser_page, db_kind):
    page = browser_page
    await make_user(runtime)
    for n, code in enumerate(("751", "751", "730")):
        sid = await add_subscriber(runtime, f"s{n}@example.org", ("analyser",))
        async with runtime.db.transaction() as s:
            await s.execute(insert(subscriber_municipalities).values(subscriber_id=sid, municipality_code=code))
    await _log_in(page, site)
    await page.goto(f"{site}/admin/")
    chart = page.locator("#chart-municipalities")
    aarhus = chart.locator("tr", has=page.locator("th", has_text="Aarhus")).locator(".bar")
    randers = chart.locator("tr", has=page.locator("th", has_text="Randers")).locator(".bar")
    cell = chart.locator("tr", has=page.locator("th", has_text="Aarhus")).locator("td.barcell")
    a_box, r_box, cell_box = await aarhus.bounding_box(), await randers.bounding_box(), await cell.bounding_box()
    # Drawn by the stylesheet (no inline styles under the CSP): Aarhus fills its cell, Randers half of it.
    assert a_box["width"] > 0.9 * cell_box["width"] - 20
    assert abs(r_box["width"] - a_box["width"] / 2) < 3
    assert a_box["height"] > 5


# ------------------------------------------------------------------ catalogue 19 in chromium

# Markup that would run if it ever reached a page as markup; it sets window.__xss and opens a dialog.
XSS = '<img src=x onerror="window.__xss=1;alert(1)"><svg onload="window.__xss=2"></svg><script>window.__xss=3</script>'
XSS_FEED = XSS.replace("&", "&amp;").replace("<", "&amp;lt;").replace(">", "&amp;gt;").replace('"', "&quot;")

INERT = """() => ({
  xss: window.__xss === undefined ? null : window.__xss,
  handlers: document.querySelectorAll('[onerror],[onload],[onclick],[onmouseover],[onfocus]').length,
  inline: [...document.scripts].filter(s => !s.src && s.text.includes('__xss')).length,
  jslinks: document.querySelectorAll('a[href^="javascript:" i], iframe[src^="javascript:" i]').length,
})"""


async def _inert(page, where: str, shown: str | None = "onerror") -> None:
    """Nothing ran (no dialog, no __xss), and no live markup from the payload is in any frame's
    DOM (so this holds even without the CSP); the payload is there as text where it is shown."""
    assert page.dialogs == [], where
    for frame in page.frames:
        found = await frame.evaluate(INERT)
        assert found == {"xss": None, "handlers": 0, "inline": 0, "jslinks": 0}, (where, frame.url, found)
    if shown:
        assert shown in await page.inner_text("body"), where


async def test_item19_scripts_from_feeds_bounces_imports_errors_and_campaigns_never_run_in_chromium(
        runtime, site, browser_page, db_kind):
    """Hostile text arriving every way it can (a feed's item titles, a bounce's diagnostic, a
    failed delivery's SMTP reply, a source's error, a CSV import's names and addresses, a
    campaign's title and body) shown on the admin pages in chromium: nothing runs, and the
    campaign preview renders in a sandboxed frame without scripts."""
    from datetime import timedelta

    from aiohttp.test_utils import TestServer as FeedTestServer  # the feeds, not the app

    from service.campaigns.compose import CampaignForm, create_campaign
    from service.db.models import Bounce, Delivery, Source
    from service.sources.poll import poll_source
    from tests.integration._sources import FeedServer, add_source

    page = browser_page
    page.set_default_timeout(10_000)
    await make_user(runtime)
    now = runtime.clock.now()

    # A feed whose item title carries the payload as (double-escaped) text: it survives parsing as text.
    feeds = FeedServer()
    pub = (now - timedelta(hours=1)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    feeds.serve("/x.rss", (f'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item>'
                           f"<title>Feed {XSS_FEED}</title><guid>g1</guid><pubDate>{pub}</pubDate>"
                           f"<link>https://example.dk/a</link></item></channel></rss>").encode())
    async with FeedTestServer(feeds.app(), host="127.0.0.1") as fs:
        sid = await add_source(runtime, "fjendtlig", str(fs.make_url("/x.rss")))
        assert (await poll_source(runtime, sid)).new == 1
        async with runtime.db.transaction() as s:
            # As the bounce processor and the poller store them (text, tags kept: escaping is the page's job).
            s.add(Bounce(email="vaek@example.org", kind="hard", diagnostic=f"550 5.1.1 {XSS}", received_at=now))
            s.add(Delivery(key="t:1", kind="alert", recipient="r@example.org", status="failed", attempts=3,
                           next_attempt_at=now, last_error=f"550 {XSS}", message_id="<1@budbringer.example>",
                           created_at=now))
            (await s.get(Source, sid)).last_error = f"the server answered 500 {XSS}"
        form = CampaignForm(kind="press_release", title=f"Kampagne {XSS}", lead=f"Manchet {XSS}",
                            body_md=f"Tekst {XSS}\n\n[klik](javascript:window.__xss=4)\n\n<iframe src=\"javascript:1\">",
                            contact_name="Pia", contact_email="pia@raadet.example", media_types=["regional"])
        async with runtime.db.transaction() as s:
            cid = await create_campaign(s, form, now=now, templates_root=runtime.templates.root)

        await _log_in(page, site)
        await page.wait_for_url(f"{site}/admin/subscribers")

        await page.goto(f"{site}/admin/")  # recent items, failed deliveries, campaigns
        await _inert(page, "dashboard")
        assert "Feed <img src=x" in await page.inner_text("body")
        await page.goto(f"{site}/admin/suppression")  # the bounce log
        await _inert(page, "bounce log")
        await page.goto(f"{site}/admin/sources")  # the source's last error
        await _inert(page, "sources")
        await page.goto(f"{site}/admin/sources/{sid}")
        await page.get_by_role("button", name="Prøvehent (gemmer intet)").click()  # shows the feed's titles
        await page.wait_for_load_state()
        await _inert(page, "test fetch")

        # An import whose names, address column and consent source are the payload.
        csv_text = f'E-mail;Navn;Organisation\nny@example.org;"{XSS.replace(chr(34), chr(34) * 2)}";Org {XSS.replace(chr(34), "")}\n' \
                   f'"{XSS.replace(chr(34), chr(34) * 2)}";x;y\n'
        await page.goto(f"{site}/admin/subscribers/import")
        await page.set_input_files("#file", files=[{"name": "liste.csv", "mimeType": "text/csv",
                                                    "buffer": csv_text.encode()}])
        await page.fill("#consent_source", f"Liste {XSS}")
        await page.get_by_role("button", name="Prøvekør (gemmer intet)").click()
        await page.wait_for_selector("#import-report")
        await _inert(page, "import preview")
        await page.get_by_role("button", name="Importér 1 abonnenter").click()
        # The import is written in the background; its page follows it until it is done.
        await page.wait_for_selector("#import-run #import-summary", timeout=30_000)
        # Its page names a skipped row by line and reason, not by address (no address outlives
        # an erasure in the run's row), so the payload is not on it as text: the file's name is.
        await _inert(page, "import done", shown=None)
        assert "liste.csv" in await page.inner_text("h1")
        await page.goto(f"{site}/admin/subscribers?q=ny@example.org")
        await _inert(page, "subscriber list")
        await page.get_by_role("link", name="ny@example.org").click()
        await page.wait_for_load_state()
        await _inert(page, "subscriber page")
        await page.goto(f"{site}/admin/audit")
        await _inert(page, "audit log", shown=None)

        await page.goto(f"{site}/admin/campaigns/{cid}")
        await _inert(page, "campaign page")
        await page.goto(f"{site}/admin/campaigns/{cid}/preview")
        await _inert(page, "campaign preview")
        frame_el = page.locator("iframe")
        assert await frame_el.get_attribute("sandbox") == ""  # no allow-scripts, no allow-same-origin
        frame = page.frame_locator("iframe")
        assert "Tekst" in await frame.locator("body").inner_text()  # the mail did render in the frame
        await _inert(page, "campaign preview frame", shown=None)
    assert page.dialogs == []
