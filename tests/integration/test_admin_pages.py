"""Each admin page's main action over HTTP on the real app, on both databases: what an
admin would click and then check on the page or in the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import insert, select

from service.db.models import AuditEntry, Delivery, Feedback, Item, Source, item_topics
from service.db.reference import Topic
from subscribers.models import Consent, Subscriber, subscriber_municipalities
from tests.admin_support import csrf, log_in, new_client, staff_client
from tests.campaign_support import add_subscriber
from tests.integration._sources import FeedServer


@pytest.fixture
async def admin(runtime):
    c = await staff_client(runtime)
    try:
        yield c
    finally:
        await c.close()


async def _audit_actions(runtime) -> list[str]:
    async with runtime.db.reader() as s:
        return list((await s.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all())


async def _delivery(runtime, n: int, status: str, *, sub_id=None, item_id=None, error=None, age=timedelta(0)) -> int:
    now = runtime.clock.now() - age
    async with runtime.db.transaction() as s:
        d = Delivery(key=f"t:{n}", kind="alert", recipient=f"r{n}@example.org", subscriber_id=sub_id, item_id=item_id,
                     status=status, attempts=3 if status == "failed" else 1, next_attempt_at=now, last_error=error,
                     message_id=f"<{n}@budbringer.example>", created_at=now, sent_at=now if status == "sent" else None)
        s.add(d)
        await s.flush()
        return d.id


async def test_dashboard_numbers_chart_feedback_and_retry(runtime, admin, db_kind):
    sub = await add_subscriber(runtime, "aarhus@example.org", ("analyser",))
    async with runtime.db.transaction() as s:
        await s.execute(insert(subscriber_municipalities).values(subscriber_id=sub, municipality_code="751"))
        now = runtime.clock.now()
        item = Item(kind="analysis", title="Ledighed <b>i</b> Aarhus", content_hash="x", published_at=now, created_at=now,
                    updated_at=now)
        s.add(item)
        await s.flush()
        tid = await s.scalar(select(Topic.id).where(Topic.slug == "analyser"))
        await s.execute(insert(item_topics).values(item_id=item.id, topic_id=tid))
        s.add_all([Feedback(item_id=item.id, subscriber_id=sub, useful=True, at=now),
                   Feedback(item_id=item.id, subscriber_id=None, useful=False, at=now)])
    for n in range(3):
        await _delivery(runtime, n, "sent")
    await _delivery(runtime, 3, "sent", age=timedelta(days=3))
    await _delivery(runtime, 4, "queued")
    failed = await _delivery(runtime, 5, "failed", error="550 5.1.1 <script>alert(1)</script> unknown user")

    page = await (await admin.get("/admin/")).text()
    assert '<span class="big" id="sent-day">3</span>' in page
    assert '<span class="big" id="sent-week">4</span>' in page
    assert '<span class="big" id="failed-day">1</span>' in page
    assert '<span class="big" id="queue-total">1</span>' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "Ledighed &lt;b&gt;i&lt;/b&gt; Aarhus" in page
    # Aarhus has the only subscriber with a municipality: the full bar; the feedback split is 50 %.
    muni = page[page.index('id="chart-municipalities"'):]
    assert "<th scope=\"row\">Aarhus</th><td class=\"num\">1</td><td class=\"barcell\"><span class=\"bar w100\"" in muni
    feedback = page[page.index('id="chart-feedback"'):]
    assert '<td class="num">1</td><td class="num">1</td><td class="num">50 %</td>' in feedback

    r = await admin.post("/admin/deliveries/retry", data={"csrf_token": csrf(admin)}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/admin/?ok=retried&n=1"
    assert "1 fejlede forsendelser er sat i kø igen." in await (await admin.get(r.headers["Location"])).text()
    async with runtime.db.reader() as s:
        d = await s.get(Delivery, failed)
    assert (d.status, d.attempts) == ("queued", 0)
    assert "delivery.retry" in await _audit_actions(runtime)


async def test_topics_add_rename_order_retire(runtime, admin, db_kind):
    t = csrf(admin)
    r = await admin.post("/admin/topics", data={"csrf_token": t, "slug": "ungeindsats", "name_da": "Ungeindsats",
                                                "name_en": "Youth", "position": "1"}, allow_redirects=False)
    assert r.status == 303
    async with runtime.db.reader() as s:
        topic = await s.scalar(select(Topic).where(Topic.slug == "ungeindsats"))
    r = await admin.post(f"/admin/topics/{topic.id}", data={
        "csrf_token": t, "name_da": "Unge under 30", "name_en": "Young people", "description_da": "Om unge",
        "description_en": "About the young", "position": "2", "action": "save"}, allow_redirects=False)
    assert r.status == 303
    r = await admin.post(f"/admin/topics/{topic.id}", data={"csrf_token": t, "name_da": "x", "name_en": "x", "action": "retire"},
                         allow_redirects=False)
    page = await (await admin.get("/admin/topics")).text()
    assert "Unge under 30" in page and "Udgået" in page
    async with runtime.db.reader() as s:
        topic = await s.get(Topic, topic.id)
    assert (topic.name_en, topic.description_da, topic.position, topic.retired) == ("Young people", "Om unge", 2, True)
    r = await admin.post("/admin/topics", data={"csrf_token": t, "slug": "Ikke Gyldig", "name_da": "A", "name_en": "B"})
    assert r.status == 422 and "små bogstaver" in await r.text()
    assert [a for a in await _audit_actions(runtime) if a.startswith("topic.")] == ["topic.add", "topic.edit", "topic.retire"]


async def test_subscriber_search_detail_edit_block(runtime, admin, db_kind):
    a = await add_subscriber(runtime, "anna@jobcenter.example", ("analyser",))
    await add_subscriber(runtime, "bo@firma.example", ("retningslinjer",), status="pending")
    async with runtime.db.transaction() as s:
        (await s.get(Subscriber, a)).name = "<script>alert(1)</script>"
        await s.execute(insert(subscriber_municipalities).values(subscriber_id=a, municipality_code="751"))
    await _delivery(runtime, 1, "sent", sub_id=a)

    page = await (await admin.get("/admin/subscribers?q=jobcenter")).text()
    assert "anna@jobcenter.example" in page and "bo@firma.example" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    page = await (await admin.get("/admin/subscribers?status=pending")).text()
    assert "bo@firma.example" in page and "anna@" not in page
    page = await (await admin.get("/admin/subscribers?topic=analyser&municipality=751")).text()
    assert "anna@jobcenter.example" in page and '<p id="result-count">1 abonnent</p>' in page
    page = await (await admin.get("/admin/subscribers?municipality=101")).text()
    assert '<p id="result-count">0 abonnenter</p>' in page

    detail = await (await admin.get(f"/admin/subscribers/{a}")).text()
    assert "<h2>Forsendelser</h2>" in detail and ">Sendt<" in detail and ">sent<" not in detail
    r = await admin.post(f"/admin/subscribers/{a}", data={
        "csrf_token": csrf(admin), "name": "Anna Jensen", "organisation": "Jobcenter Aarhus", "language": "en",
        "frequency": "weekly", "topics": ["analyser", "retningslinjer"], "municipalities": ["751", "730"]},
        allow_redirects=False)
    assert r.status == 303
    detail = await (await admin.get(f"/admin/subscribers/{a}")).text()
    assert "Anna Jensen" in detail and "admin:admin@raadet.example" in detail  # the consent history shows the change
    async with runtime.db.reader() as s:
        sub = await s.get(Subscriber, a)
        codes = set((await s.scalars(select(subscriber_municipalities.c.municipality_code)
                                     .where(subscriber_municipalities.c.subscriber_id == a))).all())
        consent = await s.scalar(select(Consent).where(Consent.subscriber_id == a, Consent.action == "change"))
    assert (sub.language, sub.frequency, codes) == ("en", "weekly", {"751", "730"})
    assert consent is not None and consent.source == "admin:admin@raadet.example"

    r = await admin.post(f"/admin/subscribers/{a}/block", data={"csrf_token": csrf(admin), "action": "block"},
                         allow_redirects=False)
    assert r.status == 303
    async with runtime.db.reader() as s:
        assert (await s.get(Subscriber, a)).status == "blocked"
    assert {"subscriber.edit", "subscriber.block"} <= set(await _audit_actions(runtime))


@pytest.fixture
async def feeds():
    server = FeedServer()
    async with TestServer(server.app(), host="127.0.0.1") as ts:
        server.url = lambda path: str(ts.make_url(path))
        yield server


async def test_sources_add_test_fetch_poll_disable(runtime, admin, feeds, db_kind):
    feeds.serve("/nyheder.rss", "nyheder.rss.xml")
    t = csrf(admin)
    r = await admin.post("/admin/sources", data={"csrf_token": t, "slug": "nyheder", "name": "Nyheder", "kind": "feed",
                                                 "url": feeds.url("/nyheder.rss"), "item_kind": "analysis",
                                                 "interval_minutes": "30"}, allow_redirects=False)
    assert r.status == 303
    sid = int(r.headers["Location"].split("?")[0].rsplit("/", 1)[1])

    page = await (await admin.post(f"/admin/sources/{sid}/test", data={"csrf_token": t})).text()
    assert "Analyserapport 2026: Mangel på faglært arbejdskraft i Vestjylland" in page
    async with runtime.db.reader() as s:
        assert (await s.scalars(select(Item))).all() == []  # a test fetch saves nothing

    page = await (await admin.post(f"/admin/sources/{sid}/poll", data={"csrf_token": t})).text()
    assert "6 nye, 0 opdaterede, 0 uændrede nyheder." in page
    listing = await (await admin.get("/admin/sources")).text()
    assert "I orden" in listing

    r = await admin.post(f"/admin/sources/{sid}", data={"csrf_token": t, "name": "Nyheder", "kind": "feed",
                                                         "url": "javascript:alert(1)", "item_kind": "analysis",
                                                         "interval_minutes": "30"})
    assert r.status == 422 and "https://" in await r.text()
    r = await admin.post(f"/admin/sources/{sid}/enabled", data={"csrf_token": t, "action": "disable"}, allow_redirects=False)
    assert r.status == 303
    async with runtime.db.reader() as s:
        assert (await s.get(Source, sid)).enabled is False
    assert [a for a in await _audit_actions(runtime) if a.startswith("source.")] == ["source.add", "source.poll", "source.disable"]


async def test_users_admin_adds_a_press_officer_and_audit_log_shows_it(runtime, admin, db_kind):
    r = await admin.post("/admin/users", data={"csrf_token": csrf(admin), "email": "Pia@Raadet.example", "name": "Pia",
                                               "role": "press", "password": "kort"})
    assert r.status == 422 and "mindst 10 tegn" in await r.text()
    r = await admin.post("/admin/users", data={"csrf_token": csrf(admin), "email": "Pia@Raadet.example", "name": "Pia",
                                               "role": "press", "password": "langt-nok-kodeord"}, allow_redirects=False)
    assert r.status == 303
    page = await (await admin.get("/admin/users")).text()
    assert "pia@raadet.example" in page
    # The only admin may not demote themself.
    r = await admin.post("/admin/users/1", data={"csrf_token": csrf(admin), "role": "editor", "active": "1"})
    assert r.status == 409 and "mindst én aktiv administrator" in await r.text()
    log = await (await admin.get("/admin/audit?q=user.add")).text()
    assert "admin@raadet.example" in log and "user.add" in log and "pia@raadet.example" in log

    # Deactivating Pia ends the session she has open; she cannot log in again.
    pia = await new_client(runtime)
    try:
        assert (await log_in(pia, "pia@raadet.example", "langt-nok-kodeord")).status == 303
        assert (await pia.get("/admin/press")).status == 200
        r = await admin.post("/admin/users/2", data={"csrf_token": csrf(admin), "role": "press", "name": "Pia"},
                             allow_redirects=False)
        assert r.status == 303
        r = await pia.get("/admin/press", allow_redirects=False)
        assert r.status == 303 and r.headers["Location"].startswith("/admin/login")
        assert (await log_in(pia, "pia@raadet.example", "langt-nok-kodeord")).status == 401
    finally:
        await pia.close()
