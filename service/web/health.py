"""Liveness and metrics: `/healthz` and `/metrics`.

`/healthz` is healthy when the database answers, no migration is pending, and every
background role this process runs (worker, scheduler) came round recently. A worker stuck
for longer than a lease, or a scheduler whose heartbeat stopped, makes it 503 so the
orchestrator restarts the process.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.db.migrate import pending
from service.web.keys import RUNTIME

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    try:
        await runtime.db.ping()
        behind = await pending(runtime.db)
    except Exception as exc:  # any failure here means "not healthy", with the reason
        return web.json_response({"status": "error", "database": str(exc)[:200]}, status=503)
    if behind:
        return web.json_response({"status": "error", "database": "migrations pending"}, status=503)
    roles = role_health(runtime)
    ok = all(r["ok"] for r in roles.values())
    return web.json_response({"status": "ok" if ok else "error", "database": "ok", "roles": roles},
                             status=200 if ok else 503)


def role_health(runtime) -> dict[str, dict]:
    """Seconds since each background role this process runs last came round, and whether that is fine."""
    live = runtime.liveness
    limits = {
        "worker": (live.worker, runtime.settings.delivery.lease_seconds),
        "scheduler": (live.scheduler, 120),
    }
    out: dict[str, dict] = {}
    for role in sorted(live.roles):
        if role not in limits:
            continue
        heart, limit = limits[role]
        seen = heart.seen
        age = None if seen is None else round(time.monotonic() - seen, 1)
        # Not seen yet counts as fine for the first minute after start.
        ok = (age is not None and age <= limit) or (seen is None and time.monotonic() - live.started < 60)
        out[role] = {"ok": ok, "seconds_since_seen": age}
    return out


async def metrics(request: web.Request) -> web.Response:
    from service import metrics as service_metrics

    try:
        await service_metrics.refresh(request.app[RUNTIME])
    except Exception:  # a scrape while the database is away still serves the counters
        log.warning("metrics: could not read the ledger", exc_info=True)
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
