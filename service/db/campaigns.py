"""Campaign tables: press releases and newsletters, what they carry (items picked into an
issue, attachments), and the press list with its saved segments.

A campaign is fanned out into rows of the delivery ledger (`service.db.models.Delivery`,
whose `campaign_id` and `press_contact_id` point here).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db.base import Base


class PressContact(Base):
    __tablename__ = "press_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    outlet: Mapped[str] = mapped_column(String(200), default="")
    media_type: Mapped[str] = mapped_column(String(32), default="regional")  # national, regional, local, broadcast, trade, agency
    region: Mapped[str] = mapped_column(String(100), default="")
    beats: Mapped[list[Any]] = mapped_column(default=list)  # topic slugs
    status: Mapped[str] = mapped_column(String(16), default="active")  # active, inactive, bounced, complained
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PressSegment(Base):
    """A named filter of the press list (media types, regions, beats) a release can go to."""

    __tablename__ = "press_segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    filter: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"media_types": [...], "regions": [...], "beats": [...]}
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Campaign(Base):
    """A press release or a newsletter: composed, scheduled, fanned out into deliveries."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # press_release, newsletter
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft, scheduled, sending, sent, cancelled
    title: Mapped[str] = mapped_column(Text)
    lead: Mapped[str] = mapped_column(Text, default="")
    body_md: Mapped[str] = mapped_column(Text, default="")
    theme: Mapped[str] = mapped_column(String(64), default="standard")
    focus: Mapped[str] = mapped_column(String(200), default="")  # the month's thematic focus
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[str] = mapped_column(String(320), default="")
    contact_phone: Mapped[str] = mapped_column(String(64), default="")
    audience: Mapped[dict[str, Any]] = mapped_column(default=dict)  # segments and topics
    scheduled_at: Mapped[datetime | None]
    embargo_until: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    # When the public part (subscribers) was fanned out: at scheduled_at, or at embargo_until.
    public_released_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    figures_item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CampaignItem(Base):
    """Items an editor picked into a newsletter issue, in order."""

    __tablename__ = "campaign_items"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class CampaignAttachment(Base):
    __tablename__ = "campaign_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
