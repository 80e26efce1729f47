"""Items pushed by other systems (`POST /api/v1/items`): validated, then saved like any
other item. Idempotent per sender's `external_id`: the same id again changes nothing,
or updates the item when its content changed."""

from __future__ import annotations

import re

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service.db import seed
from service.db.models import ITEM_KINDS, ApiToken, PushedItem, Source
from service.errors import Invalid
from service.sources.parse import html_to_text, plain_text, safe_link, sanitise_html
from service.sources.store import ItemDraft, save_item
from service.db.reference import Topic

Kind = Literal[ITEM_KINDS]  # type: ignore[valid-type]


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class PushItem(BaseModel):
    """An item pushed by another system."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    external_id: str = Field(min_length=1, max_length=200, description="Your id for the item; sending it again updates, never duplicates.")
    kind: Kind = Field("news", description="Item kind.")
    title: str = Field(min_length=1, max_length=500, description="Plain text.")
    summary: str = Field("", max_length=20000, description="Plain text (used when summary_html is empty).")
    summary_html: str = Field("", max_length=50000, description="HTML; sanitised (a few tags kept, scripts and styles removed).")
    link: str | None = Field(None, max_length=1000, description="http(s) address of the publication.")
    published_at: AwareDatetime | None = Field(None, description="ISO 8601 with a time zone; default: now.")
    topics: list[str] = Field(default_factory=list, max_length=20, description="Topic slugs (see the signup page).")
    municipalities: list[str] = Field(default_factory=list, max_length=30, description="Municipality codes (\"751\") or names.")
    urgent: bool = Field(False, description="Send at once even to digest subscribers (where the matcher allows).")
    language: Literal["da", "en"] = "da"

    @field_validator("external_id", "title", "summary", "summary_html", "link", "topics", "municipalities")
    @classmethod
    def _no_control_characters(cls, v):
        # NUL cannot be stored in PostgreSQL text, and no control character belongs in an
        # item (tabs and newlines excepted): refuse them with the field's name.
        for text in (v if isinstance(v, list) else [v]):
            if text and _CONTROL.search(text):
                raise ValueError("must not contain control characters")
        return v

    @field_validator("link")
    @classmethod
    def _http(cls, v: str | None) -> str | None:
        if v and not safe_link(v):
            raise ValueError("must start with http:// or https://")
        return v or None


async def push_item(runtime, token: ApiToken, payload: PushItem) -> tuple[str, int]:
    """Save a pushed item; return (created | updated | unchanged, item id)."""
    now = runtime.clock.now()
    municipalities = _municipality_codes(payload.municipalities)
    summary_html = sanitise_html(payload.summary_html) if payload.summary_html else ""
    draft = ItemDraft(
        key=f"push:{payload.external_id}", kind=payload.kind, title=plain_text(payload.title) or "(uden titel)",
        published_at=payload.published_at, summary=html_to_text(summary_html) if summary_html else payload.summary,
        summary_html=summary_html, link=payload.link, topics=list(dict.fromkeys(payload.topics)),
        municipalities=municipalities, urgent=payload.urgent, language=payload.language,
    )
    try:
        saved = await _save(runtime, token, payload, draft, now)
    except IntegrityError:
        # The same external_id pushed twice at the same moment (PostgreSQL: both saw no row,
        # one insert lost). The other one's item is there now: read again and go on with it.
        saved = await _save(runtime, token, payload, draft, now)
    outcome = {"new": "created", "linked": "created"}.get(saved.outcome, saved.outcome)
    return outcome, saved.item_id


async def _save(runtime, token: ApiToken, payload: PushItem, draft: ItemDraft, now):
    async with runtime.db.transaction() as s:
        known = set((await s.scalars(select(Topic.slug).where(Topic.slug.in_(draft.topics or [""])))).all())
        unknown = [t for t in draft.topics if t not in known]
        if unknown:
            raise Invalid("unknown topics", {"topics": f"unknown topic slugs: {', '.join(unknown)}"})
        source = await s.get(Source, token.source_id) if token.source_id else None
        if source is None:
            raise Invalid("this token has no source; make a new token with `budbringer api-token add`")
        saved = await save_item(s, source, draft, now, announce_updates=bool((source.options or {}).get("announce_updates")))
        pushed = await s.scalar(select(PushedItem).where(PushedItem.token_id == token.id, PushedItem.external_id == payload.external_id))
        if pushed is None:
            s.add(PushedItem(token_id=token.id, external_id=payload.external_id, item_id=saved.item_id, created_at=now))
    return saved


def _municipality_codes(values: list[str]) -> list[str]:
    rows = seed.municipality_rows()
    by_name = {r["name"].casefold(): r["code"] for r in rows}
    codes = {r["code"] for r in rows}
    out, unknown = [], []
    for v in values:
        code = v if v in codes else by_name.get(v.casefold())
        (out if code else unknown).append(code or v)
    if unknown:
        raise Invalid("unknown municipalities", {"municipalities": f"unknown municipalities: {', '.join(unknown)}"})
    return list(dict.fromkeys(out))

