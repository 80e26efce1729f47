"""`GET /api/v1/openapi.json`: the OpenAPI 3 document, built from the same pydantic model
that validates the requests (so the two cannot drift apart)."""

from __future__ import annotations

from aiohttp import web

from service.sources.push import PushItem
from service.web.keys import RUNTIME


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def build(base_url: str) -> dict:
    item_schema = PushItem.model_json_schema(ref_template="#/components/schemas/{model}")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Budbringer API",
            "version": "1",
            "description": "Push items (news, analyses, guidelines, figures, events) into Budbringer. "
                           "See docs/api.md.",
        },
        "servers": [{"url": f"{base_url}/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "A token made with `budbringer api-token add NAME`."}},
            "schemas": {
                "PushItem": item_schema,
                "Result": {"type": "object", "required": ["status", "id", "external_id"], "properties": {
                    "status": {"type": "string", "enum": ["created", "updated", "unchanged"]},
                    "id": {"type": "integer", "description": "Budbringer's item id."},
                    "external_id": {"type": "string"}}},
                "Error": {"type": "object", "required": ["error"], "properties": {
                    "error": {"type": "string", "description": "What is wrong, in plain words."},
                    "fields": {"type": "object", "additionalProperties": {"type": "string"},
                               "description": "Field name (dotted path) → what is wrong with it."}}},
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/items": {
                "post": {
                    "operationId": "pushItem",
                    "summary": "Push an item; idempotent per external_id",
                    "requestBody": {"required": True, "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/PushItem"}}}},
                    "responses": {
                        "201": {"description": "Created", "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Result"}}}},
                        "200": {"description": "Known external_id: updated or unchanged", "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Result"}}}},
                        "400": _error("The body is not JSON, nests too deeply or has too large a number"),
                        "401": _error("No valid bearer token"),
                        "413": _error("The body is too large"),
                        "422": _error("A field is missing or wrong; `fields` names it"),
                        "503": _error("The API is switched off"),
                    },
                }
            }
        },
    }


async def document(request: web.Request) -> web.Response:
    return web.json_response(build(request.app[RUNTIME].settings.service.base_url))
