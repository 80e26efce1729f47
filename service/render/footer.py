"""The footer every mail carries: why you receive this, preferences, unsubscribe, sender."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.render.context import RenderContext


def footer(
    runtime: "RenderContext",
    *,
    lang: str,
    reason: str = "",
    subscriber_id: int | None = None,
    token_version: int | None = None,
    topic: str = "",
) -> dict[str, Any]:
    """A plain dict for templates/email/footer.*; links only when there is a subscriber."""
    links = runtime.links
    has_sub = subscriber_id is not None and token_version is not None
    return {
        "organisation": runtime.settings.service.organisation,
        "postal_address": runtime.settings.service.postal_address,
        "reason": reason,
        "preferences_url": links.preferences(subscriber_id, token_version) if has_sub else "",
        "unsubscribe_url": links.unsubscribe(subscriber_id, token_version, topic) if has_sub else "",
    }
