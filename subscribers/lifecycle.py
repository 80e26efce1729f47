"""What happens to a subscriber, start to end: signup, confirm, change, leave, erase.

Each step writes a consent record (what, when, from where, which consent text) and queues
the mail it needs through the outbox, in the same transaction, so a step either happened
with its mail queued or did not happen at all. The web pages, the importer and the
bounce handler all come through here.

Rules the public relies on:

- signup answers the same whatever the address (new, pending, active, left, suppressed):
  the difference is only in the mail, and a suppressed address gets none;
- at most one confirmation (or "manage") mail per address per
  `subscribers.confirm_mail_window_minutes`, however often the form is posted;
- only an explicit POST confirms; a token carries the subscriber's `token_version`, and
  confirming or changing address does not revoke the unsubscribe links already in mail;
- leaving takes effect at once: the matcher skips anyone not active, and the send
  worker checks again just before each send.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import Bounce, Delivery
from service.delivery.outbox import enqueue, mail_domain
from service.errors import Invalid
from subscribers import suppression
from subscribers.addresses import BadAddress, normalise
from subscribers.links import email_digest
from service.db.reference import Audience, Municipality, Topic
from subscribers.models import FREQUENCIES, LANGUAGES, Consent, Subscriber, subscriber_municipalities, subscriber_topics
from subscribers.throttle import mail_allowed

if TYPE_CHECKING:
    from service.runtime import Runtime


@dataclass
class Choices:
    """What a subscriber picks on the signup or preferences page (already parsed)."""

    topics: list[str] = field(default_factory=list)
    municipalities: list[str] = field(default_factory=list)  # codes; empty = all of the region
    audience: str = ""  # slug, or "" for none
    frequency: str = "immediate"
    language: str = "da"
    name: str = ""
    organisation: str = ""


@dataclass
class Evidence:
    """Where a step came from, for the consent record."""

    source: str = "web"
    ip: str | None = None
    user_agent: str | None = None


async def check_choices(session: AsyncSession, choices: Choices) -> dict[str, str]:
    """Field → what is wrong, in plain Danish (empty when all is well)."""
    topics = set(await session.scalars(select(Topic.slug).where(Topic.slug.in_(choices.topics),
                                                                 Topic.retired.is_(False)))) if choices.topics else set()
    codes = set(await session.scalars(select(Municipality.code).where(Municipality.code.in_(choices.municipalities)))) \
        if choices.municipalities else set()
    audiences = {choices.audience} if choices.audience and await session.scalar(
        select(Audience.id).where(Audience.slug == choices.audience)) is not None else set()
    return choice_errors(choices, topics=topics, municipalities=codes, audiences=audiences)


def choice_errors(choices: Choices, *, topics: set[str], municipalities: set[str], audiences: set[str]) -> dict[str, str]:
    """`check_choices` against what exists: the topics not retired, the municipality codes and
    the audience slugs (all of them, or at least those chosen)."""
    errors: dict[str, str] = {}
    if not choices.topics:
        errors["topics"] = "Vælg mindst ét emne."
    elif set(choices.topics) - topics:
        errors["topics"] = "Et af de valgte emner findes ikke længere. Vælg igen."
    if choices.municipalities and set(choices.municipalities) - municipalities:
        errors["municipalities"] = "En af de valgte kommuner findes ikke."
    if choices.audience and choices.audience not in audiences:
        errors["audience"] = "Vælg en af rollerne på listen."
    if choices.frequency not in FREQUENCIES:
        errors["frequency"] = "Vælg hvor ofte du vil have besked."
    if choices.language not in LANGUAGES:
        errors["language"] = "Vælg dansk eller engelsk."
    if len(choices.name) > 200:
        errors["name"] = "Navnet er for langt."
    if len(choices.organisation) > 200:
        errors["organisation"] = "Organisationens navn er for langt."
    return errors


async def _apply_choices(session: AsyncSession, sub: Subscriber, choices: Choices) -> None:
    sub.frequency, sub.language = choices.frequency, choices.language
    sub.name, sub.organisation = choices.name.strip()[:200], choices.organisation.strip()[:200]
    sub.audience_id = (await session.scalar(select(Audience.id).where(Audience.slug == choices.audience))
                       if choices.audience else None)
    await session.execute(delete(subscriber_topics).where(subscriber_topics.c.subscriber_id == sub.id))
    topic_ids = list(await session.scalars(select(Topic.id).where(Topic.slug.in_(choices.topics))))
    if topic_ids:
        await session.execute(insert(subscriber_topics), [{"subscriber_id": sub.id, "topic_id": t} for t in topic_ids])
    await session.execute(delete(subscriber_municipalities).where(subscriber_municipalities.c.subscriber_id == sub.id))
    if choices.municipalities:
        await session.execute(insert(subscriber_municipalities),
                              [{"subscriber_id": sub.id, "municipality_code": c} for c in sorted(set(choices.municipalities))])


def _record(session: AsyncSession, sub: Subscriber, action: str, version: str, evidence: Evidence, now: datetime,
            detail: dict | None = None) -> None:
    session.add(Consent(subscriber_id=sub.id, action=action, consent_version=version, source=evidence.source[:200],
                        ip=evidence.ip, user_agent=(evidence.user_agent or "")[:400] or None, detail=detail, at=now))


def window_start(runtime: "Runtime", now: datetime) -> int:
    minutes = runtime.settings.subscribers.confirm_mail_window_minutes
    return int(now.timestamp()) // (minutes * 60)


async def _queue(runtime: "Runtime", session: AsyncSession, sub: Subscriber, kind: str, key: str, now: datetime,
                 recipient: str | None = None, params: dict | None = None) -> int | None:
    # The key names the subscription (id and token version), not just the row: SQLite hands an
    # erased subscriber's id to the next signup, whose mails must not collide with theirs.
    return await enqueue(session, key=f"{key}:v{sub.token_version}", kind=kind, recipient=recipient or sub.email,
                         now=now, domain=mail_domain(runtime.settings.mail.from_address), subscriber_id=sub.id,
                         language=sub.language, params=params or {})


async def _may_mail(runtime: "Runtime", sub: Subscriber, now: datetime) -> bool:
    """The per-address window: one confirmation or manage mail per window, however often asked."""
    last = sub.last_confirm_mail_at
    if last is None:
        return True
    window = timedelta(minutes=runtime.settings.subscribers.confirm_mail_window_minutes)
    return now - last.astimezone(now.tzinfo) >= window


async def inbox_allows(runtime: "Runtime", session: AsyncSession, addresses: list[str], now: datetime) -> list[bool]:
    """Whether each address's inbox may get a confirmation or link mail now (and counted if
    so): one per mailbox, its `+tag` removed, per window; `confirm_mails_per_domain` per domain."""
    cfg = runtime.settings.subscribers
    return await mail_allowed(session, addresses, now=now, window=timedelta(minutes=cfg.confirm_mail_window_minutes),
                              per_domain=cfg.confirm_mails_per_domain)


async def signup(runtime: "Runtime", session: AsyncSession, email: str, choices: Choices, *, now: datetime,
                 evidence: Evidence, inbox_counted: bool = False) -> str:
    """Sign an address up. Returns what happened, for logs and tests only (never shown):
    confirm_sent, manage_sent, throttled or suppressed. The page says the same in every case."""
    address = normalise(email, check_deliverability=runtime.settings.subscribers.check_deliverability)
    version = runtime.settings.subscribers.consent_version
    if await suppression.is_suppressed(session, address):
        return "suppressed"
    sub = await session.scalar(select(Subscriber).where(Subscriber.email == address).with_for_update())
    if sub is not None and sub.status == "blocked":
        return "suppressed"
    if sub is None and not inbox_counted and not (await inbox_allows(runtime, session, [address], now))[0]:
        return "throttled"  # that inbox had its mail this window (victim+2@ after victim+1@): no row, no mail
    if sub is not None and sub.status == "active":
        if not await _may_mail(runtime, sub, now) or not (await inbox_allows(runtime, session, [address], now))[0]:
            return "throttled"
        sub.last_confirm_mail_at = now
        await _queue(runtime, session, sub, "manage", f"manage:{sub.id}:{window_start(runtime, now)}", now)
        return "manage_sent"
    if sub is None:
        # Two signups for a new address at once (PostgreSQL; SQLite's BEGIN IMMEDIATE
        # serialises them): the second insert waits for the first and then hits the unique
        # address. It carries on with the first one's row, like any signup of a known address.
        try:
            async with session.begin_nested():
                sub = Subscriber(email=address, status="pending", created_at=now)
                session.add(sub)
                await session.flush()
        except IntegrityError:
            sub = await session.scalar(select(Subscriber).where(Subscriber.email == address).with_for_update())
            if sub is None:
                raise
            return await signup(runtime, session, email, choices, now=now, evidence=evidence, inbox_counted=True)
    elif not await _may_mail(runtime, sub, now) or not (await inbox_allows(runtime, session, [address], now))[0]:
        return "throttled"  # nothing changes: no mail, no new choices, the status stays
    if sub.status == "unsubscribed":
        sub.status, sub.unsubscribed_at = "pending", None
    await _apply_choices(session, sub, choices)
    _record(session, sub, "signup", version, evidence, now, {"topics": choices.topics,
                                                             "municipalities": choices.municipalities})
    sub.last_confirm_mail_at = now
    await _queue(runtime, session, sub, "confirm", f"confirm:{sub.id}:{window_start(runtime, now)}", now)
    return "confirm_sent"


async def resend_confirmation(runtime: "Runtime", session: AsyncSession, subscriber_id: int, *, now: datetime) -> bool:
    """For an expired confirmation link: a fresh one, within the same per-address window."""
    sub = await session.get(Subscriber, subscriber_id, with_for_update=True)
    if sub is None or sub.status != "pending" or not await _may_mail(runtime, sub, now):
        return False
    if await suppression.is_suppressed(session, sub.email):
        return False
    sub.last_confirm_mail_at = now
    await _queue(runtime, session, sub, "confirm", f"confirm:{sub.id}:{window_start(runtime, now)}", now)
    return True


async def send_manage_link(runtime: "Runtime", session: AsyncSession, email: str, *, now: datetime) -> None:
    """"Send me my link": a mail with the preferences link to an active address; silence otherwise."""
    try:
        address = normalise(email)
    except BadAddress:
        return
    sub = await session.scalar(select(Subscriber).where(Subscriber.email == address).with_for_update())
    if sub is None or sub.status != "active" or not await _may_mail(runtime, sub, now):
        return
    if await suppression.is_suppressed(session, address):
        return
    sub.last_confirm_mail_at = now
    await _queue(runtime, session, sub, "manage", f"manage:{sub.id}:{window_start(runtime, now)}", now)


async def confirm(runtime: "Runtime", session: AsyncSession, subscriber_id: int, *, now: datetime,
                  evidence: Evidence) -> Subscriber | None:
    """Make a pending subscriber active (idempotent for an active one). None when gone or blocked."""
    sub = await session.get(Subscriber, subscriber_id, with_for_update=True)
    if sub is None or sub.status not in ("pending", "active"):
        return None
    if sub.status == "active":
        return sub
    if await suppression.is_suppressed(session, sub.email):
        return None
    sub.status, sub.confirmed_at = "active", now
    _record(session, sub, "confirm", runtime.settings.subscribers.consent_version, evidence, now)
    await _queue(runtime, session, sub, "welcome", f"welcome:{sub.id}:{int(now.timestamp())}", now)
    return sub


async def change_preferences(runtime: "Runtime", session: AsyncSession, subscriber_id: int, choices: Choices, *,
                             now: datetime, evidence: Evidence) -> None:
    sub = await session.get(Subscriber, subscriber_id, with_for_update=True)
    if sub is None:
        raise Invalid("Abonnementet findes ikke længere.")
    errors = await check_choices(session, choices)
    if errors:
        raise Invalid("Tjek de markerede felter.", errors)
    await _apply_choices(session, sub, choices)
    _record(session, sub, "change", runtime.settings.subscribers.consent_version, evidence, now,
            {"topics": choices.topics, "municipalities": choices.municipalities, "frequency": choices.frequency})


async def request_email_change(runtime: "Runtime", session: AsyncSession, subscriber_id: int, new_email: str, *,
                               now: datetime) -> str:
    """Ask the new address to confirm; nothing changes until it does. Returns the normalised address."""
    address = normalise(new_email, check_deliverability=runtime.settings.subscribers.check_deliverability)
    sub = await session.get(Subscriber, subscriber_id, with_for_update=True)
    if sub is None or sub.status != "active":
        raise Invalid("Abonnementet er ikke aktivt.")
    if address == sub.email:
        return address
    sub.pending_email = address
    if await suppression.is_suppressed(session, address) or not (await inbox_allows(runtime, session, [address], now))[0]:
        return address  # the same answer; the mail is simply not sent
    # One mail per new address per window (the key); the page limits requests per client address.
    await _queue(runtime, session, sub, "email_change",
                 f"email_change:{sub.id}:{email_digest(address)}:{window_start(runtime, now)}", now,
                 recipient=address, params={"new_email": address})
    return address


async def confirm_email_change(runtime: "Runtime", session: AsyncSession, subscriber_id: int, digest: str, *,
                               now: datetime, evidence: Evidence) -> bool:
    sub = await session.get(Subscriber, subscriber_id, with_for_update=True)
    if sub is None or sub.status != "active" or not sub.pending_email or email_digest(sub.pending_email) != digest:
        return False
    if await session.scalar(select(Subscriber.id).where(Subscriber.email == sub.pending_email)) is not None:
        return False  # the new address has its own subscription already
    old = sub.email
    sub.email, sub.pending_email = sub.pending_email, None
    _record(session, sub, "email_change", runtime.settings.subscribers.consent_version, evidence, now,
            {"from_hash": suppression.email_hash(old)})
    return True


async def unsubscribe(session: AsyncSession, subscriber: int | Subscriber, now: datetime, topic: str | None = None,
                      source: str = "web") -> str:
    """Leave one topic, or everything. Idempotent. Returns what is left: "topic_removed",
    "unsubscribed" or "already" (nothing to do)."""
    sub = subscriber if isinstance(subscriber, Subscriber) else await session.get(Subscriber, subscriber,
                                                                                 with_for_update=True)
    if sub is None or sub.status in ("unsubscribed", "blocked"):
        return "already"
    if topic:
        topic_id = await session.scalar(select(Topic.id).where(Topic.slug == topic))
        left = set(await session.scalars(select(subscriber_topics.c.topic_id)
                                         .where(subscriber_topics.c.subscriber_id == sub.id)))
        if topic_id is not None and topic_id in left and len(left) > 1:
            await session.execute(delete(subscriber_topics).where(subscriber_topics.c.subscriber_id == sub.id,
                                                                  subscriber_topics.c.topic_id == topic_id))
            session.add(Consent(subscriber_id=sub.id, action="unsubscribe_topic", consent_version="", source=source[:200],
                                detail={"topic": topic}, at=now))
            return "topic_removed"
        if topic_id is not None and topic_id not in left:
            return "already"
    sub.status, sub.unsubscribed_at = "unsubscribed", now
    session.add(Consent(subscriber_id=sub.id, action="unsubscribe", consent_version="", source=source[:200], at=now))
    # Queued messages that have not gone yet will not go: the worker checks the status too.
    await session.execute(update(Delivery).where(Delivery.subscriber_id == sub.id,
                                                 Delivery.status.in_(("queued", "deferred")))
                          .values(status="cancelled", last_error="unsubscribed"))
    return "unsubscribed"


async def request_export(runtime: "Runtime", session: AsyncSession, subscriber_id: int, *, now: datetime) -> bool:
    """Mail the person's data to their confirmed address (never shown on a page, never elsewhere)."""
    sub = await session.get(Subscriber, subscriber_id, with_for_update=True)
    if sub is None or sub.status != "active":
        return False
    # At most one per window: the key.
    await _queue(runtime, session, sub, "export", f"export:{sub.id}:{window_start(runtime, now)}", now)
    return True


async def erase(session: AsyncSession, subscriber_id: int, *, now: datetime, by: str) -> bool:
    """Delete the person (GDPR art. 17). Left behind: a suppression hash, so the address is
    never written to again, and delivery records with the address removed (for the counts)."""
    sub = await session.get(Subscriber, subscriber_id, with_for_update=True)
    if sub is None:
        return False
    email = sub.email
    await suppression.suppress(session, email, reason="erased", now=now, by=by)
    if sub.pending_email:
        await session.execute(delete(Bounce).where(Bounce.email == sub.pending_email))
    await session.execute(delete(Bounce).where(Bounce.email == email))
    await session.execute(update(Delivery).where(Delivery.subscriber_id == sub.id, Delivery.status.in_(("queued", "deferred")))
                          .values(status="cancelled", last_error="erased"))
    await session.execute(update(Delivery).where(Delivery.subscriber_id == sub.id)
                          .values(recipient="erased", body=None, params={}))
    await session.execute(delete(Subscriber).where(Subscriber.id == sub.id))
    return True
