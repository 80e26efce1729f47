"""A test send: the campaign as it will look, to the staff member's own address only.

Not linked to the campaign's ledger (no `campaign_id`), so it is never counted in the
report, never a recipient of a correction, and never holds the campaign back from "sent".
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from service.db.campaigns import Campaign
from service.delivery.outbox import enqueue, mail_domain
from service.errors import NotFound

if TYPE_CHECKING:
    from service.runtime import Runtime


async def send_test(runtime: "Runtime", campaign_id: int, *, to: str, name: str = "", language: str = "da") -> int:
    """Queue the test mail. A newsletter's test reads as a subscriber's mail, a press
    release's as the press copy; merge fields are filled with the staff member's name."""
    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        c = await s.get(Campaign, campaign_id)
        if c is None:
            raise NotFound("Kampagnen findes ikke.")
        delivery_id = await enqueue(
            s, key=f"campaign:{campaign_id}:test:{secrets.token_hex(8)}", kind=c.kind, recipient=to, now=now,
            domain=mail_domain(runtime.settings.mail.from_address), language=language,
            params={"campaign_id": campaign_id, "test": True, "part": "test", "name": name[:200]},
        )
    return delivery_id or 0
