"""Helpers for the campaign tests: people, a campaign, and reading mail as a reader would."""

from __future__ import annotations

import hashlib
from datetime import datetime
from html.parser import HTMLParser

from sqlalchemy import insert, select

from service.db.campaigns import PressContact
from service.db.models import Delivery, User
from service.db.reference import Topic
from subscribers.models import Subscriber, Suppression, subscriber_topics


async def add_press(runtime, email, *, media_type="regional", region="Midtjylland", beats=(), status="active") -> int:
    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        pc = PressContact(email=email, name=email.split("@")[0], outlet="Avisen", media_type=media_type, region=region,
                          beats=list(beats), status=status, created_at=now, updated_at=now)
        s.add(pc)
        await s.flush()
        return pc.id


async def add_subscriber(runtime, email, topics=("presse",), *, status="active", language="da", suppressed=False) -> int:
    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        sub = Subscriber(email=email, status=status, language=language, created_at=now, frequency="immediate")
        s.add(sub)
        await s.flush()
        ids = (await s.scalars(select(Topic.id).where(Topic.slug.in_(topics)))).all()
        for tid in ids:
            await s.execute(insert(subscriber_topics).values(subscriber_id=sub.id, topic_id=tid))
        if suppressed:
            s.add(Suppression(email_hash=hashlib.sha256(email.lower().encode()).hexdigest(), reason="manual", created_at=now))
        return sub.id


async def add_user(runtime, email, role="press") -> int:
    async with runtime.db.transaction() as s:
        u = User(email=email, name=email.split("@")[0], password_hash="x", role=role, created_at=runtime.clock.now())
        s.add(u)
        await s.flush()
        return u.id


async def deliveries(runtime, **where) -> list[Delivery]:
    async with runtime.db.reader() as s:
        q = select(Delivery).order_by(Delivery.id)
        for k, v in where.items():
            q = q.where(getattr(Delivery, k) == v)
        return list((await s.scalars(q)).all())


async def render(runtime, delivery_id):
    async with runtime.db.reader() as s:
        d = await s.get(Delivery, delivery_id)
        return await runtime.renderers.render(runtime, s, d)


async def mark_all_sent(runtime, at: datetime | None = None) -> None:
    from sqlalchemy import update

    async with runtime.db.transaction() as s:
        await s.execute(update(Delivery).where(Delivery.status == "queued")
                        .values(status="sent", sent_at=at or runtime.clock.now()))


class TextOf(HTMLParser):
    """The visible text of an HTML mail, and its links."""

    def __init__(self, html: str):
        super().__init__()
        self.parts: list[str] = []
        self.links: list[str] = []
        self._skip = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script", "title"):
            self._skip += 1
        if tag == "a":
            self.links.append(dict(attrs).get("href", ""))

    def handle_endtag(self, tag):
        if tag in ("style", "script", "title"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())
