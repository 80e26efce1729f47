"""Which renderer makes which kind of delivery.

A renderer is `async def render(runtime, session, delivery) -> Rendered`: it reads what it
needs with the (read-only) session, builds a plain view model and renders templates. The
worker calls it at send time, so a message reflects the subscriber's latest choices.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from service.render.message import Rendered

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from service.db.models import Delivery
    from service.runtime import Runtime

Renderer = Callable[["Runtime", "AsyncSession", "Delivery"], Awaitable[Rendered]]

# kind -> "module:function". One line per message kind; the module owns its view model.
RENDERERS: dict[str, str] = {
    "confirm": "service.render.subscriber_mails:render_confirm",
    "manage": "service.render.subscriber_mails:render_manage",
    "welcome": "service.render.subscriber_mails:render_welcome",
    "email_change": "service.render.subscriber_mails:render_email_change",
    "export": "service.render.subscriber_mails:render_export",
    "alert": "service.render.alert:render_alert",
    "digest": "service.render.digest:render_digest",
    "press_release": "service.campaigns.render:render_campaign",
    "newsletter": "service.campaigns.render:render_campaign",
    "draft_notice": "service.campaigns.render:render_draft_notice",
    "notice": "service.render.notice:render_notice",
    "test": "service.render.notice:render_notice",
}


class UnknownKind(LookupError):
    pass


_cache: dict[str, Renderer] = {}


def renderer_for(kind: str) -> Renderer:
    if kind not in _cache:
        target = RENDERERS.get(kind)
        if target is None:
            raise UnknownKind(f"no renderer for delivery kind {kind!r}")
        module, _, name = target.partition(":")
        _cache[kind] = getattr(importlib.import_module(module), name)
    return _cache[kind]


async def render_delivery(runtime: "Runtime", session: "AsyncSession", delivery: "Delivery") -> Rendered:
    return await renderer_for(delivery.kind)(runtime, session, delivery)


def register(kind: str, target: str, **_: Any) -> None:
    """For tests: point a kind at another renderer."""
    RENDERERS[kind] = target
    _cache.pop(kind, None)
