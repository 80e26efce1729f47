"""The public subscription flows over HTTP, with mail through the send worker to a real
SMTP server (aiosmtpd on loopback), on SQLite and PostgreSQL."""

import re
from datetime import timedelta

from sqlalchemy import func, select

from service.db.models import Delivery, Feedback, Item
from service.delivery.worker import Worker
from subscribers.models import Consent, Subscriber, Suppression
from subscribers.suppression import email_hash

FORM = {"email": "Mette.Hansen@Jobcenter-Aarhus.dk", "name": "Mette Hansen", "topics": ["ledighedstal", "analyser"],
        "municipalities": ["751"], "audience": "jobcenter", "frequency": "immediate", "language": "da",
        "consent": "yes", "website": ""}


async def _csrf(client, path="/"):
    page = await client.get(path)
    assert page.status == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', await page.text()).group(1)


async def _post(client, path, data, token=None):
    token = token or await _csrf(client)
    return await client.post(path, data={**data, "csrf_token": token})


def _link(mail, path):
    text = mail.message.get_body(("plain",)).get_content()
    return re.search(rf"http://127\.0\.0\.1:8080({path}/[^\s]+)", text).group(1)


async def _signup_and_confirm(client, runtime, smtp_server, form=FORM):
    r = await _post(client, "/", form)
    assert r.status == 200 and "Tjek din indbakke" in await r.text()
    await Worker(runtime).drain()
    confirm_path = _link(smtp_server.to(form["email"].lower())[-1], "/confirm")
    r = await client.get(confirm_path)
    assert "Bekræft abonnement" in await r.text()
    r = await _post(client, confirm_path, {}, await _csrf(client, confirm_path))
    assert r.status == 200 and "Velkommen" in await r.text()
    async with runtime.db.reader() as s:
        return await s.scalar(select(Subscriber).where(Subscriber.email == form["email"].lower()))


async def test_signup_confirm_by_post_only_and_welcome(client, runtime, smtp_server, db_kind):
    r = await _post(client, "/", FORM)
    assert r.status == 200
    await Worker(runtime).drain()
    (mail,) = smtp_server.to("mette.hansen@jobcenter-aarhus.dk")
    assert mail.message["Subject"] == "Bekræft dit abonnement"
    assert "List-Unsubscribe" not in mail.message  # nothing to leave yet
    confirm_path = _link(mail, "/confirm")

    # A link scanner follows the link: nothing is confirmed.
    assert (await client.get(confirm_path)).status == 200
    assert (await client.head(confirm_path)).status == 200
    async with runtime.db.reader() as s:
        sub = await s.scalar(select(Subscriber).where(Subscriber.email == "mette.hansen@jobcenter-aarhus.dk"))
        assert sub.status == "pending"

    r = await _post(client, confirm_path, {}, await _csrf(client, confirm_path))
    assert "Velkommen" in await r.text()
    async with runtime.db.reader() as s:
        sub = await s.get(Subscriber, sub.id)
        assert sub.status == "active" and sub.confirmed_at is not None
        consents = (await s.scalars(select(Consent).where(Consent.subscriber_id == sub.id).order_by(Consent.id))).all()
        assert [c.action for c in consents] == ["signup", "confirm"]
        assert consents[1].consent_version == runtime.settings.subscribers.consent_version
        assert consents[1].ip == "127.0.0.1"
    await Worker(runtime).drain()
    assert smtp_server.to("mette.hansen@jobcenter-aarhus.dk")[-1].message["Subject"] == "Velkommen"


async def test_item18_same_answer_for_new_and_known_addresses_and_one_mail_per_window(client, runtime, smtp_server, clock,
                                                                                db_kind):
    await _signup_and_confirm(client, runtime, smtp_server)
    clock.advance(minutes=61)  # past the window of their own confirmation mail
    new = await _post(client, "/", {**FORM, "email": "ny@example.dk"})
    known = await _post(client, "/", FORM)
    assert new.status == known.status == 200
    assert _main(await new.text()) == _main(await known.text())
    for _ in range(5):  # the form posted again and again
        await _post(client, "/", {**FORM, "email": "ny@example.dk"})
        await _post(client, "/", FORM)
    await Worker(runtime).drain()
    assert [m.message["Subject"] for m in smtp_server.to("ny@example.dk")] == ["Bekræft dit abonnement"]
    subjects = [m.message["Subject"] for m in smtp_server.to("mette.hansen@jobcenter-aarhus.dk")]
    assert subjects.count("Dit abonnement") == 1  # the known address got a "manage" mail, once
    clock.advance(minutes=61)
    await _post(client, "/", {**FORM, "email": "ny@example.dk"})
    await Worker(runtime).drain()
    assert len(smtp_server.to("ny@example.dk")) == 2


