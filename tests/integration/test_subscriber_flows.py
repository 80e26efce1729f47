"""The public subscription flows over HTTP, with mail through the send worker to a real
SMTP server (aiosmtpd on loopback), on SQLite and PostgreSQL."""

import asyncio
import re
from datetime import timedelta

from sqlalchemy import func, select

from service.db.models import Delivery, Feedback
from service.delivery.worker import Worker
from service.db.reference import Topic
from subscribers.models import Consent, Subscriber, Suppression, subscriber_topics
from subscribers.suppression import email_hash
from tests.integration._matching import add_item
from tests.integration._snapshot import changed, rows_mentioning, snapshot

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
        from service.db.reference import Topic
        from subscribers.models import subscriber_topics

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
    item_id = await add_item(runtime, "Analyse af ungeledigheden", kind="analysis", topics=())
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


# ------------------------------------------------------------------ catalogue gaps (16, 18, 22, 24)


def _path(url: str) -> str:
    return url.replace("http://127.0.0.1:8080", "")


async def test_item16_get_and_head_on_every_mailed_link_change_nothing(client, runtime, smtp_server, db_kind):
    """What a link scanner or a mail program's preview does: every link any mail carries, in
    every state it is mailed in (a pending confirmation, an address change, feedback buttons),
    opened with GET and HEAD. No row anywhere changes and no mail goes out."""
    sub = await _signup_and_confirm(client, runtime, smtp_server)
    await _post(client, "/", {**FORM, "email": "venter@example.dk"})  # stays pending
    path = _path(runtime.links.preferences(sub.id, sub.token_version))
    await _post(client, f"{path}/email", {"new_email": "ny-adresse@example.dk"}, await _csrf(client, path))
    item_id = await add_item(runtime, "Analyse", kind="analysis", topics=())
    await Worker(runtime).drain()
    links = runtime.links
    paths = [
        _link(smtp_server.to("venter@example.dk")[-1], "/confirm"),  # pending: GET must not confirm
        _link(smtp_server.to("ny-adresse@example.dk")[-1], "/confirm-email"),  # must not switch the address
        _path(links.confirm(sub.id, sub.token_version)),
        _path(links.unsubscribe(sub.id, sub.token_version)),
        _path(links.unsubscribe(sub.id, sub.token_version, "analyser")),
        path,
        _path(links.feedback(sub.id, sub.token_version, item_id, True)),
        _path(links.feedback(sub.id, sub.token_version, item_id, False)),
    ]
    mails = len(smtp_server.received)
    before = await snapshot(runtime)
    client.session.cookie_jar.clear()  # a scanner has no cookies either
    for p in paths:
        for method in ("GET", "HEAD"):
            r = await client.request(method, p, allow_redirects=False)
            assert r.status == 200, (method, p, r.status)
    await Worker(runtime).drain()
    assert changed(before, await snapshot(runtime)) == {}
    assert len(smtp_server.received) == mails


def _answer(html: str) -> str:
    """The page without the CSRF token (a fresh cookie gets a fresh token)."""
    return re.sub(r'name="csrf_token" value="[^"]+"', "", html)


async def test_item18_a_hundred_signups_for_one_victim_give_one_mail_per_window_and_the_same_answer(
        client, runtime, smtp_server, clock, db_kind):
    runtime.settings.web.signup_per_ip_per_hour = 1000  # the per-IP limit is not what is tested here
    victim = "offer@example.dk"
    token = await _csrf(client)

    async def bomb():
        rs = await asyncio.gather(*(_post(client, "/", {**FORM, "email": victim}, token) for _ in range(100)))
        return [(r.status, _answer(await r.text())) for r in rs]

    fresh = await _post(client, "/", {**FORM, "email": "helt-ny@example.dk"}, token)
    reference = (fresh.status, _answer(await fresh.text()))
    assert reference[0] == 200 and "Tjek din indbakke" in reference[1]

    answers = await bomb()  # all at once, while the address is new
    assert {a for a in answers} == {reference}
    await Worker(runtime).drain()
    assert len(smtp_server.to(victim)) == 1
    async with runtime.db.reader() as s:
        assert await s.scalar(select(func.count()).select_from(Subscriber).where(Subscriber.email == victim)) == 1

    clock.advance(minutes=30)  # the same window: a second round of 100 sends nothing
    assert {a for a in await bomb()} == {reference}
    await Worker(runtime).drain()
    assert len(smtp_server.to(victim)) == 1

    clock.advance(minutes=31)  # a new window: at most one more
    assert {a for a in await bomb()} == {reference}
    await Worker(runtime).drain()
    assert len(smtp_server.to(victim)) == 2


