"""Applying a bounce or complaint report: `apply_report(runtime, raw) -> BounceResult`.

1. Read the report (service.bounces.parse), in a worker thread: the event loop that
   serves pages and sends mail never waits for a report to be read.
2. Find the delivery it is about: by the original Message-ID, else by the failed
   recipients' recent deliveries whose signed return address the report carries (one
   query for all of them, read before any write lock is taken).
3. Believe it only when the report reached (or quotes) the signed return address of that
   delivery (`[bounces] require_signature`): a forged bounce changes nothing.
4. Hard bounce or complaint: suppress the address and unsubscribe (press contacts are
   marked bounced). Soft bounce: count it; at `soft_bounce_threshold` within
   `soft_bounce_decay_days`, suppress. Every applied report leaves a `Bounce` row.

The work per report is bounded: the parser reads at most `parse.MAX_RECIPIENTS`
recipients, and a report about one of our deliveries acts on that delivery's one
recipient only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select

from service.bounces.audience import count_soft_bounce, suppress
from service.bounces.parse import Report, clean, parse_report
from service.bounces.returnpath import tags_in, verified
from service.db.models import Bounce, Delivery
from service.delivery import metrics
from service.delivery.headers import HeaderError, smtp_form
from subscribers.addresses import BadAddress, normalise

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from service.runtime import Runtime

log = logging.getLogger(__name__)
RECENT_PER_ADDRESS = 50  # sent deliveries per recipient looked at when a report names no Message-ID


@dataclass
class BounceResult:
    status: str  # applied, ignored, forged, unparsed
    kind: str | None = None  # hard, soft, complaint
    recipients: list[str] = field(default_factory=list)
    delivery_id: int | None = None
    suppressed: list[str] = field(default_factory=list)
    reason: str = ""


async def read_report(raw: bytes, max_bytes: int) -> Report | BounceResult:
    """The parsed report, or the result that says why there is none (off the event loop)."""
    if len(raw) > max_bytes:
        return BounceResult("ignored", reason="report too large")
    try:
        report = await asyncio.to_thread(parse_report, raw)
    except Exception as exc:  # a malformed report is dropped, never a crash
        log.info("unreadable bounce report: %s", exc)
        return BounceResult("unparsed", reason=f"unreadable: {type(exc).__name__}")
    if report.kind in ("unknown", "none"):
        return BounceResult("unparsed" if report.kind == "unknown" else "ignored", reason="not a failure report")
    return report


async def apply_report(runtime: "Runtime", raw: bytes, *, envelope_to: str | Iterable[str] | None = None) -> BounceResult:
    """Read `raw` and apply it. `envelope_to`: the address(es) it was delivered to."""
    report = await read_report(raw, runtime.settings.bounces.max_bytes)
    if isinstance(report, BounceResult):
        return report
    return await apply_parsed(runtime, report, envelope_to=envelope_to)


async def apply_parsed(runtime: "Runtime", report: Report, *,
                       envelope_to: str | Iterable[str] | None = None) -> BounceResult:
    settings = runtime.settings
    secret = settings.service.secret()
    envelope = [envelope_to] if isinstance(envelope_to, str) or envelope_to is None else list(envelope_to)
    tags = tags_in(*envelope, report.report_to, report.original_return_path)
    async with runtime.db.reader() as session:
        delivery = await _find_delivery(session, report, secret, tags)
        if delivery is not None:
            session.expunge(delivery)
    if delivery is None:
        if settings.bounces.require_signature:
            return BounceResult("ignored", report.kind, reason="no delivery of ours matches the report")
    elif settings.bounces.require_signature and not verified(secret, delivery.message_id, tags):
        log.warning("bounce report for delivery %s without a valid return-path signature: ignored", delivery.id)
        return BounceResult("forged", report.kind, delivery_id=delivery.id, reason="return address signature missing or wrong")
    result = BounceResult("applied", report.kind, delivery_id=delivery.id if delivery else None)
    targets = _targets(report, delivery)
    if not targets:
        result.status, result.reason = "ignored", "the report names none of our recipients"
        return result
    now = runtime.clock.now()
    async with runtime.db.transaction() as session:
        for email, kind, diagnostic in targets:
            result.recipients.append(email)
            session.add(Bounce(email=email, kind=kind, diagnostic=diagnostic, received_at=now,
                               delivery_id=delivery.id if delivery else None))
            if kind in ("hard", "complaint"):
                await suppress(session, email, reason="complaint" if kind == "complaint" else "hard_bounce",
                               now=now, note=diagnostic[:500])
                result.suppressed.append(email)
            elif kind == "soft":
                if await count_soft_bounce(session, email, now=now, threshold=settings.delivery.soft_bounce_threshold,
                                           decay_days=settings.delivery.soft_bounce_decay_days):
                    result.suppressed.append(email)
    for _, kind, _ in targets:
        metrics.BOUNCES.labels(kind).inc()
    return result


def _targets(report: Report, delivery: Delivery | None) -> list[tuple[str, str, str]]:
    """(address, kind, diagnostic) to act on; with a delivery, only its own recipient."""
    if report.kind == "complaint":
        address = delivery.recipient.lower() if delivery else (report.recipients[0].email if report.recipients else "")
        return [(address, "complaint", clean(report.diagnostic))] if address else []
    out = []
    for r in report.recipients:
        if r.kind not in ("hard", "soft"):
            continue
        email = r.email
        if delivery is not None:
            # A report names the address as it went over SMTP (ole@xn--bcher-kva.dk); we keep ole@bücher.dk.
            if not _same_address(email, delivery.recipient):
                continue
            email = delivery.recipient.lower()
        out.append((email, r.kind, clean(f"{r.status} {r.diagnostic}".strip())))
        if delivery is not None:
            break  # one delivery, one recipient: a report naming it twice counts once
    return out


def _same_address(a: str, b: str) -> bool:
    try:
        return smtp_form(a.strip()).lower() == smtp_form(b.strip()).lower()
    except HeaderError:
        return False


def _stored_form(address: str) -> str:
    """How we keep an address (international domains in Unicode), as the report may not."""
    try:
        return normalise(address)
    except BadAddress:
        return ""


async def _find_delivery(session: "AsyncSession", report: Report, secret: bytes, tags: list[str]) -> Delivery | None:
    if report.original_message_id:
        found = await session.scalar(select(Delivery).where(Delivery.message_id == report.original_message_id))
        if found is not None:
            return found
    if not tags:
        return None  # nothing could verify a delivery found by its recipient
    # No (known) Message-ID: the recipients' recent messages, matched by the signed tag.
    named = {r.email for r in report.recipients} | ({report.original_to} if report.original_to else set())
    addresses = sorted(named | {_stored_form(a) for a in named} - {""})
    if not addresses:
        return None
    rows = await session.scalars(
        select(Delivery).where(Delivery.recipient.in_(addresses), Delivery.status == "sent")
        .order_by(Delivery.sent_at.desc()).limit(RECENT_PER_ADDRESS * len(addresses))
    )
    for d in rows:
        if verified(secret, d.message_id, tags):
            return d
    return None
