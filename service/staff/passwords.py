"""Argon2id password hashes for staff accounts.

One verification costs ~0.2 s of CPU and 64 MiB of memory (the library's parameters), so
the async callers go through `verify_async` / `hash_async`: at most `CHECKS_AT_ONCE`
run at a time, in threads of their own, whatever the number of logins arriving (100 at
once took the web process from 165 to 513 MB and both cores for 9 s). The others wait
their turn, holding nothing but their request.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id, the library's current recommended parameters
MIN_LENGTH = 10
# Verified against when the account does not exist, so both paths cost the same.
_DUMMY = _hasher.hash("budbringer-no-such-account")


# Half the cores (one on a 2-core machine), so a flood of logins leaves the rest to the pages.
# A process-wide pool, like the argon2 library itself: it is not tied to any event loop.
CHECKS_AT_ONCE = max(1, (os.cpu_count() or 2) // 2)
_checks = ThreadPoolExecutor(max_workers=CHECKS_AT_ONCE, thread_name_prefix="argon2")


async def verify_async(password_hash: str | None, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(_checks, verify_password, password_hash, password)


async def hash_async(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_checks, hash_password, password)


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
