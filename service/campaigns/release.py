"""The scheduler's job: release due campaigns, lift embargoes, mark finished ones sent.

`release_due(runtime)` runs every `schedule.campaign_check_seconds` on any number of
processes, and at the moment of the next release or embargo (`next_moment`: the
scheduler's timer); every step is a conditional UPDATE plus idempotent delivery keys, so two
processes running it at once queue each message once.

    scheduled, scheduled_at <= now      → sending; the press copies are queued (marked
                                          "under embargo" when embargo_until is later)
    sending, embargo over (or none)     → the public part: subscribers are queued,
                                          public_released_at is set (archive and feed
                                          show it from embargo_until on, by time alone)
    sending, public part done, no
    delivery still queued/sending/deferred → sent, or failed when not one of its
                                          messages was sent (the reason is on its page
                                          and the dashboard: its deliveries' errors)
    failed, deliveries queued again        → sending (an admin retried them)
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import exists, func, or_, select, update

from service.campaigns.audience import enqueue_all, recipients_for
from service.clock import as_utc
from service.db.campaigns import Campaign
from service.db.models import Delivery
from service.delivery.outbox import mail_domain

if TYPE_CHECKING:
    from service.runtime import Runtime

log = logging.getLogger(__name__)
OPEN = ("queued", "sending", "deferred")


async def release_due(runtime: "Runtime") -> int:
    """Run one round; return the number of deliveries queued."""
    now = runtime.clock.now()
    domain = mail_domain(runtime.settings.mail.from_address)
    press_topic = runtime.settings.campaigns.press_topic
    queued = 0
    async with runtime.db.reader() as s:
        due = (await s.scalars(
            select(Campaign.id).where(Campaign.status == "scheduled", Campaign.scheduled_at <= now).order_by(Campaign.id)
        )).all()
    for cid in due:
        queued += await _start(runtime, cid, now, domain, press_topic)
    async with runtime.db.reader() as s:
        lifting = (await s.scalars(
            select(Campaign.id)
            .where(Campaign.status == "sending", Campaign.public_released_at.is_(None))
            .where(or_(Campaign.embargo_until.is_(None), Campaign.embargo_until <= now))
            .order_by(Campaign.id)
        )).all()
    for cid in lifting:
        queued += await _release_public(runtime, cid, now, domain, press_topic)
    await _finish(runtime, now)
    if queued:
        runtime.nudges.outbox()  # a worker in this process looks at once, not at its next poll
    return queued


async def next_moment(runtime: "Runtime") -> datetime | None:
    """When `release_due` next has something to do by the clock: the earliest scheduled
    release, or the end of an embargo not yet lifted (None: nothing waits). The scheduler
    sets a timer for it, so a campaign leaves at its second, not at the next poll."""
    async with runtime.db.reader() as s:
        start = await s.scalar(select(func.min(Campaign.scheduled_at)).where(Campaign.status == "scheduled"))
        lift = await s.scalar(select(func.min(Campaign.embargo_until)).where(
            Campaign.status == "sending", Campaign.public_released_at.is_(None), Campaign.embargo_until.is_not(None)))
    moments = [as_utc(m) for m in (start, lift) if m is not None]
    return min(moments) if moments else None


async def _start(runtime: "Runtime", cid: int, now: datetime, domain: str, press_topic: str) -> int:
    async with runtime.db.transaction() as s:
        moved = await s.execute(
            update(Campaign).where(Campaign.id == cid, Campaign.status == "scheduled")
            .values(status="sending", started_at=now, updated_at=now)
        )
        if moved.rowcount != 1:
            return 0  # another process took it, or it was cancelled a moment ago
        c = await s.get(Campaign, cid)
        n = await enqueue_all(s, c, await recipients_for(s, c, "press", press_topic), now=now, domain=domain)
    log.info("campaign %s: sending, %d press copies queued", cid, n)
    return n


async def _release_public(runtime: "Runtime", cid: int, now: datetime, domain: str, press_topic: str) -> int:
    async with runtime.db.transaction() as s:
        moved = await s.execute(
            update(Campaign).where(Campaign.id == cid, Campaign.status == "sending", Campaign.public_released_at.is_(None))
            .values(public_released_at=now, updated_at=now)
        )
        if moved.rowcount != 1:
            return 0
        c = await s.get(Campaign, cid)
        n = await enqueue_all(s, c, await recipients_for(s, c, "sub", press_topic), now=now, domain=domain)
    log.info("campaign %s: public, %d subscriber copies queued", cid, n)
    return n


async def _finish(runtime: "Runtime", now: datetime) -> None:
    still_open = exists().where(Delivery.campaign_id == Campaign.id, Delivery.status.in_(OPEN))
    any_sent = exists().where(Delivery.campaign_id == Campaign.id, Delivery.status == "sent")
    any_failed = exists().where(Delivery.campaign_id == Campaign.id, Delivery.status == "failed")
    done = (Campaign.status == "sending", Campaign.public_released_at.is_not(None), ~still_open)
    async with runtime.db.transaction() as s:
        await s.execute(
            update(Campaign).where(Campaign.status == "failed", still_open)
            .values(status="sending", updated_at=now).execution_options(synchronize_session=False)
        )
        await s.execute(
            update(Campaign).where(*done, any_failed, ~any_sent)
            .values(status="failed", sent_at=None, updated_at=now).execution_options(synchronize_session=False)
        )
        await s.execute(
            update(Campaign).where(*done)
            .values(status="sent", sent_at=now, updated_at=now).execution_options(synchronize_session=False)
        )
