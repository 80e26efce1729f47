"""Signups in a rush (issue 19): the ones that arrive together are written together
(`subscribers.signups`), with the same rules and the same rows as one at a time
(`lifecycle.signup`). Over HTTP against the whole app, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re

from sqlalchemy import func, select

from service.db.models import Delivery, RateEvent
from service.db.reference import Audience, Topic
from subscribers import lifecycle
from subscribers.models import Consent, Subscriber, subscriber_municipalities, subscriber_topics
from subscribers.signups import Request, sign_up_many
from subscribers.suppression import suppress

FORM = {"name": "Mette Hansen", "topics": ["ledighedstal", "analyser"], "municipalities": ["751", "730"],
        "audience": "jobcenter", "frequency": "daily", "language": "da", "consent": "yes", "website": ""}


async def _token(client) -> str:
    page = await (await client.get("/")).text()
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


async def _existing(runtime, email: str, status: str) -> None:
    async with runtime.db.transaction() as s:
        s.add(Subscriber(email=email, status=status, created_at=runtime.clock.now()))


async def test_a_rush_of_every_kind_of_signup_answers_and_stores_as_one_at_a_time(client, runtime, db_kind):
    runtime.settings.web.signup_per_ip_per_hour = 1000
    await _existing(runtime, "aktiv@example.dk", "active")
    await _existing(runtime, "afmeldt@example.dk", "unsubscribed")
    async with runtime.db.transaction() as s:
        await suppress(s, "spaerret@example.dk", reason="manual", now=runtime.clock.now())
    token = await _token(client)
    forms = [{**FORM, "email": f"Ny{i}@Example.dk"} for i in range(25)]
    forms += [{**FORM, "email": "to.gange@example.dk", "name": f"Gang {i}"} for i in range(3)]
    forms += [{**FORM, "email": "aktiv@example.dk"}, {**FORM, "email": "afmeldt@example.dk"},
              {**FORM, "email": "spaerret@example.dk"}, {**FORM, "email": "ny.emne@example.dk", "topics": ["findes-ikke"]},
              {**FORM, "email": "ikke-en-adresse"}, {**FORM, "email": "robot@example.dk", "website": "http://spam"}]
    answers = await asyncio.gather(*(client.post("/", data={**f, "csrf_token": token}) for f in forms))
    pages = [(r.status, await r.text()) for r in answers]
    thanks = [f["email"] for f, (code, text) in zip(forms, pages) if code == 200 and "Tjek din indbakke" in text]
    refused = {f["email"]: text for f, (code, text) in zip(forms, pages) if code == 400}
    assert set(refused) == {"ny.emne@example.dk", "ikke-en-adresse"}
    assert "Et af de valgte emner findes ikke længere" in refused["ny.emne@example.dk"]
    assert len(thanks) == len(forms) - 2  # the same page for new, known, left, suppressed and the robot
    async with runtime.db.reader() as s:
        subs = {r.email: r for r in (await s.scalars(select(Subscriber))).all()}
        mails = (await s.execute(select(Delivery.kind, Delivery.recipient, Delivery.key))).all()
        consents = (await s.execute(select(Consent.subscriber_id, Consent.action))).all()
        topics = (await s.execute(select(subscriber_topics.c.subscriber_id, Topic.slug)
                                  .join(Topic, Topic.id == subscriber_topics.c.topic_id))).all()
        munis = (await s.execute(select(subscriber_municipalities))).all()
        role = await s.scalar(select(Audience.id).where(Audience.slug == "jobcenter"))
    new = {f"ny{i}@example.dk" for i in range(25)} | {"to.gange@example.dk"}
    assert set(subs) == new | {"aktiv@example.dk", "afmeldt@example.dk"}  # nothing for suppressed, robot, invalid
    for email in new:
        sub = subs[email]
        assert sub.status == "pending" and sub.frequency == "daily" and sub.audience_id == role
        assert sorted(slug for sid, slug in topics if sid == sub.id) == ["analyser", "ledighedstal"]
        assert sorted(code for sid, code in munis if sid == sub.id) == ["730", "751"]
        assert [a for sid, a in consents if sid == sub.id] == ["signup"]
    by_kind = sorted((kind, recipient) for kind, recipient, _ in mails)
    expected = sorted([("confirm", e) for e in new] + [("confirm", "afmeldt@example.dk"), ("manage", "aktiv@example.dk")])
    assert by_kind == expected  # one confirmation for the address posted three times (its window)
    assert subs["afmeldt@example.dk"].status == "pending"  # signing up again after leaving
    for kind, recipient, key in mails:
        sub = subs[recipient]
        assert re.fullmatch(rf"{kind}:{sub.id}:\d+:v{sub.token_version}", key)


async def test_the_limit_per_address_counts_every_post_in_a_rush(client, runtime, db_kind):
    runtime.settings.web.signup_per_ip_per_hour = 6
    token = await _token(client)
    answers = await asyncio.gather(*(client.post("/", data={**FORM, "email": f"graense{i}@example.dk",
                                                            "csrf_token": token}) for i in range(10)))
    assert sorted(r.status for r in answers) == [200] * 6 + [429] * 4
    async with runtime.db.reader() as s:
        assert await s.scalar(select(func.count()).select_from(RateEvent)
                              .where(RateEvent.bucket.like("signup-ip:%"))) == 6
        assert await s.scalar(select(func.count()).select_from(Subscriber)) == 6


async def _rows(runtime, emails: list[str]) -> list[tuple]:
    """Everything stored for these addresses, without ids and token versions."""
    async with runtime.db.reader() as s:
        out = []
        for email in emails:
            sub = await s.scalar(select(Subscriber).where(Subscriber.email == email))
            tops = sorted(await s.scalars(select(subscriber_topics.c.topic_id).where(subscriber_topics.c.subscriber_id == sub.id)))
            codes = sorted(await s.scalars(select(subscriber_municipalities.c.municipality_code)
                                           .where(subscriber_municipalities.c.subscriber_id == sub.id)))
            cons = [(c.action, c.consent_version, c.source, c.ip, c.user_agent, c.detail, c.at)
                    for c in await s.scalars(select(Consent).where(Consent.subscriber_id == sub.id))]
            mails = [(d.kind, d.status, d.language, d.params, d.attempts, d.next_attempt_at, d.created_at,
                      d.key.replace(f":{sub.id}:", ":ID:").replace(f":v{sub.token_version}", ":vTV"))
                     for d in await s.scalars(select(Delivery).where(Delivery.subscriber_id == sub.id))]
            out.append((sub.name, sub.organisation, sub.frequency, sub.language, sub.status, sub.audience_id,
                        sub.created_at, sub.confirmed_at, sub.last_confirm_mail_at, sub.soft_bounces, tops, codes, cons,
                        mails))
        return out


async def test_together_the_same_rows_as_one_at_a_time(runtime, db_kind):
    now = runtime.clock.now()
    kinds = [lifecycle.Choices(topics=["ledighedstal"], municipalities=[], frequency="immediate", language="en",
                               name="  Anne  ", organisation="Jobcenter Horsens"),
             lifecycle.Choices(topics=["analyser", "ledighedstal", "analyser"], municipalities=["751", "751", "615"],
                               audience="politiker", frequency="weekly", name="x" * 200)]
    ev = lifecycle.Evidence(source="web", ip="192.0.2.7", user_agent="Mozilla/5.0 " + "y" * 500)
    together = [f"sammen{i}@example.dk" for i in range(len(kinds))]
    alone = [f"alene{i}@example.dk" for i in range(len(kinds))]
    async with runtime.db.transaction() as s:
        answers = await sign_up_many(runtime, s, [
            Request(bucket="signup-ip:192.0.2.7", email=e, address=e, choices=c, evidence=ev)
            for e, c in zip(together, kinds)], now=now)
    assert [a.outcome for a in answers] == ["confirm_sent"] * len(kinds)
    for e, c in zip(alone, kinds):
        async with runtime.db.transaction() as s:
            assert await lifecycle.signup(runtime, s, e, c, now=now, evidence=ev) == "confirm_sent"
    assert await _rows(runtime, together) == await _rows(runtime, alone)