async def test_item18_the_answer_never_tells_who_is_subscribed(client, runtime, smtp_server, db_kind):
    """New, pending, active, unsubscribed, suppressed and blocked addresses: the same status and page."""
    from subscribers.suppression import suppress

    active = await _signup_and_confirm(client, runtime, smtp_server)
    await _post(client, "/", {**FORM, "email": "venter@example.dk"})
    for email, status in (("gaaet@example.dk", "unsubscribed"), ("spaerret@example.dk", "blocked")):
        await _post(client, "/", {**FORM, "email": email})
        async with runtime.db.transaction() as s:
            row = await s.scalar(select(Subscriber).where(Subscriber.email == email))
            row.status = status
    async with runtime.db.transaction() as s:
        await suppress(s, "klaget@example.dk", reason="complaint", now=runtime.clock.now())
    token = await _csrf(client)
    answers = {}
    for email in ("aldrig-set@example.dk", "venter@example.dk", active.email, "gaaet@example.dk",
                  "klaget@example.dk", "spaerret@example.dk"):
        r = await _post(client, "/", {**FORM, "email": email}, token)
        answers[email] = (r.status, _answer(await r.text()))
    assert len(set(answers.values())) == 1, {k: v[0] for k, v in answers.items()}


def _hypothesis_tokens(good: str, purpose: str, n: int) -> list[str]:
    """`n` altered versions of `good`, drawn by hypothesis (a byte changed, inserted or dropped)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    out: list[str] = []

    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(at=st.integers(0, len(good) - 1), edit=st.sampled_from(["replace", "insert", "delete"]),
           ch=st.sampled_from("ABCabc019-_.=%~"))
    def draw(at, edit, ch):
        altered = {"replace": good[:at] + ch + good[at + 1:], "insert": good[:at] + ch + good[at:],
                   "delete": good[:at] + good[at + 1:]}[edit]
        if altered != good and altered.strip("."):
            out.append(altered)

    draw()
    return out


async def test_item22_generated_bad_tokens_are_refused_on_every_link_and_change_nothing(
        client, runtime, smtp_server, clock, db_kind):
    """Altered (hypothesis), wrong-purpose, other-subscriber, revoked and expired tokens in
    every kind of mailed link, GET and POST: always refused (400, or 410 when only too
    old), and the database is as it was."""
    from urllib.parse import quote, unquote

    from subscribers.links import CONFIRM, EMAIL_CHANGE, FEEDBACK, MANAGE, UNSUBSCRIBE

    me = await _signup_and_confirm(client, runtime, smtp_server)
    other = await _signup_and_confirm(client, runtime, smtp_server, {**FORM, "email": "anden@example.dk"})
    item_id = await add_item(runtime, "Analyse", kind="analysis", topics=())
    links, signer = runtime.links, runtime.links.signer
    genuine = {  # purpose -> (a real link of that kind for `me`, extra POST paths after it)
        CONFIRM: (links.confirm(me.id, me.token_version), []),
        MANAGE: (links.preferences(me.id, me.token_version), ["/email", "/export"]),
        UNSUBSCRIBE: (links.unsubscribe(me.id, me.token_version, "analyser"), []),
        FEEDBACK: (links.feedback(me.id, me.token_version, item_id, True), []),
        EMAIL_CHANGE: (links.email_change(me.id, me.token_version, "0" * 64), []),
    }
    cases: list[tuple[str, str, str, int]] = []  # (path, suffixes' purpose, kind, expected status)
    for purpose, (url, _) in genuine.items():
        path = _path(url)
        assert (await client.get(path)).status == 200, path  # the genuine link works: the route is right
        segment = next(seg for seg in path.split("/") if "." in seg)
        good = unquote(segment)
        extra = signer.read(good, purpose).extra
        day = timedelta(days=1)

        def swap(token: str, path=path, segment=segment) -> str:
            return path.replace(segment, quote(token, safe=""), 1)

        cases += [(swap(t), purpose, "altered", 400) for t in _hypothesis_tokens(good, purpose, 12)]
        wrong = next(p for p in genuine if p != purpose)
        theirs = signer.make(purpose, other.id, other.token_version, day, extra)
        cases += [
            (swap(signer.make(wrong, me.id, me.token_version, day, extra)), purpose, "other purpose", 400),
            (swap(good.split(".")[0] + "." + theirs.split(".")[1]), purpose, "other subscriber's signature", 400),
            (swap(signer.make(purpose, me.id, me.token_version + 1, day, extra)), purpose, "revoked", 400),
            (swap(signer.make(purpose, me.id, me.token_version, timedelta(seconds=1), extra)), purpose, "expired", 410),
        ]
    clock.advance(seconds=5)
    await Worker(runtime).drain()
    mails = len(smtp_server.received)
    before = await snapshot(runtime)
    token = await _csrf(client)
    for path, purpose, kind, status in cases:
        r = await client.get(path, allow_redirects=False)
        assert r.status == status, (kind, path, r.status)
        for suffix in ["", *genuine[purpose][1]]:
            r = await client.post(path + suffix, data={**FORM, "new_email": "x@example.dk", "csrf_token": token},
                                  allow_redirects=False)
            assert r.status == status, (kind, path + suffix, r.status)
    await Worker(runtime).drain()
    assert changed(before, await snapshot(runtime)) == {}
    assert len(smtp_server.received) == mails
    assert len([c for c in cases if c[2] == "altered"]) >= 40


async def test_item24_export_goes_only_to_the_confirmed_address_even_during_an_address_change(
        client, runtime, smtp_server, db_kind):
    import json

    sub = await _signup_and_confirm(client, runtime, smtp_server)
    path = _path(runtime.links.preferences(sub.id, sub.token_version))
    await _post(client, f"{path}/email", {"new_email": "ikke-bekraeftet@example.dk"}, await _csrf(client, path))
    await Worker(runtime).drain()
    before = len(smtp_server.received)
    r = await _post(client, f"{path}/export", {"email": "angriber@example.dk"}, await _csrf(client, path))
    assert r.status == 200
    await Worker(runtime).drain()
    new = smtp_server.received[before:]
    assert [m.rcpt_tos for m in new] == [[sub.email]]  # one mail, to the confirmed address only
    (attachment,) = list(new[0].message.iter_attachments())
    data = json.loads(attachment.get_content())
    assert data["email"] == sub.email and "angriber@example.dk" not in json.dumps(data)


async def test_item24_erasure_leaves_only_the_hashed_suppression_entry(client, runtime, smtp_server, db_kind):
    """After erasure the address, the name and the organisation are in no row of any table;
    what is left is the suppression entry, which holds only the hash."""
    from subscribers.lifecycle import erase

    form = {**FORM, "name": "Birthe Særnavn", "organisation": "Jobcenter Ølgod"}
    sub = await _signup_and_confirm(client, runtime, smtp_server, form)
    other = await _signup_and_confirm(client, runtime, smtp_server, {**FORM, "email": "anden@example.dk"})
    path = _path(runtime.links.preferences(sub.id, sub.token_version))
    await _post(client, f"{path}/export", {}, await _csrf(client, path))  # leaves a delivery row behind
    await _post(client, f"{path}/email", {"new_email": "Birthe.Ny@Example.dk"}, await _csrf(client, path))
    now = runtime.clock.now()
    item_id = await add_item(runtime, "Analyse", kind="analysis", topics=())
    async with runtime.db.transaction() as s:
        s.add(Feedback(item_id=item_id, subscriber_id=sub.id, useful=True, at=now))
    await Worker(runtime).drain()
    needles = (sub.email, "birthe.ny@example.dk", "Birthe Særnavn", "Jobcenter Ølgod")
    assert await rows_mentioning(runtime, *needles)  # the search finds them while they are there

    async with runtime.db.transaction() as s:
        assert await erase(s, sub.id, now=runtime.clock.now(), by="test")
    assert await rows_mentioning(runtime, *needles) == []
    async with runtime.db.reader() as s:
        assert await s.get(Subscriber, sub.id) is None
        (entry,) = (await s.scalars(select(Suppression).where(Suppression.email_hash == email_hash(sub.email)))).all()
        assert entry.reason == "erased"
        assert await s.get(Subscriber, other.id) is not None  # the other subscriber is untouched
    assert await rows_mentioning(runtime, "anden@example.dk")


async def test_a_resignup_after_leaving_waits_for_the_window_and_then_starts_afresh(client, runtime, smtp_server, clock,
                                                                                   db_kind):
    sub = await _signup_and_confirm(client, runtime, smtp_server)
    from subscribers.lifecycle import unsubscribe

    async with runtime.db.transaction() as s:
        await unsubscribe(s, sub.id, clock.now())
    # Within the hour of their confirmation mail: the same page, and nothing changes (no mail,
    # no new choices, still unsubscribed; before, they were left pending with the old choices).
    r = await _post(client, "/", {**FORM, "topics": ["retningslinjer"]})
    assert "Tjek din indbakke" in await r.text()
    await Worker(runtime).drain()
    # (Their welcome mail was still queued when they left: it was cancelled, not sent.)
    assert [m.message["Subject"] for m in smtp_server.to(sub.email)] == ["Bekræft dit abonnement"]
    async with runtime.db.reader() as s:
        assert await s.scalar(select(Subscriber.status).where(Subscriber.id == sub.id)) == "unsubscribed"

    clock.advance(minutes=61)
    r = await _post(client, "/", {**FORM, "topics": ["retningslinjer"]})
    await Worker(runtime).drain()
    assert smtp_server.to(sub.email)[-1].message["Subject"] == "Bekræft dit abonnement"
    async with runtime.db.reader() as s:
        again = await s.scalar(select(Subscriber).where(Subscriber.id == sub.id))
        assert again.status == "pending"
        topics = set(await s.scalars(select(Topic.slug).join(subscriber_topics, subscriber_topics.c.topic_id == Topic.id)
                                     .where(subscriber_topics.c.subscriber_id == sub.id)))
        assert topics == {"retningslinjer"}
    r = await client.get(_link(smtp_server.to(sub.email)[-1], "/confirm"))
    assert r.status == 200


async def test_the_signup_page_is_rendered_once_but_every_visitor_gets_their_own_token(client, runtime, db_kind):
    import aiohttp

    first = await _csrf(client)
    assert await _csrf(client) == first  # the same visitor keeps theirs (the cookie)
    assert client.session.cookie_jar.filter_cookies(client.make_url("/"))["bb_csrf"].value == first
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
        async with other.get(client.make_url("/")) as page:
            theirs = re.search(r'name="csrf_token" value="([^"]+)"', await page.text()).group(1)
        assert theirs != first
        assert other.cookie_jar.filter_cookies(client.make_url("/"))["bb_csrf"].value == theirs
        # ... and the form posts with it.
        async with other.post(client.make_url("/"), data={**FORM, "csrf_token": theirs}) as answer:
            assert answer.status == 200 and "Tjek din indbakke" in await answer.text()
    # A topic an admin adds shows on the form at once.
    from service.web.public.pages import forget_options

    async with runtime.db.transaction() as s:
        s.add(Topic(slug="nyt-emne", name_da="Et helt nyt emne", name_en="A new topic", description_da="",
                    description_en="", position=99, retired=False))
    assert "Et helt nyt emne" not in await (await client.get("/")).text()  # read at most every 30 s ...
    forget_options(client.app)  # ... unless the admin page says topics changed
    assert "Et helt nyt emne" in await (await client.get("/")).text()


async def test_item29_plus_addresses_reach_one_inbox_once_per_window_and_a_domain_has_a_cap(
        client, runtime, smtp_server, clock, db_kind):
    """`victim+1@…` … `victim+20@…` are twenty addresses but one inbox: they used to get twenty
    confirmation mails. Sent one by one and all at once, the victim now gets one per window
    (at most two in all here), every answer is a new address's answer, and the domain as a
    whole gets no more than `confirm_mails_per_domain`."""
    runtime.settings.web.signup_per_ip_per_hour = 1000  # the per-IP limit is not what is tested here
    runtime.settings.subscribers.confirm_mails_per_domain = 5
    token = await _csrf(client)
    fresh = await _post(client, "/", {**FORM, "email": "helt-ny@example.dk"}, token)
    reference = (fresh.status, _answer(await fresh.text()))
    assert reference[0] == 200 and "Tjek din indbakke" in reference[1]

    def inbox(box: str) -> list:
        local, _, domain = box.partition("@")
        return [r for r in smtp_server.received if any(
            t.lower().split("@")[0].split("+")[0] == local and t.lower().endswith("@" + domain) for t in r.rcpt_tos)]

    one_by_one = [await _post(client, "/", {**FORM, "email": f"Offer+{n}@Example.dk"}, token) for n in range(1, 11)]
    at_once = await asyncio.gather(*(_post(client, "/", {**FORM, "email": f"offer+{n}@example.dk"}, token)
                                     for n in range(11, 21)))
    assert {(r.status, _answer(await r.text())) for r in one_by_one + at_once} == {reference}
    await Worker(runtime).drain()
    assert len(inbox("offer@example.dk")) == 1
    clock.advance(minutes=61)  # a new window: the victim may get one more, and no more
    await asyncio.gather(*(_post(client, "/", {**FORM, "email": f"offer+{n}@example.dk"}, token) for n in range(21, 31)))
    await Worker(runtime).drain()
    assert len(inbox("offer@example.dk")) == 2

    # Thirty different people at one small domain within a window: five mails, the same answers.
    answers = await asyncio.gather(*(_post(client, "/", {**FORM, "email": f"p{n}@lille-kommune.dk"}, token)
                                     for n in range(30)))
    assert {(r.status, _answer(await r.text())) for r in answers} == {reference}
    await Worker(runtime).drain()
    assert len([r for r in smtp_server.received if r.rcpt_tos[0].endswith("@lille-kommune.dk")]) == 5
