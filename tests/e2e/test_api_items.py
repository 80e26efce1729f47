"""POST /api/v1/items over HTTP on loopback, with tokens made by the CLI's service."""

from __future__ import annotations

from sqlalchemy import func, select

from service.db.models import ApiToken, Item, ItemSource, PushedItem
from service.sources.tokens import create_token, token_hash
from tests.integration._sources import items_view

GOOD = {
    "external_id": "cms-4711", "kind": "analysis", "title": "Ny <b>analyse</b> af ledigheden i Viborg",
    "summary_html": "<p>Tekst <script>alert(1)</script><a href='javascript:x'>her</a></p>",
    "link": "https://www.example.dk/analyser/4711", "published_at": "2026-11-23T10:00:00+01:00",
    "topics": ["analyser"], "municipalities": ["Aarhus", "791"],
}


async def test_push_creates_once_and_is_idempotent(client, runtime, db_kind):
    token_id, token = await create_token(runtime, "CMS")
    auth = {"Authorization": f"Bearer {token}"}
    r = await client.post("/api/v1/items", json=GOOD, headers=auth)
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body["status"] == "created" and body["external_id"] == "cms-4711"

    r = await client.post("/api/v1/items", json=GOOD, headers=auth)
    assert r.status == 200 and (await r.json()) == {**body, "status": "unchanged"}
    r = await client.post("/api/v1/items", json={**GOOD, "title": "Rettet titel"}, headers=auth)
    assert r.status == 200 and (await r.json())["status"] == "updated"

    items = await items_view(runtime)
    assert list(items) == ["Rettet titel"]
    view = items["Rettet titel"]
    item = view["item"]
    assert (item.kind, item.revision, item.matched_revision) == ("analysis", 2, 0)
    assert view["topics"] == {"analyser"} and view["municipalities"] == {"751", "791"}
    assert "script" not in item.summary_html and "javascript" not in item.summary_html
    assert item.published_at.isoformat() == "2026-11-23T09:00:00+00:00"
    async with runtime.db.reader() as s:
        assert await s.scalar(select(func.count(PushedItem.id))) == 1
        assert await s.scalar(select(func.count(ItemSource.id))) == 1
        stored = await s.get(ApiToken, token_id)
    assert stored.token_hash == token_hash(token) and token not in stored.token_hash
    assert stored.last_used_at is not None


async def test_first_push_title_is_plain_text(client, runtime, db_kind):
    _, token = await create_token(runtime, "CMS")
    r = await client.post("/api/v1/items", json=GOOD, headers={"Authorization": f"Bearer {token}"})
    assert r.status == 201
    async with runtime.db.reader() as s:
        item = await s.scalar(select(Item))
    assert item.title == "Ny analyse af ledigheden i Viborg" and item.summary == "Tekst her"


async def test_refusals_are_json_and_name_the_field(client, runtime, db_kind):
    _, token = await create_token(runtime, "CMS")
    auth = {"Authorization": f"Bearer {token}"}

    for headers in ({}, {"Authorization": "Bearer bb_wrong"}, {"Authorization": f"Basic {token}"}):
        r = await client.post("/api/v1/items", json=GOOD, headers=headers)
        assert r.status == 401 and "bearer" in (await r.json())["error"]
        assert r.headers["WWW-Authenticate"].startswith("Bearer")

    r = await client.post("/api/v1/items", data=b"{not json", headers={**auth, "Content-Type": "application/json"})
    assert r.status == 400 and "JSON" in (await r.json())["error"]

    r = await client.post("/api/v1/items", json={"title": "", "kind": "gossip", "link": "ftp://x", "extra": 1}, headers=auth)
    assert r.status == 422
    fields = (await r.json())["fields"]
    assert set(fields) == {"external_id", "title", "kind", "link", "extra"}
    assert fields["external_id"] == "required" and "http" in fields["link"] and fields["extra"] == "unknown field"

    r = await client.post("/api/v1/items", json={**GOOD, "published_at": "2026-11-23T10:00:00"}, headers=auth)
    assert r.status == 422 and "published_at" in (await r.json())["fields"]
    r = await client.post("/api/v1/items", json={**GOOD, "topics": ["nope"]}, headers=auth)
    assert r.status == 422 and "nope" in (await r.json())["fields"]["topics"]
    r = await client.post("/api/v1/items", json={**GOOD, "municipalities": ["Odense"]}, headers=auth)
    assert r.status == 422 and "Odense" in (await r.json())["fields"]["municipalities"]
    r = await client.post("/api/v1/items", data=b"x" * 300_000, headers={**auth, "Content-Type": "application/json"})
    assert r.status == 413
    async with runtime.db.reader() as s:
        assert await s.scalar(select(func.count(Item.id))) == 0


