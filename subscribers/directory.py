"""Subscribers as admins see them: search, one subscriber's page (choices, consent
history, deliveries, bounces), edit, block and unblock, delete.

Edits made by an admin leave a consent row (`source` "admin:<email>") so the record shows
who changed a subscriber's choices. Deleting erases the person and leaves only a hashed
suppression entry (reason "erased"), so a later import cannot bring them back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import Bounce, Delivery
from service.errors import Invalid, NotFound
from service.db.reference import Audience, Municipality, Topic
from subscribers.models import FREQUENCIES, LANGUAGES, STATUSES, Consent, Subscriber, subscriber_municipalities, subscriber_topics

PAGE = 50


@dataclass
class Search:
    q: str = ""
    status: str = ""
    topic: str = ""
    municipality: str = ""
    audience: str = ""
    page: int = 1


@dataclass
class SubscriberEdit:
    name: str = ""
    organisation: str = ""
    language: str = "da"
    frequency: str = "immediate"
    audience: str = ""  # slug or ""
    topics: list[str] = field(default_factory=list)  # slugs
    municipalities: list[str] = field(default_factory=list)  # codes


def _conditions(f: Search) -> list:
    conds = []
    if f.q.strip():
        needle = f"%{f.q.strip().lower().replace('%', '').replace('_', '')}%"
        conds.append(or_(Subscriber.email.like(needle), func.lower(Subscriber.name).like(needle),
                         func.lower(Subscriber.organisation).like(needle)))
    if f.status in STATUSES:
        conds.append(Subscriber.status == f.status)
    if f.topic:
        conds.append(Subscriber.id.in_(select(subscriber_topics.c.subscriber_id).join(Topic, Topic.id == subscriber_topics.c.topic_id)
                                       .where(Topic.slug == f.topic)))
    if f.municipality:
        conds.append(Subscriber.id.in_(select(subscriber_municipalities.c.subscriber_id)
                                       .where(subscriber_municipalities.c.municipality_code == f.municipality)))
    if f.audience:
        conds.append(Subscriber.audience_id.in_(select(Audience.id).where(Audience.slug == f.audience)))
    return conds


async def search(s: AsyncSession, f: Search) -> tuple[list[dict], int]:
    """One page of subscribers matching every filter given, and how many match in all."""
    q = select(Subscriber.id, Subscriber.email, Subscriber.name, Subscriber.organisation, Subscriber.status,
               Subscriber.frequency, Subscriber.created_at)
    conds = _conditions(f)
    total = await s.scalar(select(func.count(Subscriber.id)).where(*conds)) or 0
    rows = (await s.execute(q.where(*conds).order_by(Subscriber.email).limit(PAGE)
                            .offset(PAGE * (max(f.page, 1) - 1)))).all()
    return [dict(r._mapping) for r in rows], int(total)


async def search_ids(s: AsyncSession, f: Search) -> list[int]:
    """Every subscriber id matching the filters (for export), ordered by address."""
    return list((await s.scalars(select(Subscriber.id).where(*_conditions(f)).order_by(Subscriber.email))).all())


async def choices(s: AsyncSession) -> dict:
    """What a subscriber may choose from (for forms and filters)."""
    topics = (await s.execute(select(Topic.slug, Topic.name_da, Topic.retired).order_by(Topic.position))).all()
    munis = (await s.execute(select(Municipality.code, Municipality.name).order_by(Municipality.name))).all()
    auds = (await s.execute(select(Audience.slug, Audience.name_da).order_by(Audience.position))).all()
    return {"topics": [dict(r._mapping) for r in topics], "municipalities": [dict(r._mapping) for r in munis],
            "audiences": [dict(r._mapping) for r in auds], "statuses": STATUSES, "frequencies": FREQUENCIES,
            "languages": LANGUAGES}


async def _get(s: AsyncSession, sub_id: int) -> Subscriber:
    sub = await s.get(Subscriber, sub_id)
    if sub is None:
        raise NotFound("Abonnenten findes ikke.")
    return sub


async def detail(s: AsyncSession, sub_id: int) -> dict:
    sub = await _get(s, sub_id)
    topics = list((await s.scalars(select(Topic.slug).join(subscriber_topics, subscriber_topics.c.topic_id == Topic.id)
                                   .where(subscriber_topics.c.subscriber_id == sub_id))).all())
    munis = list((await s.scalars(select(subscriber_municipalities.c.municipality_code)
                                  .where(subscriber_municipalities.c.subscriber_id == sub_id))).all())
    audience = await s.scalar(select(Audience.slug).where(Audience.id == sub.audience_id)) if sub.audience_id else ""
    consents = (await s.scalars(select(Consent).where(Consent.subscriber_id == sub_id).order_by(Consent.at.desc(), Consent.id.desc()))).all()
    deliveries = (await s.execute(
        select(Delivery.id, Delivery.kind, Delivery.status, Delivery.subject, Delivery.created_at, Delivery.sent_at,
               Delivery.attempts, Delivery.last_error)
        .where(or_(Delivery.subscriber_id == sub_id, Delivery.recipient == sub.email))
        .order_by(Delivery.id.desc()).limit(100))).all()
    bounces = (await s.execute(select(Bounce.kind, Bounce.diagnostic, Bounce.received_at)
                               .where(Bounce.email == sub.email).order_by(Bounce.id.desc()).limit(100))).all()
    return {
        "id": sub.id, "email": sub.email, "name": sub.name, "organisation": sub.organisation, "status": sub.status,
        "language": sub.language, "frequency": sub.frequency, "audience": audience or "", "topics": topics,
        "municipalities": munis, "created_at": sub.created_at, "confirmed_at": sub.confirmed_at,
        "unsubscribed_at": sub.unsubscribed_at, "soft_bounces": sub.soft_bounces, "pending_email": sub.pending_email,
        "consents": [{"action": c.action, "source": c.source, "version": c.consent_version, "ip": c.ip or "",
                      "at": c.at, "detail": c.detail or {}} for c in consents],
        "deliveries": [dict(r._mapping) for r in deliveries],
        "bounces": [dict(r._mapping) for r in bounces],
    }


async def edit(s: AsyncSession, sub_id: int, form: SubscriberEdit, *, by: str, now: datetime, consent_version: str) -> dict:
    """Change a subscriber's details and choices; returns what changed."""
    sub = await _get(s, sub_id)
    errors = {}
    if form.language not in LANGUAGES:
        errors["language"] = "Ukendt sprog"
    if form.frequency not in FREQUENCIES:
        errors["frequency"] = "Ukendt hyppighed"
    topic_ids = dict((await s.execute(select(Topic.slug, Topic.id).where(Topic.slug.in_(form.topics or [""])))).all())
    if set(form.topics) - set(topic_ids):
        errors["topics"] = "Ukendt emne"
    known_munis = set((await s.scalars(select(Municipality.code).where(Municipality.code.in_(form.municipalities or [""])))).all())
    if set(form.municipalities) - known_munis:
        errors["municipalities"] = "Ukendt kommune"
    audience_id = None
    if form.audience:
        audience_id = await s.scalar(select(Audience.id).where(Audience.slug == form.audience))
        if audience_id is None:
            errors["audience"] = "Ukendt rolle"
    if errors:
        raise Invalid("Ret de markerede felter.", errors)
    before = await detail(s, sub_id)
    sub.name, sub.organisation = form.name.strip()[:200], form.organisation.strip()[:200]
    sub.language, sub.frequency, sub.audience_id = form.language, form.frequency, audience_id
    await s.execute(delete(subscriber_topics).where(subscriber_topics.c.subscriber_id == sub_id))
    await s.execute(delete(subscriber_municipalities).where(subscriber_municipalities.c.subscriber_id == sub_id))
    if topic_ids:
        await s.execute(insert(subscriber_topics), [{"subscriber_id": sub_id, "topic_id": t} for t in topic_ids.values()])
    if known_munis:
        await s.execute(insert(subscriber_municipalities),
                        [{"subscriber_id": sub_id, "municipality_code": m} for m in sorted(known_munis)])
    after = {"name": sub.name, "organisation": sub.organisation, "language": sub.language, "frequency": sub.frequency,
             "audience": form.audience, "topics": sorted(form.topics), "municipalities": sorted(known_munis)}
    changes = {k: [before[k] if not isinstance(before[k], list) else sorted(before[k]), v] for k, v in after.items()
               if (sorted(before[k]) if isinstance(before[k], list) else before[k]) != v}
    if changes:
        s.add(Consent(subscriber_id=sub_id, action="change", consent_version=consent_version, source=f"admin:{by}",
                      detail={"changed": sorted(changes)}, at=now))
    return changes


async def set_blocked(s: AsyncSession, sub_id: int, blocked: bool, *, now: datetime) -> str:
    """Block (no more mail, links stop working) or unblock; returns the new status."""
    sub = await _get(s, sub_id)
    if blocked:
        sub.status = "blocked"
        sub.token_version = (sub.token_version or 1) + 1
    elif sub.status == "blocked":
        sub.status = "active" if sub.confirmed_at else "pending"
    return sub.status


async def erase(s: AsyncSession, sub_id: int, *, by: str, now: datetime) -> str:
    """Delete the subscriber and everything about them; the address stays suppressed (hashed)."""
    from subscribers.lifecycle import erase as erase_person
    from subscribers.suppression import suppress

    sub = await _get(s, sub_id)
    email = sub.email
    await suppress(s, email, reason="erased", now=now, note="slettet af en administrator", by=by)
    # The same erasure as the person's own: their deliveries and bounces lose the address too.
    await erase_person(s, sub_id, now=now, by=by)
    return email