def _main(html: str) -> str:
    return re.search(r"<main.*?</main>", html, re.S).group(0)


async def test_errors_next_to_the_field_and_honeypot(client, runtime, smtp_server, db_kind):
    r = await _post(client, "/", {**FORM, "email": "ikke en adresse", "topics": [], "consent": ""})
    assert r.status == 400
    html = await r.text()
    assert "Det ligner ikke en e-mailadresse" in html and "Vælg mindst ét emne" in html
    assert 'value="ikke en adresse"' in html  # what was typed is kept
    r = await _post(client, "/", {**FORM, "email": "bot@example.dk", "website": "http://spam.example"})
    assert r.status == 200 and "Tjek din indbakke" in await r.text()
    await Worker(runtime).drain()
    assert smtp_server.to("bot@example.dk") == []
    async with runtime.db.reader() as s:
        assert await s.scalar(select(func.count()).select_from(Subscriber)) == 0


async def test_item18_per_ip_signup_limit(client, runtime, smtp_server, db_kind):
    runtime.settings.web.signup_per_ip_per_hour = 3
    token = await _csrf(client)
    codes = [(await _post(client, "/", {**FORM, "email": f"a{n}@example.dk"}, token)).status for n in range(5)]
    assert codes == [200, 200, 200, 429, 429]


async def test_item22_forged_altered_expired_and_wrong_purpose_tokens_over_http(client, runtime, smtp_server, clock, db_kind):
    sub = await _signup_and_confirm(client, runtime, smtp_server)
    links = runtime.links
    good = links.unsubscribe(sub.id, sub.token_version).split("/unsubscribe/")[1]
    assert (await client.get(f"/unsubscribe/{good}")).status == 200
    altered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    other_purpose = links.preferences(sub.id, sub.token_version).split("/preferences/")[1]
    for bad in (altered, other_purpose, "x", "a.b", good.replace(".", "..")):
        r = await client.get(f"/unsubscribe/{bad}")
        assert r.status == 400, bad
        assert "Linket virker ikke" in await r.text()
    # A token for a subscriber who does not exist
    r = await client.get(links.unsubscribe(sub.id + 999, 1).replace("http://127.0.0.1:8080", ""))
    assert r.status == 404
    # Expired confirmation link: offers a new one, which arrives
    r = await _post(client, "/", {**FORM, "email": "sen@example.dk"})
    await Worker(runtime).drain()
    confirm_path = _link(smtp_server.to("sen@example.dk")[-1], "/confirm")
    clock.advance(days=8)
    r = await client.get(confirm_path)
    assert r.status == 410 and "Send et nyt link" in await r.text()
    await _post(client, f"{confirm_path}/resend", {})
    await Worker(runtime).drain()
    assert len(smtp_server.to("sen@example.dk")) == 2
    # Nothing at all changed for the first subscriber
    async with runtime.db.reader() as s:
        assert (await s.get(Subscriber, sub.id)).status == "active"


