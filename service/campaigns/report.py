"""Progress while sending and the report after: counts and the outcome per recipient."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import Bounce, Delivery


@dataclass
class RecipientLine:
    recipient: str
    part: str  # press / sub
    status: str  # queued, sending, deferred, sent, failed, cancelled, bounced
    error: str
    sent_at: object


@dataclass
class CampaignReport:
    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    lines: list[RecipientLine] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(v for k, v in self.counts.items() if k in ("sent", "failed", "cancelled", "bounced"))

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100

    @property
    def reason(self) -> str:
        """The most common error of its failed messages (why a failed campaign failed)."""
        errors = [line.error for line in self.lines if line.status == "failed" and line.error]
        return max(set(errors), key=errors.count) if errors else ""


async def campaign_report(session: AsyncSession, campaign_id: int, *, with_lines: bool = True) -> CampaignReport:
    bounced = select(Bounce.id).where(Bounce.delivery_id == Delivery.id, Bounce.kind.in_(("hard", "soft"))).exists()
    rows = (await session.execute(
        select(Delivery.recipient, Delivery.press_contact_id, Delivery.status, Delivery.last_error,
               Delivery.sent_at, bounced.label("bounced"))
        .where(Delivery.campaign_id == campaign_id)
        .order_by(Delivery.id)
    )).all()
    report = CampaignReport(total=len(rows))
    for r in rows:
        status = "bounced" if r.bounced and r.status == "sent" else r.status
        report.counts[status] = report.counts.get(status, 0) + 1
        if with_lines:
            report.lines.append(RecipientLine(r.recipient, "press" if r.press_contact_id else "sub", status,
                                              r.last_error or "", r.sent_at))
    return report


async def delivery_counts(session: AsyncSession, campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}
    if not campaign_ids:
        return out
    rows = (await session.execute(
        select(Delivery.campaign_id, Delivery.status, func.count())
        .where(Delivery.campaign_id.in_(campaign_ids)).group_by(Delivery.campaign_id, Delivery.status)
    )).all()
    for cid, status, n in rows:
        out.setdefault(cid, {})[status] = n
    return out


async def failure_reasons(session: AsyncSession, campaign_ids: list[int]) -> dict[int, str]:
    """campaign id -> the most common error of its failed messages (for the dashboard)."""
    if not campaign_ids:
        return {}
    n = func.count().label("n")
    rows = (await session.execute(
        select(Delivery.campaign_id, Delivery.last_error, n)
        .where(Delivery.campaign_id.in_(campaign_ids), Delivery.status == "failed", Delivery.last_error.is_not(None))
        .group_by(Delivery.campaign_id, Delivery.last_error).order_by(Delivery.campaign_id, n.desc())
    )).all()
    out: dict[int, str] = {}
    for cid, error, _ in rows:
        out.setdefault(cid, error)
    return out
