"""The release calendar in chromium, as the press officer who keeps it: import the council's
file by the upload field, move a release, see it shown as moved in the console and on the
public page; at 1280 and 375 px nothing sticks out, no Python or untranslated word shows,
and axe-core finds nothing serious. Screenshots: var/test-artifacts/calendar-*.png."""

from __future__ import annotations

import pytest

from tests.admin_support import make_user
from tests.conftest import DATA
from tests.e2e._browser import browser_page, site  # noqa: F401  (fixtures)
from tests.e2e._console import axe, log_in, problems_on, shoot

pytestmark = pytest.mark.browser


async def test_a_press_officer_keeps_the_release_calendar(runtime, site, browser_page):  # noqa: F811
    await make_user(runtime, "pia@raadet.example", "press", name="Pia Presse")
    page = await log_in(browser_page.context, site, "pia@raadet.example")
    await page.get_by_role("link", name="Udgivelser").click()
    await page.wait_for_load_state()
    assert page.url.endswith("/admin/calendar")
    assert "Ingen kommende udgivelser" in await page.inner_text("#upcoming")

    await page.set_input_files("#file", str(DATA / "release-calendar.toml"))
    await page.get_by_role("button", name="Indlæs").click()
    await page.wait_for_load_state()
    assert "Kalenderen er indlæst: 6 udgivelser" in await page.inner_text("#flash")
    rows = await page.locator("#upcoming tbody tr").all_inner_texts()
    assert len(rows) == 6 and "tirsdag 22. december 2026 kl. 08.00" in rows[0] and "Kommende" in rows[0]
    assert await problems_on(page) == []
    assert await shoot(page, "calendar-press") == []
    assert await axe(page) == []

    await page.locator("#upcoming tbody tr").first.get_by_role("link", name="Ledighedstal for november 2026").click()
    await page.wait_for_load_state()
    await page.fill("#at", "2026-12-23 08.00")
    await page.get_by_role("button", name="Gem").click()
    await page.wait_for_load_state()
    first = (await page.locator("#upcoming tbody tr").all_inner_texts())[0]
    assert "onsdag 23. december 2026 kl. 08.00" in first and "Flyttet fra 22. december 2026 kl. 08.00" in first
    assert await shoot(page, "calendar-press-moved") == []

    # A mistake in the form: said in words, what was typed kept.
    await page.fill("#period", "2027M13")
    await page.fill("#tables", "AUL01")
    await page.fill("#at", "2027-07-29 08:00")
    await page.get_by_role("button", name="Tilføj").click()
    await page.wait_for_load_state()
    assert "er ikke en måned" in await page.inner_text("#calendar-error")
    assert await page.input_value("#period") == "2027M13"

    public = await page.context.new_page()
    await public.goto(f"{site}/kalender")
    text = await public.inner_text("main")
    assert "onsdag 23. december 2026" in text and "Flyttet fra 22. december 2026 kl. 08.00" in text
    assert "Beskæftigelsesrådets kommentar kl. 08.30" in text
    assert await shoot(public, "calendar-public") == []
    assert await axe(public) == []
