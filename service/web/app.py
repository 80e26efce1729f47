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

def create_app(runtime: Runtime) -> web.Application:
    # Bodies: a form's size by default; the routes that take more say so (`middleware.body_limit`).
    app = web.Application(
        middlewares=[middleware.request_ids, middleware.security_headers, middleware.errors, middleware.csrf,
                     middleware.control_characters],
        client_max_size=middleware.DEFAULT_BODY_BYTES,
    )
    app[RUNTIME] = runtime
    templating.setup(app, runtime)
    app.router.add_static("/static/", templating.static_dir(runtime), name="static", append_version=True)
    for part in PARTS:
        part.setup(app)
    return app


def create_runner(runtime: Runtime, **options) -> web.AppRunner:
    """The app ready to serve. A client must send its request headers within
    `web.header_timeout_seconds` of connecting or of the previous answer (aiohttp's
    keep-alive timer, which also runs while the first request's headers are awaited), so
    slow headers cannot hold connections open; idle keep-alive connections close then too."""
    options = {"access_log": None, **options}
    return web.AppRunner(create_app(runtime), keepalive_timeout=runtime.settings.web.header_timeout_seconds, **options)
