"""API tokens for systems that push items: made once, shown once, stored as SHA-256.

Each token gets its own `push` source, so pushed items carry their sender like any
other item (`ItemSource`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlalchemy import select, update

from service.db.models import ApiToken, Source

PREFIX = "bb_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "api"


async def create_token(runtime, name: str) -> tuple[int, str]:
    """Make a token for `name`; return its id and the token itself (never stored)."""
    token = PREFIX + secrets.token_urlsafe(32)
    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        slug = f"push-{_slug(name)}"
        source = await s.scalar(select(Source).where(Source.slug == slug))
        if source is None:
            source = Source(slug=slug, name=f"API: {name}", kind="push", url=None, item_kind="news", topics=[],
                            options={}, interval_minutes=30, enabled=True, created_at=now, consecutive_failures=0)
            s.add(source)
            await s.flush()
        row = ApiToken(name=name, token_hash=token_hash(token), source_id=source.id, created_at=now, revoked=False)
        s.add(row)
        await s.flush()
        return row.id, token


async def authenticate(runtime, token: str) -> ApiToken | None:
    """The active token row for a bearer token, or None. Looked up by hash, compared in constant time."""
    if not token or len(token) > 200:
        return None
    digest = token_hash(token)
    async with runtime.db.reader() as s:
        row = await s.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if row is None or row.revoked or not hmac.compare_digest(row.token_hash, digest):
        return None
    async with runtime.db.transaction() as s:
        await s.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=runtime.clock.now()))
    return row
