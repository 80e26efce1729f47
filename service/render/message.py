"""What a renderer hands to delivery: a finished message, before MIME."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "application/pdf"
    data: bytes


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None = None
    # Absolute https/http URL: becomes List-Unsubscribe (+ List-Unsubscribe-Post, RFC 8058).
    unsubscribe_url: str | None = None
    # Extra headers from the product (e.g. "X-Budbringer-Kind"); validated before use.
    headers: dict[str, str] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()