async def test_item16_one_click_unsubscribe_without_cookies_is_idempotent_and_stops_the_next_send(client, runtime, smtp_server, db_kind):
    sub = await _signup_and_confirm(client, runtime, smtp_server)
    await Worker(runtime).drain()
    # An alert is queued for them, then they one-click in their mail program.
    from service.delivery.outbox import enqueue

    async with runtime.db.transaction() as s:
        queued = await enqueue(s, key="notice:1", kind="notice", recipient=sub.email, subscriber_id=sub.id,
                               now=runtime.clock.now(), domain="budbringer.example", params={"subject": "Nyt"})
    path = runtime.links.unsubscribe(sub.id, sub.token_version).replace("http://127.0.0.1:8080", "")
    client.session.cookie_jar.clear()
    for _ in range(2):  # idempotent
        r = await client.post(path, data="List-Unsubscribe=One-Click",
                              headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://mail.example"})
        assert r.status == 200
    before = len(smtp_server.to(sub.email))
    await Worker(runtime).drain()
    assert len(smtp_server.to(sub.email)) == before
    async with runtime.db.reader() as s:
        assert (await s.get(Subscriber, sub.id)).status == "unsubscribed"
        assert (await s.get(Delivery, queued)).status == "cancelled"
        unsubscribes = await s.scalar(select(func.count()).select_from(Consent)
                                      .where(Consent.subscriber_id == sub.id, Consent.action == "unsubscribe"))
        assert unsubscribes == 1
    # The page still answers politely afterwards.
    assert "allerede afmeldt" in await (await client.get(path)).text()


async def test_unsubscribe_from_one_topic_keeps_the_rest(client, runtime, smtp_server, db_kind):
    sub = await _signup_and_confirm(client, runtime, smtp_server)
    path = runtime.links.unsubscribe(sub.id, sub.token_version, "analyser").replace("http://127.0.0.1:8080", "")
    page = await (await client.get(path)).text()
    assert "Analyser og overvågning" in page
    r = await _post(client, path, {"scope": "topic"}, await _csrf(client, path))
    assert "Emnet er afmeldt" in await r.text()
    async with runtime.db.reader() as s:
        from subscribers.models import Topic, subscriber_topics

        left = set(await s.scalars(select(Topic.slug).join(subscriber_topics, subscriber_topics.c.topic_id == Topic.id)
                                   .where(subscriber_topics.c.subscriber_id == sub.id)))
        assert left == {"ledighedstal"} and (await s.get(Subscriber, sub.id)).status == "active"


async def test_preferences_change_and_email_change_only_after_confirming(client, runtime, smtp_server, db_kind):
    sub = await _signup_and_confirm(client, runtime, smtp_server)
    path = runtime.links.preferences(sub.id, sub.token_version).replace("http://127.0.0.1:8080", "")
    page = await (await client.get(path)).text()
    assert 'value="751" checked' in page
    r = await _post(client, path, {**FORM, "topics": ["best-practice"], "municipalities": ["791", "740"],
                                   "frequency": "weekly", "language": "en"}, await _csrf(client, path))
    assert r.status == 200 and "Your choices are saved" in await r.text()
    async with runtime.db.reader() as s:
        changed = await s.get(Subscriber, sub.id)
        assert (changed.frequency, changed.language) == ("weekly", "en")

    r = await _post(client, f"{path}/email", {"new_email": "Mette@Ny-Adresse.dk"}, await _csrf(client, path))
    assert r.status == 200
    await Worker(runtime).drain()
    async with runtime.db.reader() as s:
        assert (await s.get(Subscriber, sub.id)).email == "mette.hansen@jobcenter-aarhus.dk"  # not yet
    (mail,) = smtp_server.to("mette@ny-adresse.dk")
    change_path = _link(mail, "/confirm-email")
    assert (await client.get(change_path)).status == 200  # a scanner changes nothing
    async with runtime.db.reader() as s:
        assert (await s.get(Subscriber, sub.id)).email == "mette.hansen@jobcenter-aarhus.dk"
    r = await _post(client, change_path, {}, await _csrf(client, change_path))
    assert "Din adresse er skiftet" in await r.text()
    async with runtime.db.reader() as s:
        assert (await s.get(Subscriber, sub.id)).email == "mette@ny-adresse.dk"


async def test_feedback_is_recorded_only_by_the_button(client, runtime, smtp_server, db_kind):
    sub = await _signup_and_confirm(client, runtime, smtp_server)
    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        item = Item(kind="analysis", title="Analyse af ungeledigheden", content_hash="x", published_at=now,
                    created_at=now, updated_at=now)
        s.add(item)
        await s.flush()
        item_id = item.id
    path = runtime.links.feedback(sub.id, sub.token_version, item_id, True).replace("http://127.0.0.1:8080", "")
    page = await client.get(path)
    assert "Analyse af ungeledigheden" in await page.text()
    async with runtime.db.reader() as s:
        assert await s.scalar(select(func.count()).select_from(Feedback)) == 0
    await _post(client, path, {}, await _csrf(client, path))
    no = runtime.links.feedback(sub.id, sub.token_version, item_id, False).replace("http://127.0.0.1:8080", "")
    await _post(client, no, {}, await _csrf(client, no))  # changed their mind: one answer, the last
    async with runtime.db.reader() as s:
        rows = (await s.scalars(select(Feedback))).all()
        assert [(r.item_id, r.useful) for r in rows] == [(item_id, False)]


async def test_item24_export_goes_to_the_confirmed_address_and_erase_leaves_only_a_hash(client, runtime, smtp_server, db_kind):
    import json

    from subscribers.lifecycle import erase

    other = await _signup_and_confirm(client, runtime, smtp_server, {**FORM, "email": "anden@example.dk"})
    sub = await _signup_and_confirm(client, runtime, smtp_server)
    path = runtime.links.preferences(sub.id, sub.token_version).replace("http://127.0.0.1:8080", "")
    await _post(client, f"{path}/export", {}, await _csrf(client, path))
    await Worker(runtime).drain()
    mail = smtp_server.to(sub.email)[-1].message
    assert mail["To"] == sub.email
    (attachment,) = [p for p in mail.iter_attachments()]
    data = json.loads(attachment.get_content())
    assert data["email"] == sub.email and data["municipalities"] == ["Aarhus"]
    assert "anden@example.dk" not in json.dumps(data)
    assert {c["action"] for c in data["consents"]} == {"signup", "confirm"}

    async with runtime.db.transaction() as s:
        assert await erase(s, sub.id, now=runtime.clock.now(), by="test")
    async with runtime.db.reader() as s:
        assert await s.get(Subscriber, sub.id) is None
        assert await s.scalar(select(func.count()).select_from(Consent).where(Consent.subscriber_id == sub.id)) == 0
        recipients = set(await s.scalars(select(Delivery.recipient).where(Delivery.subscriber_id.is_(None))))
        assert sub.email not in recipients
        hashes = set(await s.scalars(select(Suppression.email_hash)))
        assert email_hash(sub.email) in hashes
        assert (await s.get(Subscriber, other.id)).status == "active"
    # Signing up again with the erased address sends nothing, and says the same as always.
    r = await _post(client, "/", FORM)
    assert "Tjek din indbakke" in await r.text()
    before = len(smtp_server.to(sub.email))
    await Worker(runtime).drain()
    assert len(smtp_server.to(sub.email)) == before


async def test_item16_get_and_head_change_nothing_on_an_active_subscribers_links(client, runtime, smtp_server, db_kind):
    sub = await _signup_and_confirm(client, runtime, smtp_server)
    links = runtime.links
    urls = [links.unsubscribe(sub.id, sub.token_version), links.unsubscribe(sub.id, sub.token_version, "analyser"),
            links.preferences(sub.id, sub.token_version), links.confirm(sub.id, sub.token_version)]
    for url in urls:
        path = url.replace("http://127.0.0.1:8080", "")
        assert (await client.get(path)).status == 200
        assert (await client.head(path)).status == 200
    async with runtime.db.reader() as s:
        assert (await s.get(Subscriber, sub.id)).status == "active"
        assert await s.scalar(select(func.count()).select_from(Consent).where(Consent.subscriber_id == sub.id)) == 2


async def test_confirmation_link_mail_is_not_sent_to_a_suppressed_address(client, runtime, smtp_server, db_kind):
    from subscribers.suppression import suppress

    async with runtime.db.transaction() as s:
        await suppress(s, "bounced@example.dk", reason="hard_bounce", now=runtime.clock.now() - timedelta(days=1))
    r = await _post(client, "/", {**FORM, "email": "Bounced@Example.dk"})
    assert "Tjek din indbakke" in await r.text()
    await Worker(runtime).drain()
    assert smtp_server.to("bounced@example.dk") == []
