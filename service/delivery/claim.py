"""Claiming due deliveries in batches, so that each is sent by one worker at a time.

One statement per batch: `UPDATE … WHERE id IN (SELECT … LIMIT n [FOR UPDATE SKIP LOCKED])
RETURNING id`. On PostgreSQL the row locks let any number of workers claim side by side;
on SQLite the write transaction starts with `BEGIN IMMEDIATE` (see service.db.engine), so
claims are serialised and never fail with "database is locked".

A row is due when it is queued or deferred and its time has come, or when it is being
sent but its lease ran out (the worker that held it died): then it may have reached the
server already, so it is marked `possible_duplicate`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update

from service.db.engine import Database
from service.db.models import Delivery

DUE = ("queued", "deferred")


def due_condition(now: datetime):
    return or_(
        and_(Delivery.status.in_(DUE), Delivery.next_attempt_at <= now),
        and_(Delivery.status == "sending", Delivery.lease_until < now),
    )


async def claim_batch(db: Database, *, worker: str, now: datetime, limit: int, lease_seconds: int) -> list[int]:
    """Take up to `limit` due deliveries for `worker`; returns their ids (oldest first)."""
    pick = select(Delivery.id).where(due_condition(now)).order_by(Delivery.next_attempt_at, Delivery.id).limit(limit)
    if db.is_postgres:
        pick = pick.with_for_update(skip_locked=True)
    stmt = (
        update(Delivery)
        .where(Delivery.id.in_(pick.scalar_subquery()))
        .values(
            status="sending",
            claimed_by=worker,
            lease_until=now + timedelta(seconds=lease_seconds),
            attempts=Delivery.attempts + 1,
            possible_duplicate=or_(Delivery.possible_duplicate, Delivery.status == "sending"),
        )
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )
    async with db.transaction() as session:
        ids = list((await session.scalars(stmt)).all())
    ids.sort()
    return ids


async def count_due(db: Database, now: datetime) -> int:
    from sqlalchemy import func

    async with db.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(Delivery).where(due_condition(now))) or 0)
