"""Sources as admins manage them: list with health, add, edit, enable and disable.

Sources from the config file (`[[sources]]`) are shown too; edits to them last until the
next start, when the config file wins (the page says so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import ITEM_KINDS, ItemSource, Source
from service.errors import Conflict, Invalid, NotFound

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
KINDS = ("feed", "statbank")


@dataclass
class SourceForm:
    name: str
    kind: str = "feed"
    url: str = ""
    item_kind: str = "news"
    topics: list[str] = field(default_factory=list)
    interval_minutes: int = 30
    table: str = ""


def _check(form: SourceForm) -> SourceForm:
    errors = {}
    form.name, form.url, form.table = form.name.strip()[:200], form.url.strip(), form.table.strip()
    if not form.name:
        errors["name"] = "Skriv et navn."
    if form.kind not in KINDS:
        errors["kind"] = "Vælg feed eller statbank."
    if not form.url.startswith(("http://", "https://")) or len(form.url) > 2000 or any(c.isspace() for c in form.url):
        errors["url"] = "Skriv en adresse, der begynder med https:// (eller http://)."
    if form.item_kind not in ITEM_KINDS:
        errors["item_kind"] = "Ukendt slags nyhed."
    if not 1 <= form.interval_minutes <= 7 * 24 * 60:
        errors["interval_minutes"] = "Mellem 1 minut og en uge."
    if form.kind == "statbank" and not form.table:
        errors["table"] = "Skriv tabellens navn, fx AUL01."
    if errors:
        raise Invalid("Ret de markerede felter.", errors)
    return form


async def list_sources(s: AsyncSession) -> list[dict]:
    counts = dict((await s.execute(select(ItemSource.source_id, func.count()).group_by(ItemSource.source_id))).all())
    rows = (await s.scalars(select(Source).order_by(Source.enabled.desc(), Source.name))).all()
    return [view(src, counts.get(src.id, 0)) for src in rows]


def view(src: Source, items: int = 0) -> dict:
    if not src.enabled:
        health = "off"
    elif src.consecutive_failures:
        health = "failing"
    elif src.last_success_at:
        health = "ok"
    else:
        health = "new"
    opts = src.options or {}
    return {"id": src.id, "slug": src.slug, "name": src.name, "kind": src.kind, "url": src.url or "",
            "item_kind": src.item_kind, "topics": list(src.topics or []), "interval_minutes": src.interval_minutes,
            "table": opts.get("table", ""), "enabled": src.enabled, "health": health, "items": items,
            "last_polled_at": src.last_polled_at, "last_success_at": src.last_success_at,
            "next_poll_at": src.next_poll_at, "last_error": src.last_error or "", "last_error_at": src.last_error_at,
            "failures": src.consecutive_failures or 0, "disabled_reason": src.disabled_reason or "",
            "configured": "configured_url" in opts}


async def get_source(s: AsyncSession, source_id: int) -> Source:
    src = await s.get(Source, source_id)
    if src is None:
        raise NotFound("Kilden findes ikke.")
    return src


async def add_source(s: AsyncSession, slug: str, form: SourceForm, *, now: datetime) -> int:
    slug = slug.strip().lower()
    if not SLUG.match(slug):
        raise Invalid("Kortnavnet må kun have små bogstaver a–z, tal og bindestreg.", {"slug": "Ugyldigt kortnavn"})
    form = _check(form)
    if await s.scalar(select(Source.id).where(Source.slug == slug)) is not None:
        raise Conflict(f"Der findes allerede en kilde med kortnavnet {slug}.")
    src = Source(slug=slug, name=form.name, kind=form.kind, url=form.url, item_kind=form.item_kind, topics=form.topics,
                 options={"table": form.table} if form.table else {}, interval_minutes=form.interval_minutes,
                 enabled=True, created_at=now, consecutive_failures=0)
    s.add(src)
    await s.flush()
    return src.id


async def edit_source(s: AsyncSession, source_id: int, form: SourceForm) -> dict:
    src, form = await get_source(s, source_id), _check(form)
    before = view(src)
    opts = dict(src.options or {})
    if form.table:
        opts["table"] = form.table
    if src.url != form.url:  # a new address: start afresh
        src.etag = src.last_modified = None
        src.disabled_reason = None
    src.name, src.kind, src.url, src.item_kind = form.name, form.kind, form.url, form.item_kind
    src.topics, src.interval_minutes, src.options = form.topics, form.interval_minutes, opts
    after = view(src)
    return {k: [before[k], after[k]] for k in ("name", "kind", "url", "item_kind", "topics", "interval_minutes", "table")
            if before[k] != after[k]}


async def set_enabled(s: AsyncSession, source_id: int, enabled: bool, *, now: datetime) -> str:
    src = await get_source(s, source_id)
    src.enabled = enabled
    if enabled:
        src.disabled_reason, src.next_poll_at, src.consecutive_failures = None, now, 0
    return src.slug
