"""DKIM signing with dkimpy, covering the unsubscribe headers (RFC 8058 wants
`List-Unsubscribe-Post` signed; dkimpy's default list leaves it out)."""

from __future__ import annotations

from pathlib import Path

import dkim

from service.settings import DkimSettings

SIGNED_HEADERS = (
    b"from", b"to", b"subject", b"date", b"message-id", b"reply-to", b"mime-version",
    b"content-type", b"list-id", b"list-unsubscribe", b"list-unsubscribe-post",
)


class Signer:
    """Signs finished messages; `sign(message) -> message with DKIM-Signature on top`."""

    def __init__(self, domain: str, selector: str, private_key: bytes):
        self.domain = domain.encode("ascii")
        self.selector = selector.encode("ascii")
        self.private_key = private_key

    @classmethod
    def from_settings(cls, settings: DkimSettings) -> "Signer | None":
        if not settings.enabled:
            return None
        key = Path(settings.private_key_file).read_bytes() if settings.private_key_file else b""
        return cls(settings.domain, settings.selector, key)

    def sign(self, message: bytes) -> bytes:
        present = {line.split(b":", 1)[0].strip().lower() for line in _header_block(message).split(b"\r\n") if b":" in line and not line[:1].isspace()}
        include = [name for name in SIGNED_HEADERS if name in present]
        signature = dkim.sign(
            message, self.selector, self.domain, self.private_key,
            include_headers=include, canonicalize=(b"relaxed", b"relaxed"),
        )
        return signature + message


def _header_block(message: bytes) -> bytes:
    end = message.find(b"\r\n\r\n")
    return message if end < 0 else message[:end]