async def test_revoked_token_refused(client, runtime, db_kind):
    token_id, token = await create_token(runtime, "Gammel")
    async with runtime.db.transaction() as s:
        (await s.get(ApiToken, token_id)).revoked = True
    r = await client.post("/api/v1/items", json=GOOD, headers={"Authorization": f"Bearer {token}"})
    assert r.status == 401


async def test_openapi_document_describes_the_push(client, db_kind):
    r = await client.get("/api/v1/openapi.json")
    assert r.status == 200
    doc = await r.json()
    assert doc["openapi"].startswith("3.")
    post = doc["paths"]["/items"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/PushItem"}
    assert {"201", "200", "401", "422"} <= set(post["responses"])
    schema = doc["components"]["schemas"]["PushItem"]
    assert set(schema["required"]) == {"external_id", "title"}
    assert "figures" in schema["properties"]["kind"]["enum"]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


async def test_control_characters_refused_with_the_field_named(client, runtime, db_kind):
    # Found by schemathesis: a NUL in a string reached PostgreSQL and gave a 500.
    _, token = await create_token(runtime, "CMS")
    r = await client.post("/api/v1/items", json={**GOOD, "title": "Ny\x00analyse"},
                          headers={"Authorization": f"Bearer {token}"})
    assert r.status == 422  # like every other field that breaks the schema
    assert "title" in (await r.json())["fields"]


async def test_item34_the_same_external_id_pushed_at_once_makes_one_item_and_no_500(client, runtime, db_kind):
    """Twenty pushes of one new external_id at the same moment: on PostgreSQL all but one
    used to hit the unique key on item_sources (500). Now the losers read again."""
    import asyncio

    _, token = await create_token(runtime, "CMS")
    auth = {"Authorization": f"Bearer {token}"}
    answers = await asyncio.gather(*(client.post("/api/v1/items", json=GOOD, headers=auth) for _ in range(20)))
    statuses = sorted(r.status for r in answers)
    assert statuses == [200] * 19 + [201], [await r.text() for r in answers if r.status >= 500][:1]
    assert {(await r.json())["id"] for r in answers} == {(await answers[0].json())["id"]}
    async with runtime.db.reader() as s:
        assert await s.scalar(select(func.count(Item.id))) == 1
        assert await s.scalar(select(func.count(PushedItem.id))) == 1
        assert await s.scalar(select(func.count(ItemSource.id))) == 1


async def test_item34_json_nested_too_deep_or_with_huge_numbers_is_a_400(client, runtime, db_kind):
    _, token = await create_token(runtime, "CMS")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    bodies = {
        "60,000 levels": b"[" * 60_000 + b"]" * 60_000,
        "25 levels": b'{"external_id": "x", "title": "t", "topics": ' + b"[" * 25 + b"]" * 25 + b"}",
        "5,000 digits": b'{"external_id": "x", "title": "t", "urgent": ' + b"9" * 5000 + b"}",
        "NaN": b'{"external_id": "x", "title": "t", "urgent": NaN}',
    }
    for what, body in bodies.items():
        r = await client.post("/api/v1/items", data=body, headers=headers)
        assert r.status == 400, (what, r.status, (await r.text())[:200])
        assert "error" in await r.json(), what
    r = await client.post("/api/v1/items", json={**GOOD, "urgent": 12345}, headers=headers)
    assert r.status == 422  # an ordinary number in the wrong place is a field error, as before
