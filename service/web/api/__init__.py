"""The JSON API under /api/v1/: pushed items (bearer token) and the OpenAPI document."""

from aiohttp import web

from service.web.api import items, openapi


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/items", items.post_item)
    app.router.add_get("/api/v1/openapi.json", openapi.document)
