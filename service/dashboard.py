"""The admin overview, as plain numbers: the outbox, what was sent and what failed, reach,
the audience per topic and municipality, and what readers answered to "Var det nyttigt?".

Windows: "sent" counts by `sent_at`; "deferred" and "failed" count deliveries made in the
window that are in that state now (the ledger keeps no per-attempt history).
`retry_failed` puts failed deliveries back in the queue; the worker's last look before
sending (suppression, unsubscribed) still applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.campaigns.report import failure_reasons
from service.db.campaigns import Campaign
from service.db.models import Delivery, Feedback, Item, Match, item_topics
from service.db.reference import Municipality, Topic
from service.releases.watch import late_entries
from subscribers.models import Subscriber, subscriber_municipalities, subscriber_topics

WAITING = ("queued", "deferred", "sending")


@dataclass
class Bar:
    label: str
    value: int
    width: int = 0  # 0–100, a CSS class picks it (no inline styles under our CSP)
    extra: dict = field(default_factory=dict)


@dataclass
class Overview:
    queue: dict[str, int]
    windows: dict[str, dict[str, int]]  # "day"/"week" -> sent/deferred/failed
    failures: list[dict]
    item_reach: list[dict]
    campaign_reach: list[dict]
    per_topic: list[Bar]
    per_municipality: list[Bar]
    feedback_items: list[dict]
    feedback_topics: list[Bar]
    active_subscribers: int
    late_releases: list[dict] = field(default_factory=list)  # expected StatBank releases not seen in time


def _scale(bars: list[Bar]) -> list[Bar]:
    top = max((b.value for b in bars), default=0)
    for b in bars:
        b.width = round(100 * b.value / top) if top else 0
    return bars


async def _queue(s: AsyncSession, now: datetime) -> dict[str, int]:
    rows = (await s.execute(select(Delivery.status, func.count()).where(Delivery.status.in_(WAITING))
                            .group_by(Delivery.status))).all()
    out = {st: 0 for st in WAITING} | {r[0]: int(r[1]) for r in rows}
    out["due"] = int(await s.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.status.in_(("queued", "deferred")), Delivery.next_attempt_at <= now)) or 0)
    out["total"] = sum(out[st] for st in WAITING)
    return out


async def _window(s: AsyncSession, since: datetime) -> dict[str, int]:
    sent = await s.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "sent", Delivery.sent_at >= since))
    rows = (await s.execute(select(Delivery.status, func.count()).where(
        Delivery.status.in_(("deferred", "failed")), Delivery.created_at >= since).group_by(Delivery.status))).all()
    by = {r[0]: int(r[1]) for r in rows}
    return {"sent": int(sent or 0), "deferred": by.get("deferred", 0), "failed": by.get("failed", 0)}


async def _failures(s: AsyncSession, limit: int) -> list[dict]:
    rows = (await s.execute(select(Delivery.id, Delivery.kind, Delivery.recipient, Delivery.attempts, Delivery.last_error,
                                   Delivery.created_at, Delivery.status)
                            .where(Delivery.status.in_(("failed", "deferred")), Delivery.last_error.is_not(None))
                            .order_by(Delivery.id.desc()).limit(limit))).all()
    return [dict(r._mapping) for r in rows]


async def _item_reach(s: AsyncSession, limit: int) -> list[dict]:
    items = (await s.execute(select(Item.id, Item.title, Item.kind, Item.published_at)
                             .order_by(Item.published_at.desc(), Item.id.desc()).limit(limit))).all()
    ids = [i.id for i in items]
    reach: dict[int, tuple[int, int]] = {}
    if ids:
        rows = (await s.execute(
            select(Match.item_id, func.count(Match.id),
                   func.sum(case((Delivery.status == "sent", 1), else_=0)))
            .select_from(Match).outerjoin(Delivery, Delivery.id == Match.delivery_id)
            .where(Match.item_id.in_(ids)).group_by(Match.item_id))).all()
        reach = {r[0]: (int(r[1]), int(r[2] or 0)) for r in rows}
    return [{"id": i.id, "title": i.title, "kind": i.kind, "published_at": i.published_at,
             "matched": reach.get(i.id, (0, 0))[0], "sent": reach.get(i.id, (0, 0))[1]} for i in items]


async def _campaign_reach(s: AsyncSession, limit: int) -> list[dict]:
    camps = (await s.execute(select(Campaign.id, Campaign.title, Campaign.kind, Campaign.status)
                             .order_by(Campaign.id.desc()).limit(limit))).all()
    ids = [c.id for c in camps]
    counts: dict[int, dict[str, int]] = {}
    if ids:
        for cid, status, n in (await s.execute(select(Delivery.campaign_id, Delivery.status, func.count())
                                               .where(Delivery.campaign_id.in_(ids))
                                               .group_by(Delivery.campaign_id, Delivery.status))).all():
            counts.setdefault(cid, {})[status] = int(n)
    reasons = await failure_reasons(s, [c.id for c in camps if c.status == "failed"])
    return [{"id": c.id, "title": c.title, "kind": c.kind, "status": c.status, "reason": reasons.get(c.id, ""),
             "sent": counts.get(c.id, {}).get("sent", 0), "failed": counts.get(c.id, {}).get("failed", 0),
             "total": sum(counts.get(c.id, {}).values())} for c in camps]


async def _per_topic(s: AsyncSession) -> list[Bar]:
    rows = (await s.execute(
        select(Topic.name_da, func.count(Subscriber.id))
        .select_from(Topic)
        .outerjoin(subscriber_topics, subscriber_topics.c.topic_id == Topic.id)
        .outerjoin(Subscriber, (Subscriber.id == subscriber_topics.c.subscriber_id) & (Subscriber.status == "active"))
        .where(Topic.retired.is_(False)).group_by(Topic.id, Topic.name_da, Topic.position).order_by(Topic.position, Topic.name_da)
    )).all()
    return _scale([Bar(r[0], int(r[1])) for r in rows])


async def _per_municipality(s: AsyncSession) -> list[Bar]:
    rows = (await s.execute(
        select(Municipality.name, func.count(Subscriber.id))
        .select_from(Municipality)
        .outerjoin(subscriber_municipalities, subscriber_municipalities.c.municipality_code == Municipality.code)
        .outerjoin(Subscriber, (Subscriber.id == subscriber_municipalities.c.subscriber_id) & (Subscriber.status == "active"))
        .group_by(Municipality.code, Municipality.name).order_by(Municipality.name)
    )).all()
    has_any = select(subscriber_municipalities.c.subscriber_id).where(subscriber_municipalities.c.subscriber_id == Subscriber.id)
    everywhere = await s.scalar(select(func.count(Subscriber.id)).where(Subscriber.status == "active", ~has_any.exists()))
    bars = [Bar(r[0], int(r[1])) for r in rows]
    bars.append(Bar("Hele regionen (ingen kommune valgt)", int(everywhere or 0)))
    return _scale(bars)


async def _feedback(s: AsyncSession, limit: int) -> tuple[list[dict], list[Bar]]:
    yes = func.sum(case((Feedback.useful.is_(True), 1), else_=0))
    no = func.sum(case((Feedback.useful.is_(False), 1), else_=0))
    items = (await s.execute(select(Item.id, Item.title, yes, no).join(Feedback, Feedback.item_id == Item.id)
                             .group_by(Item.id, Item.title).order_by(func.max(Feedback.at).desc()).limit(limit))).all()
    topics = (await s.execute(select(Topic.name_da, yes, no).select_from(Feedback)
                              .join(item_topics, item_topics.c.item_id == Feedback.item_id)
                              .join(Topic, Topic.id == item_topics.c.topic_id)
                              .group_by(Topic.id, Topic.name_da).order_by(Topic.name_da))).all()
    item_rows = [{"id": r[0], "title": r[1], "yes": int(r[2] or 0), "no": int(r[3] or 0)} for r in items]
    bars = []
    for name, y, n in topics:
        y, n = int(y or 0), int(n or 0)
        share = round(100 * y / (y + n)) if y + n else 0
        bars.append(Bar(name, y + n, width=share, extra={"yes": y, "no": n, "share": share}))
    return item_rows, bars


async def overview(s: AsyncSession, now: datetime, *, limit: int = 15) -> Overview:
    fb_items, fb_topics = await _feedback(s, limit)
    return Overview(
        queue=await _queue(s, now),
        windows={"day": await _window(s, now - timedelta(days=1)), "week": await _window(s, now - timedelta(days=7))},
        failures=await _failures(s, limit),
        item_reach=await _item_reach(s, limit),
        campaign_reach=await _campaign_reach(s, 10),
        per_topic=await _per_topic(s),
        per_municipality=await _per_municipality(s),
        feedback_items=fb_items,
        feedback_topics=fb_topics,
        active_subscribers=int(await s.scalar(select(func.count(Subscriber.id)).where(Subscriber.status == "active")) or 0),
        late_releases=[{"period": e.period, "tables": ", ".join(e.tables or []), "at": e.at, "seen_at": e.seen_at}
                       for e in await late_entries(s, now)],
    )


async def retry_failed(s: AsyncSession, now: datetime, *, ids: list[int] | None = None, since: datetime | None = None) -> int:
    """Queue failed deliveries again (the given ids, or all failed since `since`); returns how many."""
    q = update(Delivery).where(Delivery.status == "failed")
    if ids is not None:
        q = q.where(Delivery.id.in_(ids or [-1]))
    if since is not None:
        q = q.where(Delivery.created_at >= since)
    res = await s.execute(q.values(status="queued", next_attempt_at=now, attempts=0, lease_until=None, claimed_by=None))
    return res.rowcount or 0
