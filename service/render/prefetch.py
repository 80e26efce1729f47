"""Read what a batch of alerts and digests needs in a few queries, not a few per message.

The send worker loads a claimed batch of deliveries into one session and renders them one
by one. The first alert or digest rendered in a session reads, for up to `BATCH` of the
alert and digest deliveries that session holds, every subscriber's current choices and
every digest's entries (four queries in all); each later message of the batch takes its
part from `session.info`. Each part is taken once (popped), so a message rendered again
reads afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from service.db.models import Delivery, Item, Match
from service.render.views import SubscriberView, _lang
from service.db.reference import Audience
from subscribers.models import Subscriber, subscriber_municipalities, subscriber_topics

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

KINDS = ("alert", "digest")
BATCH = 500
CHUNK = 900  # ids per IN list (well inside SQLite's and asyncpg's parameter limits)
INFO_KEY = "budbringer_render_prefetch"


@dataclass(frozen=True)
class Prefetched:
    subscriber: SubscriberView | None
    revisions: dict[int, int]  # item id → current revision (a digest's entries, or the alert's item)


def _chunks(ids: list[int]):
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


async def prefetched(session: "AsyncSession", delivery: Delivery) -> Prefetched:
    store: dict[int, Prefetched] = session.info.setdefault(INFO_KEY, {})
    seen: set[int] = session.info.setdefault(INFO_KEY + "_seen", set())
    if delivery.id not in store:
        batch = [delivery]
        for obj in list(session.sync_session.identity_map.values()):
            if len(batch) >= BATCH:
                break
            if isinstance(obj, Delivery) and obj.kind in KINDS and obj.id not in seen and obj.id != delivery.id:
                batch.append(obj)
        seen.update(d.id for d in batch)
        store.update(await _load(session, batch))
    return store.pop(delivery.id)


async def _load(session: "AsyncSession", batch: list[Delivery]) -> dict[int, Prefetched]:
    sub_ids = sorted({d.subscriber_id for d in batch if d.subscriber_id is not None})
    subs: dict[int, dict] = {}
    for ids in _chunks(sub_ids):
        rows = await session.execute(
            select(Subscriber.id, Subscriber.token_version, Subscriber.language, Subscriber.frequency,
                   Audience.slug.label("audience"))
            .outerjoin(Audience, Audience.id == Subscriber.audience_id).where(Subscriber.id.in_(ids)))
        for r in rows:
            subs[r.id] = {"row": r, "m": [], "t": set()}
        for sid, code in await session.execute(
                select(subscriber_municipalities.c.subscriber_id, subscriber_municipalities.c.municipality_code)
                .where(subscriber_municipalities.c.subscriber_id.in_(ids))):
            subs[sid]["m"].append(code)
        for sid, tid in await session.execute(
                select(subscriber_topics.c.subscriber_id, subscriber_topics.c.topic_id)
                .where(subscriber_topics.c.subscriber_id.in_(ids))):
            subs[sid]["t"].add(tid)
    revisions: dict[int, dict[int, int]] = {d.id: {} for d in batch}
    digest_ids = [d.id for d in batch if d.kind == "digest"]
    for ids in _chunks(digest_ids):
        for did, item_id, rev in await session.execute(
                select(Match.delivery_id, Match.item_id, Item.revision).join(Item, Item.id == Match.item_id)
                .where(Match.delivery_id.in_(ids))):
            revisions[did][item_id] = rev
    alert_items = {d.id: d.item_id for d in batch if d.kind == "alert" and d.item_id is not None}
    for ids in _chunks(sorted(set(alert_items.values()))):
        current = dict((await session.execute(select(Item.id, Item.revision).where(Item.id.in_(ids)))).all())
        for did, item_id in alert_items.items():
            if item_id in current:
                revisions[did][item_id] = current[item_id]
    out = {}
    for d in batch:
        s = subs.get(d.subscriber_id) if d.subscriber_id is not None else None
        view = None
        if s is not None:
            r = s["row"]
            view = SubscriberView(id=r.id, token_version=r.token_version or 1, language=_lang(r.language),
                                  frequency=r.frequency, audience=r.audience, municipalities=tuple(sorted(s["m"])),
                                  topic_ids=frozenset(s["t"]))
        out[d.id] = Prefetched(view, revisions[d.id])
    return out
