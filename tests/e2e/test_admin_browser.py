"""The admin console in a real browser (headless chromium): log in, find a subscriber whose
name is a script (it shows as text, no dialog), and the dashboard draws its bar chart."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import insert

from service.web.app import create_app
from subscribers.models import Subscriber, subscriber_municipalities
from tests.admin_support import PASSWORD, make_user
from tests.campaign_support import add_subscriber
from tests.e2e._browser import browser_page  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser


@pytest.fixture
async def site(runtime):
    server = TestServer(create_app(runtime), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


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
