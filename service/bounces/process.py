"""Applying a bounce or complaint report: `apply_report(runtime, raw) -> BounceResult`.

1. Read the report (service.bounces.parse).
2. Find the delivery it is about: by the original Message-ID, else by the failed
   recipient's recent deliveries whose signed return address the report carries.
3. Believe it only when the report reached (or quotes) the signed return address of that
   delivery (`[bounces] require_signature`): a forged bounce changes nothing.
4. Hard bounce or complaint: suppress the address and unsubscribe (press contacts are
   marked bounced). Soft bounce: count it; at `soft_bounce_threshold` within
   `soft_bounce_decay_days`, suppress. Every applied report leaves a `Bounce` row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select

from service.bounces.audience import count_soft_bounce, suppress
from service.bounces.parse import Report, clean, parse_report
from service.bounces.returnpath import tags_in, verified
from service.db.models import Bounce, Delivery
from service.delivery import metrics

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from service.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class BounceResult:
    status: str  # applied, ignored, forged, unparsed
    kind: str | None = None  # hard, soft, complaint
    recipients: list[str] = field(default_factory=list)
    delivery_id: int | None = None
    suppressed: list[str] = field(default_factory=list)
    reason: str = ""


async def apply_report(runtime: "Runtime", raw: bytes, *, envelope_to: str | None = None) -> BounceResult:
    settings = runtime.settings
    if len(raw) > settings.bounces.max_bytes:
        return BounceResult("ignored", reason="report too large")
    try:
        report = parse_report(raw)
    except Exception as exc:  # a malformed report is dropped, never a crash
        log.info("unreadable bounce report: %s", exc)
        return BounceResult("unparsed", reason=f"unreadable: {type(exc).__name__}")
    if report.kind in ("unknown", "none"):
        return BounceResult("unparsed" if report.kind == "unknown" else "ignored", reason="not a failure report")
    secret = settings.service.secret()
    tags = tags_in(envelope_to, report.report_to, report.original_return_path)
    now = runtime.clock.now()
    async with runtime.db.transaction() as session:
        delivery = await _find_delivery(session, report, secret, tags)
        if delivery is None:
            if settings.bounces.require_signature:
                return BounceResult("ignored", report.kind, reason="no delivery of ours matches the report")
        elif settings.bounces.require_signature and not verified(secret, delivery.message_id, tags):
            log.warning("bounce report for delivery %s without a valid return-path signature: ignored", delivery.id)
            return BounceResult("forged", report.kind, delivery_id=delivery.id, reason="return address signature missing or wrong")
        result = BounceResult("applied", report.kind, delivery_id=delivery.id if delivery else None)
        for email, kind, diagnostic in _targets(report, delivery):
            result.recipients.append(email)
            session.add(Bounce(email=email, kind=kind, diagnostic=diagnostic, received_at=now,
                               delivery_id=delivery.id if delivery else None))
            metrics.BOUNCES.labels(kind).inc()
            if kind in ("hard", "complaint"):
                await suppress(session, email, reason="complaint" if kind == "complaint" else "hard_bounce",
                               now=now, note=diagnostic[:500])
                result.suppressed.append(email)
            elif kind == "soft":
                if await count_soft_bounce(session, email, now=now, threshold=settings.delivery.soft_bounce_threshold,
                                           decay_days=settings.delivery.soft_bounce_decay_days):
                    result.suppressed.append(email)
        if not result.recipients:
            result.status, result.reason = "ignored", "the report names none of our recipients"
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
        if delivery is not None and r.email != delivery.recipient.lower():
            continue
        out.append((r.email, r.kind, clean(f"{r.status} {r.diagnostic}".strip())))
    return out


async def _find_delivery(session: "AsyncSession", report: Report, secret: bytes, tags: list[str]) -> Delivery | None:
    if report.original_message_id:
        found = await session.scalar(select(Delivery).where(Delivery.message_id == report.original_message_id))
        if found is not None:
            return found
    # No (known) Message-ID: the recipient's recent messages, matched by the signed tag.
    for address in {r.email for r in report.recipients} | ({report.original_to} if report.original_to else set()):
        rows = await session.scalars(
            select(Delivery).where(Delivery.recipient == address, Delivery.status == "sent")
            .order_by(Delivery.sent_at.desc()).limit(50)
        )
        for d in rows:
            if verified(secret, d.message_id, tags):
                return d
    return None
