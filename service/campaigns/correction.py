"""Correction ("Rettelse"): a corrected version re-sent to exactly those who got the original.

`start_correction` makes a new draft campaign copying the original (title, body, theme,
attachments are not copied) with `corrects_id` set. Once edited, it is scheduled like any
campaign; `audience.recipients_for` then sends it to the original's recipients, press
copies first and subscriber copies when the original's embargo is over.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from service.db.campaigns import Campaign
from service.errors import Conflict, NotFound


async def start_correction(session: AsyncSession, original_id: int, *, now: datetime, user_id: int | None = None) -> int:
    orig = await session.get(Campaign, original_id)
    if orig is None:
        raise NotFound("Kampagnen findes ikke.")
    if orig.status not in ("sending", "sent"):
        raise Conflict("Kun en udsendt kampagne kan rettes; ret kladden i stedet.")
    title = orig.title if orig.title.startswith("Rettelse") else f"Rettelse: {orig.title}"
    c = Campaign(
        kind=orig.kind, status="draft", title=title, lead=orig.lead, body_md=orig.body_md, theme=orig.theme,
        focus=orig.focus, contact_name=orig.contact_name, contact_email=orig.contact_email,
        contact_phone=orig.contact_phone, audience=dict(orig.audience or {}), corrects_id=orig.id,
        # Under embargo still? Then so is the correction, to the same minute.
        embargo_until=orig.embargo_until if orig.embargo_until and orig.embargo_until > now else None,
        created_by=user_id, created_at=now, updated_at=now,
    )
    session.add(c)
    await session.flush()
    return c.id
