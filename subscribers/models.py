"""Audience tables: subscribers and their choices, the consent record, and the suppression
list. The reference data they point at (topics, audiences, municipalities) is storage's
(`service.db.reference`)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db.base import Base
from service.db.reference import Municipality, Topic

FREQUENCIES = ("immediate", "daily", "weekly")
LANGUAGES = ("da", "en")
# pending: signed up, not confirmed. active: confirmed. unsubscribed: left.
# blocked: stopped by an admin. Erased subscribers are deleted, leaving a suppression row.
STATUSES = ("pending", "active", "unsubscribed", "blocked")


subscriber_topics = Table(
    "subscriber_topics",
    Base.metadata,
    Column("subscriber_id", ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, index=True),
)

subscriber_municipalities = Table(
    "subscriber_municipalities",
    Base.metadata,
    Column("subscriber_id", ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True),
    Column("municipality_code", ForeignKey("municipalities.code"), primary_key=True, index=True),
)


def first_token_version() -> int:
    """A new subscriber's links start at a random version rather than 1. SQLite gives the
    id of a deleted subscriber (erased, or an expired signup) to the next new one; with
    version 1 for both, the deleted person's old links (preferences, unsubscribe, confirm)
    would open the newcomer's subscription. Room is left for bumps within 32 bits."""
    return secrets.randbelow(2**30) + 1


class Subscriber(Base):
    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # normalised
    name: Mapped[str] = mapped_column(String(200), default="")
    organisation: Mapped[str] = mapped_column(String(200), default="")
    audience_id: Mapped[int | None] = mapped_column(ForeignKey("audiences.id", ondelete="SET NULL"))
    frequency: Mapped[str] = mapped_column(String(16), default="immediate")
    language: Mapped[str] = mapped_column(String(2), default="da")
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    # Bumped to revoke every link issued before (tokens carry the version they were made with).
    token_version: Mapped[int] = mapped_column(Integer, default=first_token_version)
    pending_email: Mapped[str | None] = mapped_column(String(320))  # new address awaiting confirmation
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    last_confirm_mail_at: Mapped[datetime | None]  # rate limit for confirmation mails
    soft_bounces: Mapped[int] = mapped_column(Integer, default=0)
    last_bounce_at: Mapped[datetime | None]

    topics: Mapped[list[Topic]] = relationship(secondary=subscriber_topics, lazy="raise")
    municipalities: Mapped[list[Municipality]] = relationship(secondary=subscriber_municipalities, lazy="raise")

    __table_args__ = (Index("ix_subscribers_status_frequency", "status", "frequency"),)


class Consent(Base):
    """The consent record: every signup, confirmation, change and withdrawal, with evidence."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(32))  # signup, confirm, change, unsubscribe, import, resubscribe
    consent_version: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(200), default="web")  # web, import:<name>, admin:<user>
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    detail: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    at: Mapped[datetime]


class Suppression(Base):
    """Addresses we must never write to. Only a hash of the normalised address is kept."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(32))  # unsubscribed, hard_bounce, complaint, erased, manual
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200), default="system")


class SubscriberImport(Base):
    """A CSV import being written in the background, chunk by chunk: its progress, then its
    outcome. Skipped rows are kept by line and reason only, never by address, so an erasure
    leaves nothing of the person here."""

    __tablename__ = "subscriber_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(200), default="")
    consent_source: Mapped[str] = mapped_column(String(200), default="")
    started_by: Mapped[str] = mapped_column(String(320), default="")
    status: Mapped[str] = mapped_column(String(16), default="running")  # running, done, failed, stopped
    total: Mapped[int] = mapped_column(Integer, default=0)  # rows to write
    done: Mapped[int] = mapped_column(Integer, default=0)  # rows written so far
    added: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[list[Any]] = mapped_column(default=list)  # [{"line": 7, "reason": "..."}]
    error: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
