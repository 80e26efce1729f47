"""Many signups in one transaction: what the signup page does in a rush.

A signup one at a time is about twenty statements, each a round trip to the database; on
SQLite only one write transaction runs at a time, so a hundred people signing up at once
queued behind each other's round trips (~80 signups a second, p99 in seconds). Here the
signups that arrived together share the statements: the per-address limit is counted per
address once, the suppression list, the addresses already known and the reference data
(topics, municipalities, roles) are read once, and the new subscribers, their choices,
their consent records and their confirmation mails are written with one statement each.

The rules are `lifecycle.signup`'s, and so are the rows: a new address (not suppressed, not
known, first in the batch) takes the shared way; every other one (known, pending, left,
suppressed, or twice in the batch) goes through `lifecycle.signup` itself, in the same
transaction. Each request's answer is one of "too_many", "honeypot", "invalid" (with its
errors) or what `lifecycle.signup` says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import insert, select

from service.db.dialect import insert_for
from service.db.reference import Audience, Municipality, Topic
from service.delivery.outbox import enqueue_many, mail_domain
from subscribers import lifecycle
from subscribers.models import Consent, Subscriber, first_token_version, subscriber_municipalities, subscriber_topics
from subscribers.suppression import suppressed
from subscribers.throttle import allowed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from service.runtime import Runtime


@dataclass
class Request:
    bucket: str  # the per-address limit's bucket ("signup-ip:<address>")
    email: str  # as typed
    address: str | None  # normalised; None when it is not an address (then `errors` says so)
    choices: lifecycle.Choices
    evidence: lifecycle.Evidence
    honeypot: bool = False
    errors: dict[str, str] = field(default_factory=dict)  # found without the database


@dataclass
class Answer:
    outcome: str  # too_many, honeypot, invalid, confirm_sent, manage_sent, throttled, suppressed
    errors: dict[str, str] = field(default_factory=dict)


async def sign_up_many(runtime: "Runtime", session: "AsyncSession", requests: list[Request], *,
                       now: datetime, reference: "Reference | None" = None) -> list[Answer]:
    """`reference`: what exists, read a moment ago (the signup page's queue keeps it as long
    as the form's options); read here when not given."""
    answers: list[Answer | None] = [None] * len(requests)
    limit = runtime.settings.web.signup_per_ip_per_hour
    by_bucket: dict[str, list[int]] = {}
    for i, r in enumerate(requests):
        by_bucket.setdefault(r.bucket, []).append(i)
    for bucket, members in by_bucket.items():  # counted first, in arrival order, as one by one
        room = await allowed(session, bucket, len(members), limit, timedelta(hours=1), now)
        for i in members[room:]:
            answers[i] = Answer("too_many")
    live = [i for i, a in enumerate(answers) if a is None]
    for i in live:
        if requests[i].honeypot:
            answers[i] = Answer("honeypot")
    live = [i for i in live if answers[i] is None]
    ref = reference or await read_reference(session)
    for i in live:
        errors = {**requests[i].errors, **lifecycle.choice_errors(requests[i].choices, **ref.known)}
        if errors:
            answers[i] = Answer("invalid", errors)
    live = [i for i in live if answers[i] is None]
    fresh = await _new_addresses(session, [requests[i].address for i in live])
    shared = [i for i in live if requests[i].address in fresh]
    # One mail per inbox (the +tag removed) and a cap per domain, as `lifecycle.signup` has it.
    room = await lifecycle.inbox_allows(runtime, session, [requests[i].address for i in shared], now)
    for i, ok in zip(shared, room):
        if not ok:
            answers[i] = Answer("throttled")
    shared = [i for i, ok in zip(shared, room) if ok]
    made = await _insert_new(runtime, session, [requests[i] for i in shared], ref, now=now)
    for i in shared:
        if requests[i].address in made:
            answers[i] = Answer("confirm_sent")
    for i in live:  # everyone else, exactly as one signup at a time
        if answers[i] is None:
            r = requests[i]
            answers[i] = Answer(await lifecycle.signup(runtime, session, r.email, r.choices, now=now,
                                                       evidence=r.evidence))
    return answers  # type: ignore[return-value]


@dataclass(frozen=True)
class Reference:
    """The topics, municipalities and roles a signup may choose (a few dozen rows)."""

    topic_ids: dict[str, int]  # every topic, retired too (a choice is checked against `known`)
    audience_ids: dict[str, int]
    known: dict[str, set[str]]


async def read_reference(session: "AsyncSession") -> Reference:
    topics = (await session.execute(select(Topic.slug, Topic.id, Topic.retired))).all()
    codes = set(await session.scalars(select(Municipality.code)))
    audiences = dict((await session.execute(select(Audience.slug, Audience.id))).all())
    return Reference(
        topic_ids={t.slug: t.id for t in topics}, audience_ids=audiences,
        known={"topics": {t.slug for t in topics if not t.retired}, "municipalities": codes,
               "audiences": set(audiences)})


async def _new_addresses(session: "AsyncSession", addresses: list[str | None]) -> set[str]:
    """Addresses seen once in the batch, not suppressed and not known yet."""
    seen: dict[str, int] = {}
    for a in addresses:
        if a is not None:
            seen[a] = seen.get(a, 0) + 1
    once = [a for a, n in seen.items() if n == 1]
    if not once:
        return set()
    blocked = await suppressed(session, once)
    known = set(await session.scalars(select(Subscriber.email).where(Subscriber.email.in_(once))))
    return {a for a in once if a not in blocked and a not in known}


async def _insert_new(runtime: "Runtime", session: "AsyncSession", requests: list[Request], ref: Reference, *,
                      now: datetime) -> set[str]:
    """The new subscribers of the batch, as `lifecycle.signup` makes one: pending, their
    choices, a consent record and a confirmation mail. Returns the addresses written (one
    another process signed up a moment ago is left for `lifecycle.signup`)."""
    if not requests:
        return set()
    rows = [dict(email=r.address, status="pending", created_at=now, name=r.choices.name.strip()[:200],
                 organisation=r.choices.organisation.strip()[:200], frequency=r.choices.frequency,
                 language=r.choices.language, audience_id=ref.audience_ids.get(r.choices.audience) if r.choices.audience
                 else None, token_version=first_token_version(), last_confirm_mail_at=now, soft_bounces=0)
            for r in requests]
    ins = insert_for(session, Subscriber).values(rows).on_conflict_do_nothing(index_elements=["email"])
    ids = dict((await session.execute(ins.returning(Subscriber.email, Subscriber.id))).all())
    if not ids:
        return set()
    version = runtime.settings.subscribers.consent_version
    topics, munis, consents = [], [], []
    for r in requests:
        sid = ids.get(r.address)
        if sid is None:
            continue
        topics += [{"subscriber_id": sid, "topic_id": ref.topic_ids[t]} for t in dict.fromkeys(r.choices.topics)
                   if t in ref.topic_ids]
        munis += [{"subscriber_id": sid, "municipality_code": c} for c in sorted(set(r.choices.municipalities))]
        ev = r.evidence
        consents.append(dict(subscriber_id=sid, action="signup", consent_version=version, source=ev.source[:200],
                             ip=ev.ip, user_agent=(ev.user_agent or "")[:400] or None, at=now,
                             detail={"topics": r.choices.topics, "municipalities": r.choices.municipalities}))
    if topics:
        await session.execute(insert(subscriber_topics), topics)
    if munis:
        await session.execute(insert(subscriber_municipalities), munis)
    await session.execute(insert(Consent), consents)
    # The confirmation mails, keyed as `lifecycle` keys one: confirm:<id>:<window>:v<token version>.
    window = lifecycle.window_start(runtime, now)
    await enqueue_many(session, [
        {"key": f"confirm:{ids[row['email']]}:{window}:v{row['token_version']}", "recipient": row["email"],
         "subscriber_id": ids[row["email"]], "language": row["language"]} for row in rows if row["email"] in ids],
        kind="confirm", now=now, domain=mail_domain(runtime.settings.mail.from_address))
    return set(ids)
