"""Writing a batch's outcomes back: one transaction, one executemany per batch.

Each row is written only while this worker still holds it (`claimed_by`, status
"sending"): if its lease ran out and another worker took it over, that worker records it.
Refused addresses (5xx at RCPT) are handed to `refused` in the same transaction (the
composition root makes that the bounce rules: suppress, unsubscribe, mark the contact).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.engine import Database
from service.db.models import Delivery
from service.delivery.policy import Outcome

_TABLE = Delivery.__table__
# (session, address, now, note): what a refused address does to the audience.
Refused = Callable[[AsyncSession, str, datetime, str], Awaitable[None]]

_RECORD = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("b_id"), _TABLE.c.claimed_by == bindparam("b_worker"), _TABLE.c.status == "sending")
    .values(
        status=bindparam("b_status"),
        last_error=bindparam("b_error"),
        next_attempt_at=bindparam("b_next"),
        subject=bindparam("b_subject"),
        body=bindparam("b_body"),
        sent_at=bindparam("b_sent_at"),
        possible_duplicate=bindparam("b_dup"),
        lease_until=None,
    )
)


async def record(db: Database, outcomes: Sequence[Outcome], *, worker: str, now: datetime,
                 current_next: dict[int, datetime], refused: Refused) -> None:
    if not outcomes:
        return
    params = [
        {
            "b_id": o.id,
            "b_worker": worker,
            "b_status": o.status,
            "b_error": o.error,
            "b_next": o.next_attempt_at or current_next[o.id],
            "b_subject": o.subject,
            "b_body": o.body,
            "b_sent_at": now if o.status == "sent" else None,
            "b_dup": o.possible_duplicate,
        }
        for o in outcomes
    ]
    async with db.transaction() as session:
        await session.execute(_RECORD, params)
        for o in outcomes:
            if o.suppress and o.recipient:
                await refused(session, o.recipient, now, (o.error or "")[:500])
