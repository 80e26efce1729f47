"""The staff console's pages that used to break, opened as the role that uses them: the
new-campaign pages, the press contact pages, the test-send button, the sources list and
the suppression page's flash."""

from __future__ import annotations

import pytest

from service.campaigns.compose import CampaignForm, create_campaign
from tests.admin_support import staff_client
from tests.campaign_support import add_press
from tests.integration._sources import add_source


@pytest.fixture
async def client_as(runtime):
    made = []

    async def make(role: str):
        c = await staff_client(runtime, f"{role}@raadet.example", role)
        made.append(c)
        return c

    yield make
    for c in made:
        await c.close()


async def _ok(client, path: str) -> str:
    r = await client.get(path)
    text = await r.text()
    assert r.status == 200, (path, r.status, text[-500:])
    return text


async def test_press_officer_opens_new_release_add_contact_and_edit_contact(runtime, client_as, db_kind):
    press = await client_as("press")
    contact = await add_press(runtime, "jens@avis.example")
    assert "<h1>Ny pressemeddelelse</h1>" in await _ok(press, "/admin/campaigns/new?kind=press_release")
    assert "Ny kontakt" in await _ok(press, "/admin/press/new")
    assert "jens@avis.example" in await _ok(press, f"/admin/press/{contact}")


async def test_editor_opens_new_newsletter_and_the_test_button_names_the_address(runtime, client_as, db_kind):
    editor = await client_as("editor")
    assert "<h1>Nyt nyhedsbrev</h1>" in await _ok(editor, "/admin/campaigns/new?kind=newsletter")
    async with runtime.db.transaction() as s:
        cid = await create_campaign(s, CampaignForm(kind="newsletter", title="Best Practice", topics=["analyser"]),
                                    now=runtime.clock.now(), templates_root=runtime.templates.root)
    page = await _ok(editor, f"/admin/campaigns/{cid}")
    assert "editor@raadet.example" in page
    assert "StaffUser(" not in page


async def test_sources_list_counts_items_and_suppression_ignores_text_in_the_address(runtime, client_as, db_kind):
    admin = await client_as("admin")
    await add_source(runtime, "nyheder", "http://127.0.0.1:9/feed.xml")
    page = await _ok(admin, "/admin/sources")
    assert "<built-in" not in page and "Ikke hentet endnu" in page
    page = await _ok(admin, "/admin/suppression?ok=Ring+til+os+p%C3%A5+12345678")
    assert "12345678" not in page
    assert "Adressen er sat på spærrelisten." in await _ok(admin, "/admin/suppression?ok=suppression-added")
