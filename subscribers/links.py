"""Absolute links carried in mail and pages, each with its signed token."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from urllib.parse import quote

from service.settings import SubscriberSettings
from subscribers.tokens import TokenSigner

_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")
CONFIRM = "confirm"
MANAGE = "manage"
UNSUBSCRIBE = "unsubscribe"
FEEDBACK = "feedback"
EMAIL_CHANGE = "email-change"


def email_digest(email: str) -> str:
    """A short hash of an address, bound into address-change tokens."""
    return hashlib.sha256(email.encode()).hexdigest()[:32]


class Links:
    def __init__(self, base_url: str, signer: TokenSigner, settings: SubscriberSettings):
        self.base_url = base_url.rstrip("/")
        self.signer = signer
        self._confirm_ttl = timedelta(days=settings.confirm_token_days)
        self._link_ttl = timedelta(days=settings.link_token_days)

    def _url(self, path: str, token: str) -> str:
        # Our tokens are URL-safe base64 and ".": nothing to quote (checked, as quoting is slower).
        safe = token if _URL_SAFE.fullmatch(token) else quote(token, safe="")
        return f"{self.base_url}{path}/{safe}"

    def confirm(self, subscriber_id: int, version: int) -> str:
        return self._url("/confirm", self.signer.make(CONFIRM, subscriber_id, version, self._confirm_ttl))

    def email_change(self, subscriber_id: int, version: int, new_email_hash: str) -> str:
        token = self.signer.make(EMAIL_CHANGE, subscriber_id, version, self._confirm_ttl, new_email_hash)
        return self._url("/confirm-email", token)

    def preferences(self, subscriber_id: int, version: int) -> str:
        return self._url("/preferences", self.signer.make(MANAGE, subscriber_id, version, self._link_ttl))

    def unsubscribe(self, subscriber_id: int, version: int, topic: str = "") -> str:
        """The link for the footer and for List-Unsubscribe (RFC 8058 POSTs to the same URL)."""
        token = self.signer.make(UNSUBSCRIBE, subscriber_id, version, self._link_ttl, topic)
        return self._url("/unsubscribe", token)

    def feedback_pair(self, subscriber_id: int, version: int, item_id: int) -> tuple[str, str]:
        """The "Ja" and "Nej" links under an item: one signed token (subscriber and item),
        the answer after it. The answer needs no signature (the subscriber may give either),
        and a digest carries ten items: one signature each instead of two."""
        base = self._url("/feedback", self.signer.make(FEEDBACK, subscriber_id, version, self._link_ttl, str(item_id)))
        return f"{base}/ja", f"{base}/nej"

    def feedback(self, subscriber_id: int, version: int, item_id: int, useful: bool) -> str:
        return self.feedback_pair(subscriber_id, version, item_id)[0 if useful else 1]

    def absolute(self, path: str) -> str:
        return f"{self.base_url}{path}"
