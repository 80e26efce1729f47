"""Every page of the staff console, as each role, in chromium.

For admin, editor and press: log in, follow every link under /admin/ that the navigation and
the pages offer (and every frame), and on each page check: no 5xx; no Python or template
text; no untranslated status or kind word; nothing wider than a 375 px screen. Screenshots
of each page at 1280 and 375 px go to var/test-artifacts/console-<role>-<page>-<width>.png.
Then every GET route the app has under /admin/ is accounted for: a role that may use it
reached it by links, a role that may not gets a 403 page that says so.

Runs on SQLite only: what a page shows does not depend on the database (the flows that
change data run on both, in test_console_press_officer.py and test_console_editor.py).
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from service.campaigns.compose import CampaignForm, create_campaign
from service.db.campaigns import Campaign
from service.db.models import AuditEntry, Bounce, Delivery
from subscribers.models import SubscriberImport
from tests.admin_support import make_user
from tests.campaign_support import add_press, add_subscriber
from tests.e2e._browser import site  # noqa: F401  (fixture)
from tests.e2e._console import axe, log_in, problems_on, shoot
from tests.integration._matching import add_item
from tests.integration._sources import add_source

pytestmark = pytest.mark.browser

ROLES = ("admin", "editor", "press")
MAX_PAGES = 80
# Pages that change state on GET do not exist; these only leave the console or download.
NOT_A_PAGE = re.compile(r"/admin/logout|\.csv(\?|$)")


async def _seed(runtime) -> dict:
    now = runtime.clock.now()
    for role in ROLES:
        await make_user(runtime, f"{role}@raadet.example", role, name=f"Test {role}")
    subs = [await add_subscriber(runtime, f"s{n}@example.org", ("presse", "analyser"), status=st)
            for n, st in enumerate(("active", "pending", "unsubscribed", "blocked"))]
    await add_press(runtime, "tv@dr.example", media_type="broadcast")
    await add_press(runtime, "gone@avis.example", status="bounced")
    await add_press(runtime, "angry@avis.example", status="complained")
    await add_source(runtime, "nyheder", "http://127.0.0.1:9/feed.xml")
    await add_item(runtime, "Ledigheden falder i Aarhus", kind="figures")
    ids = {}
    for kind, status in (("press_release", "failed"), ("press_release", "draft"), ("press_release", "sent"),
                         ("newsletter", "scheduled"), ("newsletter", "cancelled")):
        form = CampaignForm(kind=kind, title=f"{kind} {status}", body_md="Hej {fornavn}\n\n| Kommune | Ledige |\n|---|---|\n| Aarhus | 4.120 |",
                            topics=["analyser"], contact_name="Pia", contact_email="pia@raadet.example")
        async with runtime.db.transaction() as s:
            cid = await create_campaign(s, form, now=now, templates_root=runtime.templates.root)
            c = await s.get(Campaign, cid)
            c.status = status
            if status in ("scheduled", "sent"):
                c.scheduled_at = now + timedelta(days=1) if status == "scheduled" else now - timedelta(hours=2)
            if status == "failed":  # every message refused by the relay (catalogue 35)
                c.started_at = c.public_released_at = now - timedelta(hours=1)
                s.add(Delivery(key=f"campaign:{cid}:press:9", kind=kind, recipient="r9@example.org", campaign_id=cid,
                               params={"part": "press"}, status="failed", attempts=1, next_attempt_at=now,
                               message_id="<c9@x>", created_at=now, last_error="refused at DATA: 554 5.7.1 policy"))
            if status == "sent":
                c.embargo_until, c.started_at, c.sent_at, c.public_released_at = (now - timedelta(hours=1), now - timedelta(hours=2),
                                                                                   now, now - timedelta(hours=1))
                for n, (st, part) in enumerate((("sent", "press"), ("failed", "sub"), ("deferred", "sub"))):
                    s.add(Delivery(key=f"campaign:{cid}:{part}:{n}", kind=kind, recipient=f"r{n}@example.org",
                                   campaign_id=cid, subscriber_id=subs[0] if part == "sub" else None, params={"part": part},
                                   status=st, attempts=1, next_attempt_at=now, message_id=f"<c{n}@x>", created_at=now,
                                   last_error="550 no such user" if st == "failed" else None))
        ids[f"{kind}-{status}"] = cid
    async with runtime.db.transaction() as s:  # a release in the calendar, so its page is reached by a link
        from service.releases.calendar import EntryForm, add_entry

        await add_entry(s, EntryForm("2026M11", ["AUL01", "AUP01"], now + timedelta(days=20),
                                     "Beskæftigelsesrådets kommentar", now + timedelta(days=20, minutes=30)), now)
    async with runtime.db.transaction() as s:
        s.add(Bounce(email="gone@avis.example", kind="hard", diagnostic="550 5.1.1 unknown", received_at=now))
        s.add(Bounce(email="angry@avis.example", kind="complaint", diagnostic="abuse report", received_at=now))
        s.add(AuditEntry(actor="cli:press-import", action="press.import", target="press_contacts", detail={"added": 2}, at=now))
        s.add(SubscriberImport(filename="liste.csv", consent_source="LBR-møde", started_by="admin@raadet.example",
                               status="done", total=3, done=3, added=2, skipped=[{"line": 4, "reason": "er allerede abonnent"}],
                               error="", started_at=now, updated_at=now, finished_at=now))
    return ids


def _pattern(path: str) -> str:
    return re.sub(r"/\d+", "/{id}", path)


async def _crawl(page, site: str, role: str) -> tuple[dict[str, int], list[str]]:
    """Breadth first over the links; one page per route pattern and query shape. Returns
    {path pattern: status} and the problems found."""
    seen_shapes: set[str] = set()
    statuses: dict[str, int] = {}
    problems: list[str] = []
    todo = [f"{site}/admin/"]
    while todo and len(seen_shapes) < MAX_PAGES:
        url = todo.pop(0)
        parts = urlsplit(url)
        shape = _pattern(parts.path) + ("?" + "&".join(sorted(k.split("=")[0] for k in parts.query.split("&"))) if parts.query else "")
        if shape in seen_shapes:
            continue
        seen_shapes.add(shape)
        response = await page.goto(url)
        status = response.status if response else 0
        statuses.setdefault(_pattern(parts.path), status)
        where = f"{role} {parts.path}{'?' + parts.query if parts.query else ''}"
        if status >= 500 or status == 0:
            problems.append(f"{where}: answered {status}")
            continue
        if "text/html" not in (response.headers.get("content-type") or ""):
            continue
        problems += [f"{where}: {p}" for p in await problems_on(page)]
        for frame in page.frames[1:]:  # the preview's sandboxed frame: its mail must be clean too
            if frame.url.startswith(site):
                statuses.setdefault(_pattern(urlsplit(frame.url).path), 200)
        name = "console-" + role + "-" + (re.sub(r"[^a-z0-9]+", "-", (parts.path + "-" + parts.query).lower()).strip("-") or "home")
        wide = await shoot(page, name[:120])
        problems += [f"{where}: wider than a 375 px screen: {w}" for w in wide]
        links = await page.eval_on_selector_all("a[href], iframe[src]", "els => els.map(e => e.href || e.src)")
        for link in links:
            target = urlsplit(link)
            if f"{target.scheme}://{target.netloc}" != site or not target.path.startswith("/admin"):
                continue
            clean = link.split("#")[0]
            if NOT_A_PAGE.search(clean):
                r = await page.request.get(clean) if ".csv" in clean else None
                if r is not None:
                    statuses.setdefault(_pattern(target.path), r.status)
                continue
            todo.append(clean)
    return statuses, problems


@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_every_page_as_every_role(runtime, site, db_kind, tmp_path):
    import shutil

    from playwright.async_api import async_playwright

    from service.web.app import create_app
    from tests.e2e._browser import CHROMIUM

    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")
    ids = await _seed(runtime)
    app = create_app(runtime)
    routes = {}
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or ""
        if route.method == "GET" and path.startswith("/admin/") and path != "/admin/login":
            routes[re.sub(r"\{[^}]+\}", "{id}", path)] = getattr(route.handler, "roles", None)
    concrete = {"/admin/campaigns/{id}": f"/admin/campaigns/{ids['press_release-draft']}",
                "/admin/campaigns/{id}/preview": f"/admin/campaigns/{ids['newsletter-scheduled']}/preview",
                "/admin/campaigns/{id}/preview.html": f"/admin/campaigns/{ids['newsletter-scheduled']}/preview.html"}

    problems: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            for role in ROLES:
                context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
                page = await log_in(context, site, f"{role}@raadet.example")
                statuses, found = await _crawl(page, site, role)
                problems += found
                for pattern, roles in sorted(routes.items()):
                    if roles is None:
                        continue
                    if role in roles:
                        if pattern not in statuses:
                            problems.append(f"{role}: {pattern} is not reached by any link")
                        elif statuses[pattern] != 200:
                            problems.append(f"{role}: {pattern} answered {statuses[pattern]}")
                        continue
                    url = site + concrete.get(pattern, pattern.replace("{id}", "1"))
                    response = await page.goto(url)
                    body = await page.inner_text("body")
                    if response.status != 403 or "Adgang nægtet" not in body or "rolle" not in body:
                        problems.append(f"{role}: {pattern} answered {response.status}, not a 403 page that says so")
                await context.close()
        finally:
            await browser.close()
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_axe_finds_nothing_serious_on_the_main_pages(runtime, site, db_kind):
    import shutil

    from playwright.async_api import async_playwright

    from tests.e2e._browser import CHROMIUM

    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")
    ids = await _seed(runtime)
    sub = 1
    pages = ["/admin/", "/admin/campaigns/new?kind=press_release", f"/admin/campaigns/{ids['press_release-draft']}",
             f"/admin/campaigns/{ids['newsletter-scheduled']}/preview", "/admin/press", "/admin/press/new",
             "/admin/subscribers", f"/admin/subscribers/{sub}", "/admin/subscribers/import"]
    found = {}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            context = await browser.new_context(locale="da-DK", viewport={"width": 1280, "height": 900})
            page = await log_in(context, site, "admin@raadet.example")
            for path in pages:
                await page.goto(site + path)
                for width in (1280, 375):
                    await page.set_viewport_size({"width": width, "height": 900})
                    await page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
                    violations = await axe(page)
                    if violations:
                        found[f"{path} at {width}"] = violations
        finally:
            await browser.close()
    assert found == {}, found
