"""Signed tokens for links in mail: confirm, preferences, unsubscribe, feedback.

A token is `<payload>.<signature>`, both URL-safe base64 without padding. The payload is
`purpose|subject id|version|expires (unix)|extra`; the signature is HMAC-SHA256 over it
with a key derived from the service secret *and the purpose*, so a token made for one
purpose never verifies for another. The version is the subscriber's `token_version`:
bumping it revokes every link issued before. Verification compares in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from service.clock import Clock

MAX_TOKEN_LENGTH = 512


class TokenInvalid(Exception):
    """Altered, truncated, made for another purpose, or not a token at all."""


class TokenExpired(TokenInvalid):
    """Genuine but too old; `subject_id` lets the page offer a fresh link."""

    def __init__(self, subject_id: int):
        super().__init__("the link has expired")
        self.subject_id = subject_id


@dataclass(frozen=True)
class TokenData:
    purpose: str
    subject_id: int
    version: int
    expires_at: datetime
    extra: str


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> str:
    # base64.urlsafe_b64encode, without its two Python calls: a digest signs ~12 links.
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    def __init__(self, secret: bytes, clock: Clock):
        self._secret = secret
        self._clock = clock
        self._keys: dict[str, bytes] = {}

    def _key(self, purpose: str) -> bytes:
        # One key per purpose, derived once: a digest carries ~20 signed links, so this and
        # the one-shot `hmac.digest` below are on the send path's hot loop.
        key = self._keys.get(purpose)
        if key is None:
            key = self._keys[purpose] = hmac.digest(self._secret, b"budbringer-token:" + purpose.encode(), "sha256")
        return key

    def make(self, purpose: str, subject_id: int, version: int, ttl: timedelta, extra: str = "") -> str:
        if "|" in purpose or "|" in extra:
            raise ValueError("'|' is reserved in token fields")
        expires = int((self._clock.now() + ttl).timestamp())
        payload = f"{purpose}|{subject_id}|{version}|{expires}|{extra}".encode()
        sig = hmac.digest(self._key(purpose), payload, "sha256")
        return f"{_b64(payload)}.{_b64(sig)}"

    def read(self, token: str, purpose: str) -> TokenData:
        """Verify and decode; raise TokenInvalid or TokenExpired. Never trusts before checking."""
        if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
            raise TokenInvalid("malformed")
        payload_b64, sig_b64 = token.split(".")
        try:
            payload, sig = _unb64(payload_b64), _unb64(sig_b64)
        except (ValueError, TypeError) as exc:
            raise TokenInvalid("malformed") from exc
        # Re-encoding must give the same text: rejects alternative encodings of the same bytes.
        if _b64(payload) != payload_b64 or _b64(sig) != sig_b64:
            raise TokenInvalid("malformed")
        expected = hmac.digest(self._key(purpose), payload, "sha256")
        if not hmac.compare_digest(sig, expected):
            raise TokenInvalid("bad signature")
        try:
            got_purpose, subject, version, expires, extra = payload.decode().split("|")
            data = TokenData(
                got_purpose, int(subject), int(version), datetime.fromtimestamp(int(expires), timezone.utc), extra
            )
        except ValueError as exc:
            raise TokenInvalid("malformed") from exc
        if got_purpose != purpose:
            raise TokenInvalid("wrong purpose")
        if self._clock.now() >= data.expires_at:
            raise TokenExpired(data.subject_id)
        return data
