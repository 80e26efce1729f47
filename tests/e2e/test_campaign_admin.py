"""Admin pages for campaigns and the press list, over HTTP.

A press officer logs in through the real staff login and does: compose, preview in a sandboxed frame with its own CSP,
test send to self, schedule with an embargo, import the press list.
"""

from __future__ import annotations

import re

import pytest

from service.campaigns.release import release_due
from tests.admin_support import log_in, staff_client
from tests.campaign_support import deliveries, render


@pytest.fixture
async def officer_client(runtime):
    """A press officer, logged in through the real staff login."""
    c = await staff_client(runtime, "pia@raadet.example", "press")
    try:
        yield c
    finally:
        await c.close()


def _csrf(client) -> str:
    return client.session.cookie_jar.filter_cookies(client.make_url("/"))["bb_csrf"].value


async def test_compose_preview_test_send_schedule(runtime, officer_client, db_kind):
    c = officer_client
    r = await c.post("/admin/campaigns/new", data={
        "csrf_token": _csrf(c), "kind": "press_release", "title": "Færre ledige i oktober", "lead": "Manchet",
        "body_md": "Tekst med **fed**.\n\n<script>alert('x')</script>", "theme": "ungdom",
        "media_types": ["regional"]}, allow_redirects=False)
    assert r.status == 303, await r.text()
    cid = int(r.headers["Location"].split("?")[0].rsplit("/", 1)[1])

    r = await c.post(f"/admin/campaigns/{cid}", data={"csrf_token": _csrf(c), "title": "", "body_md": "Mit udkast",
                                                       "theme": "ungdom"})
    assert r.status == 422
    again = await r.text()
    assert "Skriv en overskrift" in again and "Mit udkast" in again  # what was typed is kept

    page = await (await c.get(f"/admin/campaigns/{cid}/preview")).text()
    assert 'sandbox=""' in page and f'src="/admin/campaigns/{cid}/preview.html?part=press"' in page
    assert "Færre ledige i oktober" in page and "Tekst med fed." in page  # the text version
    frame = await c.get(f"/admin/campaigns/{cid}/preview.html")
    csp = frame.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp and "script-src" not in csp
    html = await frame.text()
    assert "<strong>fed</strong>" in html and "<script>" not in html
    assert "#c2410c" in html  # the "ungdom" theme's colour, inlined

    r = await c.post(f"/admin/campaigns/{cid}/test", data={"csrf_token": _csrf(c)}, allow_redirects=False)
    assert r.status == 303
    [t] = await deliveries(runtime, recipient="pia@raadet.example")
    assert t.campaign_id is None and (await render(runtime, t.id)).subject == "[TEST] Færre ledige i oktober"

    r = await c.post(f"/admin/campaigns/{cid}/schedule", data={
        "csrf_token": _csrf(c), "scheduled_at": "2026-11-24T10:00", "embargo_until": "2026-11-24T09:00"})
    assert r.status == 422 and "Embargoen skal udløbe efter" in await r.text()
    r = await c.post(f"/admin/campaigns/{cid}/schedule", data={
        "csrf_token": _csrf(c), "date": "24.11.2026", "time": "10.00", "embargo_time": "12.00"})
    assert r.status == 200  # first the question: whom and when
    ask = await r.text()
    assert "Går til ingen pressekontakter kl. 10.00 (under embargo til 12.00) og til ingen abonnenter kl. 12.00" in ask
    assert (await s_status(runtime, cid)) == "draft"
    r = await c.post(f"/admin/campaigns/{cid}/schedule", data={
        "csrf_token": _csrf(c), "date": "24.11.2026", "time": "10.00", "embargo_time": "12.00", "confirm": "1"})
    assert r.status == 200
    show = await r.text()
    assert "til pressen 24. november 2026 kl. 10.00" in show and "embargo til 24. november 2026 kl. 12.00" in show

    without_token = await c.post(f"/admin/campaigns/{cid}/cancel", data={})
    assert without_token.status == 403
    runtime.clock.set(runtime.clock.now().replace(day=24, hour=9))
    await release_due(runtime)
    assert (await log_in(c, "pia@raadet.example")).status == 303  # a day later: the 8-hour session has ended
    r = await c.post(f"/admin/campaigns/{cid}/cancel", data={"csrf_token": _csrf(c), "confirm": "1"})
    assert r.status == 409  # sending has started
    report = await (await c.get(f"/admin/campaigns/{cid}")).text()
    assert "Udsendelsen er i gang" in report


async def s_status(runtime, cid):
    from service.db.campaigns import Campaign

    async with runtime.db.reader() as s:
        return (await s.get(Campaign, cid)).status


async def test_press_officer_may_not_touch_newsletters(officer_client, db_kind):
    r = await officer_client.get("/admin/campaigns/new?kind=newsletter")
    assert r.status == 403


