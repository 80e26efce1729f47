"""`POST /api/v1/items`: parse, authenticate, call `push_item`, answer JSON.

Answers: 201 created, 200 updated/unchanged (same external_id again), 401 without a
valid token, 400 for a body that is not JSON, 413 too large, 422 naming each field that
is wrong, 503 when the API is switched off.
"""

from __future__ import annotations

import json

from aiohttp import web
from pydantic import ValidationError

from service.errors import Invalid
from service.sources.push import PushItem, push_item
from service.sources.tokens import authenticate
from service.web.keys import RUNTIME
from service.web.middleware import csrf_exempt

MAX_BODY = 256 * 1024


def problem(status: int, message: str, fields: dict[str, str] | None = None, **headers: str) -> web.Response:
    body = {"error": message}
    if fields:
        body["fields"] = fields
    return web.json_response(body, status=status, headers=headers or None)


def _fields(exc: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(body)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "missing":
            msg = "required"
        out.setdefault(key, msg)
    return out


@csrf_exempt
async def post_item(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    if not runtime.settings.api.enabled:
        return problem(503, "the API is switched off")
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    row = await authenticate(runtime, token.strip()) if scheme.lower() == "bearer" else None
    if row is None:
        return problem(401, "a valid bearer token is required (Authorization: Bearer <token>)",
                       **{"WWW-Authenticate": 'Bearer realm="budbringer"'})
    if request.content_length is not None and request.content_length > MAX_BODY:
        return problem(413, f"the body is larger than {MAX_BODY} bytes")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        return problem(413, f"the body is larger than {MAX_BODY} bytes")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return problem(400, f"the body is not valid JSON ({exc})")
    if not isinstance(body, dict):
        return problem(422, "the body must be a JSON object", {"(body)": "must be an object"})
    try:
        payload = PushItem.model_validate(body)
    except ValidationError as exc:
        return problem(422, "some fields are wrong", _fields(exc))
    try:
        outcome, item_id = await push_item(runtime, row, payload)
    except Invalid as exc:
        return problem(422, exc.message, exc.fields)
    return web.json_response(
        {"status": outcome, "id": item_id, "external_id": payload.external_id},
        status=201 if outcome == "created" else 200,
    )
