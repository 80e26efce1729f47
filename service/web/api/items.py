"""`POST /api/v1/items`: parse, authenticate, call `push_item`, answer JSON.

Answers: 201 created, 200 updated/unchanged (same external_id again), 401 without a
valid token, 400 for a body that is not JSON (or JSON nested deeper than `MAX_DEPTH`, or
with a number longer than `MAX_DIGITS` digits), 413 too large, 422 naming each field that
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
MAX_DEPTH = 20  # an item is an object of strings and lists of strings: depth 2
MAX_DIGITS = 30  # no field takes a number at all; Python refuses above 4,300 digits with ValueError


class _TooBig(ValueError):
    pass


def _number(text: str) -> int | float:
    if len(text) > MAX_DIGITS:
        raise _TooBig(f"a number in the body has more than {MAX_DIGITS} digits")
    return int(text) if text.lstrip("-").isdigit() else float(text)


def _constant(name: str):
    raise _TooBig(f"{name} is not a JSON value")


def _depth(value) -> int:
    """How deeply `value` nests, without recursion (the parser's own limit is ~1,000)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, (dict, list)):
            deepest = max(deepest, d)
            todo.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


def read_json(raw: bytes):
    """The body as JSON, or raise ValueError with what is wrong (a message for the sender)."""
    try:
        body = json.loads(raw, parse_int=_number, parse_float=_number, parse_constant=_constant)
    except _TooBig:
        raise
    except RecursionError:
        raise ValueError(f"the body is nested more than {MAX_DEPTH} levels deep") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"the body is not valid JSON ({exc})") from None
    if _depth(body) > MAX_DEPTH:
        raise ValueError(f"the body is nested more than {MAX_DEPTH} levels deep")
    return body


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
        body = read_json(raw)
    except ValueError as exc:
        return problem(400, str(exc))
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
