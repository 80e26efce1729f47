"""Everything we hold about one person (GDPR art. 15/20), read for the data-export mail.

A read of storage only, so the mail renderer (`service.render.subscriber_mails`) can
build the attachment at send time without reaching up into the lifecycle.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import Delivery, Feedback
from service.db.reference import Audience, Municipality, Topic
from service.errors import Invalid
from subscribers.models import Consent, Subscriber, subscriber_municipalities, subscriber_topics


async def export_data(session: AsyncSession, subscriber_id: int) -> dict:
    """Everything we hold about one person (GDPR art. 15/20), and nothing about anyone else."""
    sub = await session.get(Subscriber, subscriber_id)
    if sub is None:
        raise Invalid("Abonnementet findes ikke.")
    topics = list(await session.scalars(select(Topic.slug).join(subscriber_topics, subscriber_topics.c.topic_id == Topic.id)
                                        .where(subscriber_topics.c.subscriber_id == sub.id).order_by(Topic.slug)))
    municipalities = list(await session.scalars(
        select(Municipality.name).join(subscriber_municipalities,
                                       subscriber_municipalities.c.municipality_code == Municipality.code)
        .where(subscriber_municipalities.c.subscriber_id == sub.id).order_by(Municipality.name)))
    audience = await session.scalar(select(Audience.slug).where(Audience.id == sub.audience_id)) if sub.audience_id else None
    consents = (await session.scalars(select(Consent).where(Consent.subscriber_id == sub.id).order_by(Consent.id))).all()
    deliveries = (await session.execute(
        select(Delivery.kind, Delivery.subject, Delivery.status, Delivery.created_at, Delivery.sent_at)
        .where(Delivery.subscriber_id == sub.id).order_by(Delivery.id))).all()
    feedback = (await session.execute(select(Feedback.item_id, Feedback.useful, Feedback.at)
                                      .where(Feedback.subscriber_id == sub.id))).all()

    def iso(at: datetime | None) -> str | None:
        return at.isoformat() if at else None

    return {
        "email": sub.email, "name": sub.name, "organisation": sub.organisation, "status": sub.status,
        "role": audience, "frequency": sub.frequency, "language": sub.language, "topics": topics,
        "municipalities": municipalities, "created_at": iso(sub.created_at), "confirmed_at": iso(sub.confirmed_at),
        "consents": [{"action": c.action, "consent_version": c.consent_version, "source": c.source, "ip": c.ip,
                      "at": iso(c.at)} for c in consents],
        "messages": [{"kind": d.kind, "subject": d.subject, "status": d.status, "queued_at": iso(d.created_at),
                      "sent_at": iso(d.sent_at)} for d in deliveries],
        "feedback": [{"item_id": f.item_id, "useful": f.useful, "at": iso(f.at)} for f in feedback],
    }
