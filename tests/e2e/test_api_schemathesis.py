"""Catalogue 26: the JSON API holds under schemathesis against its own OpenAPI document.

Schemathesis generates requests from the document (valid ones, and ones that break the
schema on purpose) and sends them over HTTP to the real app on loopback. No answer may be
a 500, and every answer must match the document's status codes, content types and schemas.
"""

import asyncio

import pytest
import schemathesis
from schemathesis import GenerationMode
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.checks import not_a_server_error

from service.sources.tokens import create_token
from service.web.api.openapi import build
from service.web.app import create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def test_item26_api_survives_schemathesis_generated_requests(runtime, db_kind):
    _, token = await create_token(runtime, "Schemathesis")
    async with TestServer(create_app(runtime), host="127.0.0.1") as server:
        base = str(server.make_url("")).rstrip("/")
        schema = schemathesis.openapi.from_dict(build(base))
        schema.config.update(base_url=f"{base}/api/v1")
        checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
        failures: list[str] = []

        def run() -> int:
            total = 0
            cases = [(result.ok(), mode) for result in schema.get_all_operations()
                     for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
            for operation, mode in cases:

                @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
                @given(case=operation.as_strategy(generation_mode=mode))
                def check(case):
                    nonlocal total
                    total += 1
                    response = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=10)
                    try:
                        case.validate_response(response, checks=checks)
                    except AssertionError as exc:  # collect, so every kind of failure is reported
                        failures.append(f"{mode.name} {case.method} {case.path}: {str(exc)[:300]}")
                        raise

                check()
            return total

        sent = await asyncio.to_thread(run)
    assert not failures, "\n".join(failures[:5])
    assert sent >= 100  # it really exercised the API, with valid and invalid requests


async def test_item26_every_api_route_is_in_the_document_schemathesis_reads(runtime, db_kind):
    """Schemathesis only reaches what the OpenAPI document lists: every route the app serves
    under /api/ (apart from the document itself) must be in it, with the same method."""
    app = create_app(runtime)
    served = {(r.method.lower(), r.resource.canonical.removeprefix("/api/v1")) for r in app.router.routes()
              if r.resource is not None and r.resource.canonical.startswith("/api/") and r.method != "HEAD"}
    served.discard(("get", "/openapi.json"))
    documented = {(method, path) for path, ops in build("http://127.0.0.1").get("paths", {}).items() for method in ops
                  if method in ("get", "post", "put", "patch", "delete")}
    assert served and served == documented
