"""Issue 4 as a new user meets it, in a real browser (headless Debian chromium): the
signup page used with the keyboard only on a phone-sized screen; the confirmation mail
arrives at the real SMTP server and its link confirms with one button; the preferences
page changes the choices; the mail's one-click unsubscribe (a POST without cookies)
works twice; a forged link gets the friendly refusal. Screenshots of the signup, confirm,
welcome and preferences pages are kept in var/test-artifacts/ (BUDBRINGER_TEST_ARTIFACTS)."""

from __future__ import annotations

import re

import aiohttp
import pytest
from sqlalchemy import select

from service.delivery.worker import Worker
from subscribers.models import Subscriber
from service.db.reference import Topic
from subscribers.models import subscriber_topics
from tests.e2e._browser import browser_page, screenshot, site  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


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
    await screenshot(page, "signup-phone")

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
    await screenshot(page, "confirm-phone")
    await _tab_to(page, "button[type=submit]")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert "Velkommen" in await page.inner_text("h1")
    await screenshot(page, "welcome-phone")
    async with runtime.db.reader() as s:
        sub = await s.scalar(select(Subscriber).where(Subscriber.email == "soeren.kjaer@jobcenter-viborg.dk"))
        assert sub.status == "active" and sub.frequency == "immediate"

    # The welcome page leads to the preferences; add a topic and go daily.
    href = await page.get_attribute("a.button", "href")
    await page.goto(site + re.sub(r"^https?://[^/]+", "", href))
    assert "Dine valg" in await page.inner_text("h1")
    await page.set_viewport_size({"width": 1280, "height": 900})
    await screenshot(page, "preferences-desktop")
    await page.check("input[name=topics][value=analyser]")
    await page.check("input[name=frequency][value=daily]")
    async with page.expect_navigation():
        await page.click("form:first-of-type button[type=submit]")
    async with runtime.db.reader() as s:
        sub = await s.scalar(select(Subscriber).where(Subscriber.id == sub.id))
        topics = set(await s.scalars(select(Topic.slug).join(subscriber_topics, subscriber_topics.c.topic_id == Topic.id)
                                     .where(subscriber_topics.c.subscriber_id == sub.id)))
    assert sub.frequency == "daily" and topics == {"ledighedstal", "analyser"}

    # A forged link (one character changed) is refused with the friendly page, and changes nothing.
    token = href.rstrip("/").rsplit("/", 1)[1]
    forged = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    response = await page.goto(f"{site}/preferences/{forged}")
    assert response.status == 400 and "Linket virker ikke" in await page.inner_text("h1")

    # The welcome mail's List-Unsubscribe, POSTed the RFC 8058 way by a mail provider:
    # no cookies, no CSRF token; 200 both times, and the subscriber has left.
    await Worker(runtime).drain()
    (welcome,) = [m for m in smtp_server.to("soeren.kjaer@jobcenter-viborg.dk") if "Velkommen" in m.message["Subject"]]
    assert welcome.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.fullmatch(r"<(https?://[^>]+)>", welcome.message["List-Unsubscribe"]).group(1)
    async with aiohttp.ClientSession() as provider:
        for _ in range(2):
            async with provider.post(site + re.sub(r"^https?://[^/]+", "", url),
                                     data={"List-Unsubscribe": "One-Click"}) as answer:
                assert answer.status == 200
    async with runtime.db.reader() as s:
        assert (await s.scalar(select(Subscriber.status).where(Subscriber.id == sub.id))) == "unsubscribed"
