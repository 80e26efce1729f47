"""The two jobs the console is for, done in chromium the way a person does them, with the
mail read as the SMTP server (aiosmtpd on loopback) received it.

A press officer: logs in, adds a TV contact by the form, saves a segment of the press list,
writes a release from "Ny pressemeddelelse", sees whom it goes to, previews it, test-sends
it, schedules it with an embargo (after the page asked), and the contact receives it under
embargo, greeted by name; the subscribers get it when the embargo ends.

An editor: writes a newsletter with {fornavn} from "Nyt nyhedsbrev"; each subscriber gets it
greeted by name ("Kære læser" when no name is known), with a subscriber's footer.

Screenshots at 1280 and 375 px go to var/test-artifacts/flow-*.png.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from service.delivery.worker import Worker
from service.campaigns.release import release_due
from subscribers.models import Subscriber
from tests.admin_support import make_user
from tests.campaign_support import TextOf, add_press, add_subscriber
from tests.e2e._browser import browser_page, site  # noqa: F401  (fixtures)
from tests.e2e._console import PYTHON_TEXT, problems_on, shoot

pytestmark = pytest.mark.browser

BODY = """{hilsen}

Ledigheden i **Region Midtjylland** faldt i oktober. Se [tallene](https://raadet.example/tal/2026-10) for hver kommune.

| Kommune | Ledige | Ledighed |
|---|---:|---:|
| Aarhus | 4.120 | 3,4 pct. |
| Ringkøbing-Skjern | 512 | 1,8 pct. |
"""


async def _name(runtime, sub_id: int, name: str) -> None:
    async with runtime.db.transaction() as s:
        await s.execute(update(Subscriber).where(Subscriber.id == sub_id).values(name=name))


def _parts(received):
    msg = received.message
    return msg, TextOf(msg.get_body(("html",)).get_content()).text, msg.get_body(("plain",)).get_content()


def _reads_well(text: str) -> None:
    assert not PYTHON_TEXT.search(text), text
    long = [line for line in text.splitlines() if len(line) > 76 and "://" not in line]
    assert long == [], long


async def _log_in(page, site, email):
    await page.goto(f"{site}/admin/login")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Adgangskode").fill("korrekt-hest-batteri")
    await page.get_by_role("button", name="Log ind").click()
    await page.wait_for_load_state()


async def _clean(page, where: str) -> None:
    assert await problems_on(page) == [], where
    assert await shoot(page, f"flow-{where}") == [], where


async def test_press_officer_adds_a_contact_saves_a_segment_and_sends_a_release_under_embargo(
        runtime, site, browser_page, smtp_server, db_kind):
    page = browser_page
    page.set_default_timeout(10_000)
    tz = runtime.settings.service.tz()
    worker = Worker(runtime)
    await make_user(runtime, "pia@raadet.example", "press", name="Pia Holm")
    await add_press(runtime, "lokal@avisen.example", media_type="local")
    hanne = await add_subscriber(runtime, "hanne@jobcenter.example", ("presse",))
    await _name(runtime, hanne, "Hanne Jensen")

    await _log_in(page, site, "pia@raadet.example")
    await page.get_by_role("link", name="Presseliste").click()
    await page.get_by_role("link", name="Tilføj kontakt").click()
    await page.get_by_label("E-mail").fill("lise@tv2.example")
    await page.get_by_label("Navn").fill("Lise Berg")
    await page.get_by_label("Medie", exact=True).fill("TV 2 Østjylland")
    await page.get_by_label("Medietype").select_option(label="TV og radio")
    await page.get_by_label("Region").fill("Midtjylland")
    await _clean(page, "press-add-contact")
    await page.get_by_role("button", name="Gem").click()
    assert await page.locator("#flash").inner_text() == "Kontakten er tilføjet presselisten."
    row = page.locator("tr", has_text="lise@tv2.example")
    assert "TV og radio" in await row.inner_text() and "Aktiv" in await row.inner_text()

    await page.get_by_label("TV og radio").check()
    await page.get_by_role("button", name="Vis").click()
    await page.wait_for_url("**media_type=broadcast**")
    assert await page.locator("#contact-count").inner_text() == "1 kontakt"
    await page.get_by_label("Gem filteret som segment").fill("TV og radio i Midtjylland")
    await page.get_by_role("button", name="Gem segment").click()
    assert await page.locator("#flash").inner_text() == "Segmentet er gemt."
    await _clean(page, "press-list-with-segment")

    await page.get_by_role("link", name="Udsendelser").click()
    await page.get_by_role("link", name="Ny pressemeddelelse").click()
    await page.get_by_label("Overskrift").fill("Ledigheden falder i Midtjylland")
    await page.get_by_label("Tekst", exact=True).fill(BODY)
    await page.get_by_label("Segment").select_option(label="TV og radio i Midtjylland")
    await page.get_by_label("Navn", exact=True).fill("Pia Holm")
    await page.get_by_label("Telefon").fill("12 34 56 78")
    live = page.frame_locator("#preview-html")
    await live.locator("text=Ledigheden falder i Midtjylland").wait_for()  # the live preview, before saving
    assert "Kære Pia" in await live.locator("body").inner_text()
    await page.frame_locator("#preview-text").locator("text=Ringkøbing-Skjern").wait_for()
    text_preview = await page.frame_locator("#preview-text").locator("pre").inner_text()
    assert "Aarhus              4.120  3,4 pct." in text_preview
    await _clean(page, "release-new")
    await page.get_by_role("button", name="Gem kladde").click()
    assert await page.locator("#flash").inner_text() == "Kladden er gemt."
    assert await page.locator("#reach").inner_text() == "Går til 1 pressekontakt og 1 abonnent."
    assert "Kladde" in await page.locator("#status").inner_text()
    await page.frame_locator("#preview-text").locator("text=Ringkøbing-Skjern").wait_for()  # the saved text part
    await _clean(page, "release-draft")

    await page.get_by_role("link", name="Forhåndsvis på en side for sig").click()
    assert "Kære Pia" in await page.frame_locator("#preview-frame").locator("body").inner_text()
    await page.get_by_role("link", name="som abonnent").click()
    assert "abonnerer på" in await page.frame_locator("#preview-frame").locator("body").inner_text()
    await page.go_back()
    await page.go_back()

    await page.get_by_role("button", name="Send test til mig (pia@raadet.example)").click()
    assert await page.locator("#flash").inner_text() == "Testmailen er sendt til din egen adresse."
    await worker.drain()
    [test_mail] = smtp_server.to("pia@raadet.example")
    msg, html, text = _parts(test_mail)
    assert msg["Subject"] == "[TEST] Ledigheden falder i Midtjylland"
    assert "Kære Pia" in html and "Kære Pia" in text and "Testudsendelse" in text

    press_at = runtime.clock.now().astimezone(tz) + timedelta(hours=1)
    await page.get_by_label("Til pressen, dato").fill(f"{press_at.day}.{press_at.month}.{press_at.year}")
    await page.get_by_label("Klokkeslæt", exact=True).fill("10.30")
    await page.get_by_label("Embargo til, klokkeslæt (tom = ingen embargo)").fill("10.40")
    await page.get_by_role("button", name="Planlæg …").click()
    sentence = await page.locator("#confirm-sentence").inner_text()
    assert sentence == ("Går til 1 pressekontakt kl. 10.30 (under embargo til 10.40) og til 1 abonnent kl. 10.40"
                        " – mandag 23. november 2026, dansk tid.")
    await _clean(page, "release-confirm-schedule")
    await page.get_by_role("button", name="Ja, planlæg udsendelsen").click()
    assert await page.locator("#flash").inner_text() == "Udsendelsen er planlagt."
    status = await page.locator("#status").inner_text()
    assert "Planlagt" in status and "23. november 2026 kl. 10.30" in status and "embargo til 23. november 2026 kl. 10.40" in status
    await _clean(page, "release-scheduled")

    runtime.clock.set(press_at.replace(hour=10, minute=30))
    await release_due(runtime)
    await worker.drain()
    [release] = smtp_server.to("lise@tv2.example")
    assert smtp_server.to("lokal@avisen.example") == []  # not in the segment
    assert smtp_server.to("hanne@jobcenter.example") == []  # the embargo holds
    msg, html, text = _parts(release)
    assert msg["Subject"] == "Under embargo til 23. november 2026 kl. 10.40: Ledigheden falder i Midtjylland"
    assert html.startswith("Under embargo") or "Under embargo til 23. november 2026 kl. 10.40" in html
    assert "Kære Lise" in html and text.lstrip().startswith("*** Under embargo")
    assert "Kære Lise" in text and "presselisten" in text
    assert "Aarhus              4.120  3,4 pct." in text and "[1] https://raadet.example/tal/2026-10" in text
    _reads_well(text)

    runtime.clock.set(press_at.replace(hour=10, minute=41))
    await release_due(runtime)
    await worker.drain()
    [sub_mail] = smtp_server.to("hanne@jobcenter.example")
    msg, html, text = _parts(sub_mail)
    assert msg["Subject"] == "Ledigheden falder i Midtjylland"
    assert "Kære Hanne" in html and "Kære Hanne" in text and "abonnerer på" in text and "embargo" not in text
    _reads_well(text)
    from tests.e2e._browser import ARTIFACTS

    (ARTIFACTS / "flow-mail-press.txt").write_bytes(release.data)
    (ARTIFACTS / "flow-mail-subscriber.txt").write_bytes(sub_mail.data)
    assert page.dialogs == []


async def test_editor_writes_a_newsletter_that_greets_each_reader_by_name(
        runtime, site, browser_page, smtp_server, db_kind):
    page = browser_page
    page.set_default_timeout(10_000)
    worker = Worker(runtime)
    await make_user(runtime, "erik@raadet.example", "editor", name="Erik Madsen")
    hanne = await add_subscriber(runtime, "hanne@jobcenter.example", ("analyser",))
    await _name(runtime, hanne, "Hanne Jensen")
    await add_subscriber(runtime, "anonym@firma.example", ("analyser",))
    await add_subscriber(runtime, "andet@firma.example", ("ledighedstal",))

    await _log_in(page, site, "erik@raadet.example")
    await page.get_by_role("link", name="Udsendelser").click()
    assert await page.get_by_role("link", name="Ny pressemeddelelse").count() == 0
    await page.get_by_role("link", name="Nyt nyhedsbrev").click()
    assert await page.locator("h1").inner_text() == "Nyt nyhedsbrev"
    await page.get_by_label("Overskrift").fill("Best Practice, november")
    await page.get_by_label("Tekst", exact=True).fill("Kære {fornavn}\n\nHer er månedens *bedste* eksempler.")
    await page.get_by_label("Analyser og overvågning").check()
    await page.frame_locator("#preview-html").locator("text=Kære Erik").wait_for()
    await _clean(page, "newsletter-new")
    await page.get_by_role("button", name="Gem kladde").click()
    assert await page.locator("#reach").inner_text() == "Går til 2 abonnenter."
    assert "Nyhedsbrev" in await page.locator("#status").inner_text()
    assert "presse" not in (await page.locator("#status").inner_text()).lower()
    # The saved newsletter's text part, as a subscriber gets it, beside the HTML.
    await page.frame_locator("#preview-text").locator("text=Kære Erik").wait_for()
    assert "bedste" in await page.frame_locator("#preview-text").locator("body").inner_text()
    await _clean(page, "newsletter-draft")

    await page.get_by_role("button", name="Send test til mig (erik@raadet.example)").click()
    await worker.drain()
    [test_mail] = smtp_server.to("erik@raadet.example")
    _, html, text = _parts(test_mail)
    assert "Kære Erik" in text and "abonnerer på »Analyser og overvågning«" in text and "presselisten" not in text

    at = runtime.clock.now().astimezone(runtime.settings.service.tz()) + timedelta(minutes=30)
    await page.get_by_label("Dato", exact=True).fill(f"{at.day}.{at.month}.{at.year}")
    await page.get_by_label("Klokkeslæt").fill(f"{at:%H.%M}")
    await page.get_by_role("button", name="Planlæg …").click()
    assert await page.locator("#confirm-sentence").inner_text() == (
        f"Går til 2 abonnenter kl. {at:%H.%M} – mandag 23. november 2026, dansk tid.")
    await page.get_by_role("button", name="Ja, planlæg udsendelsen").click()
    assert "Planlagt" in await page.locator("#status").inner_text()

    runtime.clock.set(at + timedelta(minutes=1))
    await release_due(runtime)
    await worker.drain()
    _, html, text = _parts(smtp_server.to("hanne@jobcenter.example")[0])
    assert text.count("Kære Hanne") == 1 and "Kære Hanne" in html and "*bedste*" not in text and "bedste" in text
    assert "abonnerer på »Analyser og overvågning«" in text and "presselisten" not in text
    _reads_well(text)
    _, html, text = _parts(smtp_server.to("anonym@firma.example")[0])
    assert "Kære læser" in text and "Kære læser" in html
    assert smtp_server.to("andet@firma.example") == []
    await page.reload()
    await _clean(page, "newsletter-sent")
