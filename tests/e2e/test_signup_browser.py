"""The signup page in a real browser (headless Debian chromium), used with the keyboard
only, on a phone-sized screen; the confirmation mail arrives at the real SMTP server and
its link, opened in the browser, confirms with one button."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from service.delivery.worker import Worker
from service.web.app import create_app
from subscribers.models import Subscriber
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


async def _tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until `selector` has the focus (as a keyboard user would)."""
    for _ in range(limit):
        if await page.evaluate("(s) => document.activeElement === document.querySelector(s)", selector):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"{selector} cannot be reached with Tab")


async def test_signup_with_the_keyboard_on_a_phone_then_confirm(runtime, site, smtp_server, browser_page, db_kind):
    page = browser_page
    await page.set_viewport_size({"width": 375, "height": 740})
    await page.goto(f"{site}/")
    assert await page.title() == "Få nyheder – Beskæftigelsesrådet, Region Midtjylland"
    # Nothing sticks out sideways on a phone.
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # Every visible input has a label.
    unlabelled = await page.evaluate("""() => [...document.querySelectorAll('input:not([type=hidden]), select')]
        .filter(e => e.offsetParent !== null && !(e.labels && e.labels.length)).map(e => e.name)""")
    assert unlabelled == []

    # Send the form empty first: the errors are shown next to their fields, in Danish.
    await _tab_to(page, "button[type=submit]")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert "Skriv din e-mailadresse." in await page.inner_text("#email-error")
    assert "Vælg mindst ét emne." in await page.inner_text("#topics-error")

    # An address with æ/ø/å before the @ is refused with the reason (few servers can deliver there).
    await _tab_to(page, "#email")
    await page.keyboard.type("Søren.Kjær@Jobcenter-Viborg.dk")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert "æ, ø, å" in await page.inner_text("#email-error")
    assert await page.input_value("#email") == "Søren.Kjær@Jobcenter-Viborg.dk"  # kept, to be corrected

    await _tab_to(page, "#email")
    await page.keyboard.press("Control+A")
    await page.keyboard.type("Soeren.Kjaer@Jobcenter-Viborg.dk")
    await _tab_to(page, "input[name=topics][value=ledighedstal]")
    await page.keyboard.press("Space")
    await _tab_to(page, "input[name=municipalities][value='791']")
    await page.keyboard.press("Space")
    await _tab_to(page, "input[name=consent]")
    await page.keyboard.press("Space")
    await _tab_to(page, "button[type=submit]")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert "Tjek din indbakke" in await page.inner_text("h1")
    assert page.dialogs == []

    await Worker(runtime).drain()
    (mail,) = smtp_server.to("soeren.kjaer@jobcenter-viborg.dk")
    link = re.search(r"http://127\.0\.0\.1:8080(/confirm/\S+)", mail.message.get_body(("plain",)).get_content()).group(1)
    await page.goto(f"{site}{link}")
    await _tab_to(page, "button[type=submit]")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert "Velkommen" in await page.inner_text("h1")
    async with runtime.db.reader() as s:
        sub = await s.scalar(select(Subscriber).where(Subscriber.email == "soeren.kjaer@jobcenter-viborg.dk"))
        assert sub.status == "active"
