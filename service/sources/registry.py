"""Configured sources (`[[sources]]` in the config file) become `Source` rows at start.

Upserted by slug; sources made in the admin are never touched or deleted. The URL from
the config file wins only when the config file changed it: a permanent redirect that
moved a source is kept across restarts (the configured URL is remembered in options).
"""

from __future__ import annotations

from sqlalchemy import select

from service.db.models import Source
from service.settings import SourceSettings


def _options(cfg: SourceSettings) -> dict:
    options = dict(cfg.options)
    if cfg.table:
        options["table"] = cfg.table
    options["configured_url"] = cfg.url
    return options


async def sync_configured_sources(runtime) -> None:
    configured = runtime.settings.sources
    if not configured:
        return
    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        existing = {
            src.slug: src
            for src in (await s.scalars(select(Source).where(Source.slug.in_([c.slug for c in configured])))).all()
        }
        for cfg in configured:
            src = existing.get(cfg.slug)
            if src is None:
                s.add(Source(
                    slug=cfg.slug, name=cfg.name, kind=cfg.kind, url=cfg.url, item_kind=cfg.item_kind,
                    topics=list(cfg.topics), options=_options(cfg), interval_minutes=cfg.interval_minutes,
                    enabled=cfg.enabled, created_at=now, consecutive_failures=0,
                ))
                continue
            if (src.options or {}).get("configured_url") != cfg.url:
                src.url = cfg.url  # the operator changed it: try again even if it was gone
                src.disabled_reason = None
            src.name = cfg.name
            src.kind = cfg.kind
            src.item_kind = cfg.item_kind
            src.topics = list(cfg.topics)
            src.options = _options(cfg)
            src.interval_minutes = cfg.interval_minutes
            if src.disabled_reason is None:
                src.enabled = cfg.enabled
