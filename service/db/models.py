"""Engine tables: sources and items, matches and digest runs, the delivery ledger, staff
users and sessions, the audit log, API tokens, feedback and bounces (campaigns and the
press list: `service.db.campaigns`).

Read the flow top to bottom: Source → Item → Match → DigestRun → Delivery.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.db.base import Base
# Every table on the one metadata (Alembic, the model/migration check): the reference data
# and the audience's tables are defined next to their owners.
import service.db.campaigns  # noqa: F401
import service.db.heartbeats  # noqa: F401
import service.db.reference  # noqa: F401
import service.db.releases  # noqa: F401
import subscribers.models  # noqa: F401

ITEM_KINDS = ("figures", "analysis", "guideline", "best_practice", "news", "event", "press_release")
DELIVERY_STATUSES = ("queued", "sending", "sent", "deferred", "failed", "cancelled")


# ---------------------------------------------------------------- sources and items


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # feed, statbank, push, admin
    url: Mapped[str | None] = mapped_column(Text)
    item_kind: Mapped[str] = mapped_column(String(32), default="news")
    topics: Mapped[list[Any]] = mapped_column(default=list)  # default topic slugs
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)  # kind-specific, incl. category rules
    interval_minutes: Mapped[int] = mapped_column(Integer, default=30)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Conditional GET state.
    etag: Mapped[str | None] = mapped_column(String(400))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    # StatBank: the table's `updated` value last ingested.
    remote_updated: Mapped[str | None] = mapped_column(String(64))
    # Health, shown to admins.
    next_poll_at: Mapped[datetime | None]
    last_polled_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


item_topics = Table(
    "item_topics",
    Base.metadata,
    Column("item_id", ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, index=True),
)

item_municipalities = Table(
    "item_municipalities",
    Base.metadata,
    Column("item_id", ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("municipality_code", ForeignKey("municipalities.code"), primary_key=True, index=True),
)


class Item(Base):
    """One real-world publication, however many sources carried it."""

    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")  # plain text
    summary_html: Mapped[str] = mapped_column(Text, default="")  # sanitised
    link: Mapped[str | None] = mapped_column(Text)
    canonical_link: Mapped[str | None] = mapped_column(String(1000), unique=True)
    language: Mapped[str] = mapped_column(String(2), default="da")
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any] | None] = mapped_column(default=None)  # figures block
    period: Mapped[str | None] = mapped_column(String(16))  # figures: "2026M09"
    content_hash: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    public_at: Mapped[datetime | None]  # embargo: not public before this (None = now)
    # Matching bookkeeping: every new or changed item is matched exactly once per revision.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    matched_revision: Mapped[int] = mapped_column(Integer, default=0)
    announce_revision: Mapped[bool] = mapped_column(Boolean, default=False)  # tell subscribers of this change

    __table_args__ = (Index("ix_items_unmatched", "matched_revision", "revision"),)


class ItemSource(Base):
    """Which source carried which item, under which key (guid, link, hash, external id)."""

    __tablename__ = "item_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    entry_key: Mapped[str] = mapped_column(String(500))
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("source_id", "entry_key"),)


class ItemRevision(Base):
    """What changed when an item was updated (a feed edit, a StatBank revision)."""

    __tablename__ = "item_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime]


# ---------------------------------------------------------------- matching and digests


class Match(Base):
    """One item matched to one subscriber, at most once (the unique key).

    Immediate matches get a delivery at once (`delivery_id`); daily and weekly ones stay
    pending (the digest entries) until a digest run takes them.
    """

    __tablename__ = "matches"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Erasing a subscriber takes their matches with them (the cascade). The item and the alert
    # have no foreign key: the product never deletes either, both are written in the same
    # transaction as the match, and checking them row by row was half of a large fan-out's
    # time on PostgreSQL (migration 0007).
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(index=True)
    frequency: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    delivery_id: Mapped[int | None]

    __table_args__ = (
        UniqueConstraint("subscriber_id", "item_id"),
        # Only matches that have their delivery (a digest entry waits for its own): every
        # lookup by delivery names one.
        Index("ix_matches_delivery_id", "delivery_id", postgresql_where=text("delivery_id IS NOT NULL"),
              sqlite_where=text("delivery_id IS NOT NULL")),
    )


class DigestRun(Base):
    """One digest per frequency and period ("daily", "2026-11-23"); the key makes it run once."""

    __tablename__ = "digest_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    frequency: Mapped[str] = mapped_column(String(16))
    period_key: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="running")  # running, done
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    deliveries: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (UniqueConstraint("frequency", "period_key"),)


# ---------------------------------------------------------------- delivery ledger


class Delivery(Base):
    """One message to one recipient, written before any SMTP traffic."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Idempotency key, e.g. "alert:<item>:<subscriber>", "digest:<run>:<subscriber>".
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # confirm, welcome, manage, alert, digest, press_release, newsletter, notice, export, test
    recipient: Mapped[str] = mapped_column(String(320))
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("subscribers.id", ondelete="SET NULL"), index=True)
    press_contact_id: Mapped[int | None] = mapped_column(ForeignKey("press_contacts.id", ondelete="SET NULL"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    digest_run_id: Mapped[int | None] = mapped_column(ForeignKey("digest_runs.id", ondelete="SET NULL"))
    item_id: Mapped[int | None]  # an alert's item (no foreign key: items are never deleted; migration 0007)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # what the renderer needs beyond the ids
    language: Mapped[str] = mapped_column(String(2), default="da")
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(250), index=True)  # bounces find their delivery by it
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)  # the sent bytes, purged after retention
    possible_duplicate: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_deliveries_claim", "status", "next_attempt_at"),
        # Only campaign messages (every lookup by campaign names one; migration 0009).
        Index("ix_deliveries_campaign_id", "campaign_id", postgresql_where=text("campaign_id IS NOT NULL"),
              sqlite_where=text("campaign_id IS NOT NULL")),
    )


class Bounce(Base):
    """A bounce or complaint received for an address (RFC 3464 DSN, ARF)."""

    __tablename__ = "bounces"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # hard, soft, complaint
    diagnostic: Mapped[str] = mapped_column(Text, default="")
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id", ondelete="SET NULL"))
    received_at: Mapped[datetime]


class Feedback(Base):
    """'Var det nyttigt? Ja / Nej' from a message, one answer per item and subscriber."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("subscribers.id", ondelete="SET NULL"))
    useful: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("item_id", "subscriber_id"),)


# ---------------------------------------------------------------- staff, audit, API


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))  # admin, press, editor
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


class StaffSession(Base):
    """A logged-in staff session; only the hash of the cookie value is stored."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ip: Mapped[str | None] = mapped_column(String(64))


class RateEvent(Base):
    """Counted events for limits shared by every process (login failures per IP, signups per IP)."""

    __tablename__ = "rate_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[str] = mapped_column(String(200))  # e.g. "login-ip:203.0.113.5"
    at: Mapped[datetime]

    __table_args__ = (Index("ix_rate_events_bucket_at", "bucket", "at"),)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(320))  # kept when the user is deleted
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(index=True)


class ApiToken(Base):
    """Bearer tokens for systems that push items; only the SHA-256 of the token is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class PushedItem(Base):
    """Idempotency for POST /api/v1/items: one item per sender's external id."""

    __tablename__ = "pushed_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("token_id", "external_id"),)
