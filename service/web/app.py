"""The web app shell: middlewares, templating, static files, and each part's routes.

Each part of the product registers its own routes with `setup(app)`; this module only
composes them. Handlers parse, call one service, and respond; domain errors become
HTTP answers in `service.web.middleware`.
"""

from __future__ import annotations

from aiohttp import web

from service.runtime import Runtime
from service.web import admin, api, health, middleware, public, templating
from service.web.keys import RUNTIME

PARTS = (
    health,  # /healthz, /metrics
    public,  # /, confirm, preferences, unsubscribe, feedback, /archive, /feed.xml
    api,  # /api/v1/
    admin,  # /admin/
)

MAX_REQUEST_BYTES = 12 * 1024 * 1024  # attachments and CSV imports; forms are far smaller


def create_app(runtime: Runtime) -> web.Application:
    app = web.Application(
        middlewares=[middleware.request_ids, middleware.security_headers, middleware.errors, middleware.csrf],
        client_max_size=MAX_REQUEST_BYTES,
    )
    app[RUNTIME] = runtime
    templating.setup(app, runtime)
    app.router.add_static("/static/", templating.static_dir(runtime), name="static", append_version=True)
    for part in PARTS:
        part.setup(app)
    return app
