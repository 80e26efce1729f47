"""Helpers for matching and digest tests: subscribers and items written as the product
writes them, and a look at what was queued."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select

from service.db.models import Delivery, Item, Match, item_municipalities, item_topics


async def add_subscriber(runtime, email, *, status="active", topics=("ledighedstal",), municipalities=(),
                         frequency="immediate", language="da", audience=None) -> int:
    from service.db.reference import Audience, Topic
    from subscribers.models import Subscriber, subscriber_municipalities, subscriber_topics

    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        audience_id = await s.scalar(select(Audience.id).where(Audience.slug == audience)) if audience else None
        sub = Subscriber(email=email, status=status, frequency=frequency, language=language, created_at=now,
                         confirmed_at=now if status == "active" else None, audience_id=audience_id, token_version=1)
        s.add(sub)
        await s.flush()
        topic_ids = (await s.scalars(select(Topic.id).where(Topic.slug.in_(list(topics))))).all()
        if topic_ids:
            await s.execute(insert(subscriber_topics), [{"subscriber_id": sub.id, "topic_id": t} for t in topic_ids])
        if municipalities:
            await s.execute(insert(subscriber_municipalities),
                            [{"subscriber_id": sub.id, "municipality_code": m} for m in municipalities])
        return sub.id


async def add_item(runtime, title, *, topics=("ledighedstal",), municipalities=(), kind="news", urgent=False,
                   public_at: datetime | None = None, data=None, summary="Et resumé.", link=None) -> int:
    from service.db.reference import Topic

    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        item = Item(kind=kind, title=title, summary=summary, summary_html="", link=link or f"https://example.dk/{abs(hash(title))}",
                    urgent=urgent, data=data, content_hash=str(abs(hash(title))), published_at=now, created_at=now,
                    updated_at=now, public_at=public_at, revision=1, matched_revision=0, announce_revision=False)
        s.add(item)
        await s.flush()
        topic_ids = (await s.scalars(select(Topic.id).where(Topic.slug.in_(list(topics))))).all()
        if topic_ids:
            await s.execute(insert(item_topics), [{"item_id": item.id, "topic_id": t} for t in topic_ids])
        if municipalities:
            await s.execute(insert(item_municipalities), [{"item_id": item.id, "municipality_code": m} for m in municipalities])
        return item.id


async def revise(runtime, item_id, *, title, announce: bool) -> None:
    async with runtime.db.transaction() as s:
        item = await s.get(Item, item_id)
        item.title, item.revision, item.announce_revision = title, item.revision + 1, announce
        item.updated_at = runtime.clock.now()


async def deliveries(runtime, kind=None) -> list[Delivery]:
    async with runtime.db.reader() as s:
        q = select(Delivery).order_by(Delivery.id)
        if kind:
            q = q.where(Delivery.kind == kind)
        return list((await s.scalars(q)).all())


async def matches(runtime) -> list[Match]:
    async with runtime.db.reader() as s:
        return list((await s.scalars(select(Match).order_by(Match.id))).all())


async def recipients(runtime, kind=None) -> list[str]:
    return sorted(d.recipient for d in await deliveries(runtime, kind))
