"""The audit log: who did what, to what, when. One row per admin action, written in the
caller's transaction so the action and its record commit (or fail) together.

`record` is the service call; `record_request` takes the acting staff member and the
client address from an admin request (what `require_role` put there).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import AuditEntry

MAX_DETAIL_CHARS = 2000


def _clean(detail: dict[str, Any] | None) -> dict[str, Any]:
    """JSON-safe detail: plain values kept, anything else as text, long text cut."""
    out: dict[str, Any] = {}
    for key, value in (detail or {}).items():
        if value is None or isinstance(value, (bool, int, float)):
            out[str(key)] = value
        elif isinstance(value, (list, tuple)):
            out[str(key)] = [v if isinstance(v, (bool, int, float)) or v is None else str(v)[:200] for v in value][:100]
        else:
            out[str(key)] = str(value)[:MAX_DETAIL_CHARS]
    return out


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
    now: datetime,
    user_id: int | None = None,
) -> None:
    """Add one audit entry to `session` (the caller commits). `actor` is an email or "cli:<name>"."""
    session.add(AuditEntry(
        user_id=user_id, actor=actor[:320], action=action[:100], target=str(target)[:200],
        detail=_clean(detail), ip=(ip or None) and ip[:64], at=now,
    ))


async def record_request(
    session: AsyncSession, request, action: str, target: str = "", detail: dict[str, Any] | None = None
) -> None:
    """`record` for an admin request: the signed-in staff member, their address, the clock's now."""
    from service.web.client import client_ip
    from service.web.keys import RUNTIME

    user = request.get("user")
    await record(
        session, actor=getattr(user, "email", None) or "?", user_id=getattr(user, "id", None), action=action,
        target=target, detail=detail, ip=client_ip(request), now=request.app[RUNTIME].clock.now(),
    )
