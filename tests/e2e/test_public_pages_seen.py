"""The public pages whose words moved out of Python (issue 18), seen in chromium at 1280
and 375 px as a visitor: the signup form's topic groups in Danish and English (from
templates/labels.toml), and the page a broken link opens (templates). Screenshots land
in var/test-artifacts/ (BUDBRINGER_TEST_ARTIFACTS)."""

from __future__ import annotations

import pytest

from tests.e2e._browser import browser_page, screenshot, site  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
WIDTHS = (1280, 375)


async def _fits(page) -> bool:
    return await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_signup_groups_and_a_broken_link_read_well_in_both_languages(runtime, site, browser_page, db_kind):
    page = browser_page
    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": 800})
        await page.goto(f"{site}/")
        groups = await page.locator("h3.group").all_inner_texts()
        assert groups[:4] == ["Tal og analyser", "Jobcentrenes arbejde", "Virksomheder", "Presse og arrangementer"]
        assert await _fits(page)
        await screenshot(page, f"issue18-signup-da-{width}")
        await page.goto(f"{site}/?lang=en")
        groups = await page.locator("h3.group").all_inner_texts()
        assert groups[:4] == ["Figures and analyses", "Job centre practice", "Companies", "Press and events"]
        assert await _fits(page)
        await screenshot(page, f"issue18-signup-en-{width}")
        answer = await page.goto(f"{site}/unsubscribe/not-a-token")
        assert answer.status == 400
        assert await page.locator("h1").inner_text() == "Linket virker ikke"
        assert await page.get_by_role("link", name="Få et nyt link").get_attribute("href") == "/preferences"
        assert await _fits(page)
        await screenshot(page, f"issue18-broken-link-{width}")
