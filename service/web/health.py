"""Liveness and metrics: `/healthz` (database reachable, migrations applied) and `/metrics`."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.db.migrate import pending
from service.web.keys import RUNTIME


async def healthz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    try:
        await runtime.db.ping()
        behind = await pending(runtime.db)
    except Exception as exc:  # any failure here means "not healthy", with the reason
        return web.json_response({"status": "error", "database": str(exc)[:200]}, status=503)
    if behind:
        return web.json_response({"status": "error", "database": "migrations pending"}, status=503)
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
