"""Argon2id password hashes for staff accounts."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id, the library's current recommended parameters
MIN_LENGTH = 10
# Verified against when the account does not exist, so both paths cost the same.
_DUMMY = _hasher.hash("budbringer-no-such-account")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; an absent or malformed hash costs the same and is False."""
    try:
        return _hasher.verify(password_hash or _DUMMY, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def weak_reason(password: str) -> str | None:
    """A plain Danish reason the password may not be used, or None."""
    if len(password) < MIN_LENGTH:
        return f"Adgangskoden skal være mindst {MIN_LENGTH} tegn."
    if len(password) > 1024:
        return "Adgangskoden er for lang."
    return None
