"""Staff accounts: add, list, change role, (de)activate. Passwords via `auth.set_password`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import User
from service.errors import Conflict, Invalid, NotFound
from service.staff.auth import ROLES, end_sessions_of, normalise_email
from service.staff.passwords import hash_async, weak_reason


@dataclass(frozen=True)
class UserView:
    id: int
    email: str
    name: str
    role: str
    active: bool
    failed_logins: int
    last_login_at: datetime | None
    created_at: datetime


def _check_email(email: str) -> str:
    email = normalise_email(email)
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or len(email) > 320 or any(c.isspace() for c in email):
        raise Invalid("Skriv en gyldig e-mailadresse.", {"email": "Ugyldig e-mailadresse"})
    return email


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise Invalid(f"Rollen skal være en af {', '.join(ROLES)}.", {"role": "Ukendt rolle"})
    return role


async def add_user(s: AsyncSession, email: str, *, role: str, password: str, now: datetime, name: str = "") -> int:
    email, role = _check_email(email), _check_role(role)
    reason = weak_reason(password)
    if reason:
        raise Invalid(reason, {"password": reason})
    if await s.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"Der findes allerede en bruger med e-mailen {email}.")
    hashed = await hash_async(password)  # ~0.2 s of CPU, off the event loop, a few at a time
    user = User(email=email, name=name.strip()[:200], password_hash=hashed, role=role,
                active=True, failed_logins=0, created_at=now)
    s.add(user)
    await s.flush()
    return user.id


async def list_users(s: AsyncSession) -> list[UserView]:
    rows = (await s.scalars(select(User).order_by(User.email))).all()
    return [UserView(u.id, u.email, u.name, u.role, u.active, u.failed_logins or 0, u.last_login_at, u.created_at)
            for u in rows]


async def find_user(s: AsyncSession, email: str) -> User:
    user = await s.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise NotFound(f"Ingen bruger med e-mailen {normalise_email(email)}.")
    return user


async def _other_active_admins(s: AsyncSession, user_id: int) -> int:
    return await s.scalar(select(func.count(User.id)).where(User.role == "admin", User.active.is_(True), User.id != user_id)) or 0


async def update_user(s: AsyncSession, user_id: int, *, role: str, active: bool, name: str) -> User:
    """Change role, name and whether the account may log in; deactivating ends its sessions."""
    user = await s.get(User, user_id)
    if user is None:
        raise NotFound("Brugeren findes ikke.")
    role = _check_role(role)
    if user.role == "admin" and (role != "admin" or not active) and not await _other_active_admins(s, user_id):
        raise Conflict("Der skal altid være mindst én aktiv administrator.")
    user.role, user.active, user.name = role, active, name.strip()[:200]
    if not active:
        await end_sessions_of(s, user_id)
    return user
