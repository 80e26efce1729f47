"""A feed and StatBank server on loopback for source tests: serves the fixtures in
tests/data, with ETag/Last-Modified, and lets a test swap what it serves."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from sqlalchemy import select

from tests.conftest import DATA


@dataclass
class FeedServer:
    files: dict[str, Path | bytes] = field(default_factory=dict)  # path -> fixture or bytes
    hits: list[str] = field(default_factory=list)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # path -> extra headers
    statbank_release: str = "2026M09"
    statbank_queries: list[dict[str, str]] = field(default_factory=list)
    statbank_fail: int | None = None  # answer the data call with this status
    special: dict = field(default_factory=dict)  # path -> async handler(request)

    def serve(self, path: str, content: str | bytes | Path) -> None:
        self.files[path] = DATA / "feeds" / content if isinstance(content, str) else content

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path)
        if request.path in self.special:
            return await self.special[request.path](request)
        content = self.files.get(request.path)
        if content is None:
            raise web.HTTPNotFound()
        body = content.read_bytes() if isinstance(content, Path) else content
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        headers = {"ETag": etag, "Content-Type": "application/rss+xml"}
        headers.update(self.headers.get(request.path, {}))
        return web.Response(body=body, headers=headers)

    async def tableinfo(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        body = (DATA / "statbank" / f"tableinfo-{request.match_info['table']}-{self.statbank_release}.json").read_bytes()
        return web.Response(body=body, content_type="application/json")

    async def data(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        self.statbank_queries.append(dict(request.query))
        if self.statbank_fail:
            return web.Response(status=self.statbank_fail, text="error")
        body = (DATA / "statbank" / f"data-{request.match_info['table']}-{self.statbank_release}.csv").read_bytes()
        return web.Response(body=body, content_type="text/csv")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/tableinfo/{table}", self.tableinfo)
        app.router.add_get("/v1/data/{table}/CSV", self.data)
        app.router.add_route("GET", "/{tail:.*}", self.handle)
        return app


async def add_source(runtime, slug: str, url: str, *, kind: str = "feed", item_kind: str = "news",
                     topics: list[str] | None = None, options: dict | None = None) -> int:
    from service.db.models import Source

    async with runtime.db.transaction() as s:
        src = Source(slug=slug, name=slug.title(), kind=kind, url=url, item_kind=item_kind, topics=topics or [],
                     options=options or {}, interval_minutes=30, enabled=True, created_at=runtime.clock.now(),
                     consecutive_failures=0)
        s.add(src)
        await s.flush()
        return src.id


async def items_view(runtime) -> dict[str, dict]:
    """Every item by title: its topics, municipalities and bookkeeping."""
    from service.db.models import Item, ItemSource, item_municipalities, item_topics
    from service.db.reference import Topic

    async with runtime.db.reader() as s:
        items = (await s.scalars(select(Item).order_by(Item.id))).all()
        out = {}
        for item in items:
            topics = set((await s.scalars(
                select(Topic.slug).join(item_topics, item_topics.c.topic_id == Topic.id).where(item_topics.c.item_id == item.id)
            )).all())
            munis = set((await s.scalars(
                select(item_municipalities.c.municipality_code).where(item_municipalities.c.item_id == item.id)
            )).all())
            sources = len((await s.scalars(select(ItemSource.id).where(ItemSource.item_id == item.id))).all())
            out[item.title] = {"item": item, "topics": topics, "municipalities": munis, "sources": sources}
        return out