async def test_press_list_import_and_export(officer_client, db_kind):
    c = officer_client
    form = {"csrf_token": _csrf(c)}
    data = "email;name;outlet;media_type;region;beats\nanna@avisen.example;Anna;Avisen;regional;Midtjylland;ledighedstal\n" \
           "bad;X;Y;regional;;\n"
    from aiohttp import FormData

    fd = FormData()
    fd.add_field("csrf_token", form["csrf_token"])
    fd.add_field("file", data.encode(), filename="presse.csv", content_type="text/csv")
    r = await c.post("/admin/press/import", data=fd)
    body = await r.text()
    assert r.status == 200 and "1 tilføjet, 0 opdateret, 1 afvist" in body
    listing = await (await c.get("/admin/press?media_type=regional")).text()
    assert "anna@avisen.example" in listing
    csv_body = await (await c.get("/admin/press/export.csv")).text()
    assert re.search(r"anna@avisen\.example;Anna;Avisen;regional;Midtjylland;ledighedstal;active", csv_body)


# Jinja (and other template syntaxes) typed by staff. If any of it were ever rendered as a
# template, `{{ 7*7 }}` would show 49, the loop XXX, and `config`/`__class__` would leak.
TEMPLATE_BAIT = ("{{ 7*7 }}", "{% for x in range(3) %}X{% endfor %}", "{{ config }}",
                 "{{ ''.__class__.__mro__[1].__subclasses__() }}", "{{ self._TemplateReference__context }}",
                 "${7*7}", "#{7*7}", "{0.__class__}")


def _literal_everywhere(text: str, where: str) -> None:
    for bait in ("{{ 7*7 }}", "{{ config }}", "${7*7}"):
        assert bait in text, (where, bait)
    assert "49" not in text and "XXX" not in text and "<class" not in text, where
    assert "Settings" not in text and "secret" not in text.lower(), where


async def test_item21_staff_text_is_never_a_template(runtime, smtp_server, db_kind):
    """There are no staff-editable templates (campaign bodies are Markdown, templates live on
    disk), and text that staff type never becomes one: template syntax in a topic name and
    in a campaign's title, lead and body comes out literally in the signup page, the topic's
    unsubscribe page, the preview (text and HTML), and the test mail as received."""
    import html as htmllib

    from service.delivery.worker import Worker
    from tests.admin_support import csrf
    from tests.campaign_support import TextOf

    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for source in [*(root / "service").rglob("*.py"), *(root / "subscribers").rglob("*.py")]:
        code = source.read_text(encoding="utf-8")
        assert "from_string" not in code and "jinja2.Template(" not in code, source  # templates come from disk only

    bait = " ".join(TEMPLATE_BAIT)
    admin = await staff_client(runtime, "admin@raadet.example", "admin")
    try:
        r = await admin.post("/admin/topics", data={"csrf_token": csrf(admin), "slug": "skabelon",
                                                    "name_da": f"Emne {bait}", "name_en": f"Topic {bait}"},
                             allow_redirects=False)
        assert r.status == 303, await r.text()
        r = await admin.post("/admin/campaigns/new", data={
            "csrf_token": csrf(admin), "kind": "press_release", "title": "Titel {{ 7*7 }} ${7*7} {{ config }}",
            "lead": f"Manchet {bait}", "body_md": f"Brødtekst {bait}\n\n**{bait}**", "theme": "standard",
            "media_types": ["regional"]}, allow_redirects=False)
        assert r.status == 303, await r.text()
        cid = int(r.headers["Location"].split("?")[0].rsplit("/", 1)[1])
        preview = TextOf(await (await admin.get(f"/admin/campaigns/{cid}/preview")).text()).text
        frame = TextOf(await (await admin.get(f"/admin/campaigns/{cid}/preview.html")).text()).text
        r = await admin.post(f"/admin/campaigns/{cid}/test", data={"csrf_token": csrf(admin)}, allow_redirects=False)
        assert r.status == 303
    finally:
        await admin.close()
    _literal_everywhere(preview, "preview page")
    _literal_everywhere(frame, "preview frame")

    await Worker(runtime).drain()
    [mail] = smtp_server.to("admin@raadet.example")
    _literal_everywhere(mail.message["Subject"], "subject")
    _literal_everywhere(mail.message.get_body(("plain",)).get_content(), "text mail")
    _literal_everywhere(TextOf(mail.message.get_body(("html",)).get_content()).text, "html mail")

    from subscribers.models import Subscriber
    from tests.campaign_support import add_subscriber

    sub = await add_subscriber(runtime, "laeser@example.org", ("skabelon",))
    from tests.admin_support import new_client

    public = await new_client(runtime)
    try:
        signup = htmllib.unescape(TextOf(await (await public.get("/")).text()).text)
        async with runtime.db.reader() as s:
            version = (await s.get(Subscriber, sub)).token_version
        path = runtime.links.unsubscribe(sub, version, "skabelon").replace("http://127.0.0.1:8080", "")
        leave = htmllib.unescape(TextOf(await (await public.get(path)).text()).text)
    finally:
        await public.close()
    _literal_everywhere(signup, "signup page")
    _literal_everywhere(leave, "unsubscribe page")
