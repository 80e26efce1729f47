"""The last look before sending: is this recipient still someone we may write to?

A subscriber must still be active (confirmation and address-change mails go to pending
subscribers too), a press contact still active, and no address may be on the
suppression list. Checked for a whole batch with three queries.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.campaigns import PressContact
from service.db.models import Delivery
from subscribers.models import Subscriber
from subscribers.suppression import suppressed

PENDING_OK = frozenset({"confirm", "email_change"})


async def refused(session: AsyncSession, deliveries: Sequence[Delivery]) -> dict[int, str]:
    """delivery id -> why it must not be sent."""
    out: dict[int, str] = {}
    sub_ids = {d.subscriber_id for d in deliveries if d.subscriber_id is not None}
    press_ids = {d.press_contact_id for d in deliveries if d.press_contact_id is not None}
    statuses: dict[int, str] = {}
    if sub_ids:
        rows = await session.execute(select(Subscriber.id, Subscriber.status).where(Subscriber.id.in_(sub_ids)))
        statuses = {r.id: r.status for r in rows}
    press: dict[int, str] = {}
    if press_ids:
        rows = await session.execute(select(PressContact.id, PressContact.status).where(PressContact.id.in_(press_ids)))
        press = {r.id: r.status for r in rows}
    for d in deliveries:
        if d.subscriber_id is not None:
            status = statuses.get(d.subscriber_id)
            allowed = ("pending", "active") if d.kind in PENDING_OK else ("active",)
            if status not in allowed:
                out[d.id] = f"subscriber is {status or 'gone'}"
        elif d.press_contact_id is not None and press.get(d.press_contact_id) != "active":
            out[d.id] = f"press contact is {press.get(d.press_contact_id) or 'gone'}"
    blocked = await suppressed(session, [d.recipient for d in deliveries if d.id not in out])
    for d in deliveries:
        if d.id not in out and d.recipient in blocked:
            out[d.id] = "address is suppressed"
    return out
