"""Prometheus counters for sending (served at /metrics by the web app's registry)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

OUTCOMES = Counter(
    "budbringer_delivery_outcomes_total", "Delivery attempts by outcome (sent, deferred, failed, cancelled).", ["outcome"]
)
POSSIBLE_DUPLICATES = Counter(
    "budbringer_delivery_possible_duplicates_total", "Messages sent again after no reply to DATA or a lost lease."
)
SEND_SECONDS = Histogram(
    "budbringer_delivery_send_seconds", "Time for one SMTP transaction.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BOUNCES = Counter("budbringer_bounces_total", "Bounce and complaint reports applied, by kind.", ["kind"])


def count(outcomes) -> None:
    tally: dict[str, int] = {}
    for o in outcomes:
        tally[o.status] = tally.get(o.status, 0) + 1
    for status, n in tally.items():
        OUTCOMES.labels(status).inc(n)
