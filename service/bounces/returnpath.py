"""Signed return addresses, so that a forged bounce changes nothing.

Every message leaves with the envelope sender `<local>+<tag>@<domain>`, where the tag is
an HMAC of the message's Message-ID under the service's secret key. A report is acted on
only when it reaches us at (or quotes) an address whose tag matches the Message-ID of
the delivery it names. One return address per message, but the tag carries no data: the
delivery is found by its Message-ID.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

_TAG = re.compile(r"\+([a-z2-7]{16})@", re.IGNORECASE)


def tag_for(secret: bytes, message_id: str) -> str:
    mac = hmac.new(secret, b"return-path:" + message_id.strip().encode(), hashlib.sha256).digest()
    return base64.b32encode(mac[:10]).decode("ascii").lower()


def return_path(bounce_address: str, secret: bytes, message_id: str) -> str:
    local, _, domain = bounce_address.rpartition("@")
    return f"{local}+{tag_for(secret, message_id)}@{domain}"


def tags_in(*texts: str | None) -> list[str]:
    found: list[str] = []
    for text in texts:
        if text:
            found.extend(m.lower() for m in _TAG.findall(text))
    return found


def verified(secret: bytes, message_id: str, candidates: list[str]) -> bool:
    expected = tag_for(secret, message_id)
    return any(hmac.compare_digest(expected, c) for c in candidates)
