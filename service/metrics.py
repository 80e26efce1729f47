"""Prometheus figures beyond sending (those are in service/delivery/metrics.py).

Counters are incremented where things happen; the gauges for the ledger (deliveries by
status, queue depth, oldest due message) are read from the database when /metrics is
scraped, so every process reports the same shared truth.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge
from sqlalchemy import func, select

from service.delivery import metrics as delivery_metrics  # noqa: F401 - every process shows the send metrics

if TYPE_CHECKING:
    from service.runtime import Runtime

ITEMS = Counter("budbringer_items_ingested_total", "Items saved from sources, by outcome (new, updated).",
                ["source", "outcome"])
SOURCE_POLLS = Counter("budbringer_source_polls_total", "Source polls by result (ok, not_modified, error).",
                       ["source", "result"])
DELIVERIES = Gauge("budbringer_deliveries", "Deliveries in the ledger by status.", ["status"])
QUEUE_DEPTH = Gauge("budbringer_queue_depth", "Deliveries queued or deferred and due now.")
OLDEST_DUE = Gauge("budbringer_queue_oldest_due_seconds", "Age of the oldest delivery that is due and not sent.")
SOURCES_FAILING = Gauge("budbringer_sources_failing", "Enabled sources whose last poll failed.")

STATUSES = ("queued", "deferred", "sending", "sent", "failed", "cancelled")


def count_poll(slug: str, report) -> None:
    if report.error:
        SOURCE_POLLS.labels(slug, "error").inc()
        return
    SOURCE_POLLS.labels(slug, "not_modified" if report.not_modified else "ok").inc()
    if report.new:
        ITEMS.labels(slug, "new").inc(report.new)
    if report.updated:
        ITEMS.labels(slug, "updated").inc(report.updated)


async def refresh(runtime: "Runtime") -> None:
    """Read the ledger gauges from the database (at scrape time)."""
    from service.db.models import Delivery, Source

    now = runtime.clock.now()
    async with runtime.db.reader() as s:
        counts = dict((await s.execute(select(Delivery.status, func.count()).group_by(Delivery.status))).all())
        due = (await s.execute(
            select(func.count(), func.min(Delivery.next_attempt_at))
            .where(Delivery.status.in_(("queued", "deferred")), Delivery.next_attempt_at <= now)
        )).one()
        failing = await s.scalar(select(func.count()).select_from(Source)
                                 .where(Source.enabled.is_(True), Source.consecutive_failures > 0))
    for status in sorted(set(STATUSES) | set(counts)):
        DELIVERIES.labels(status).set(counts.get(status, 0))
    QUEUE_DEPTH.set(due[0] or 0)
    oldest = due[1]
    if oldest is not None and oldest.tzinfo is None:  # SQLite gives naive UTC
        from datetime import timezone

        oldest = oldest.replace(tzinfo=timezone.utc)
    OLDEST_DUE.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0)
    SOURCES_FAILING.set(failing or 0)
