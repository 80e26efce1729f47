"""Who a link is for: the subscriber a signed token in a URL opens, or why it opens none."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from subscribers.models import Subscriber
from subscribers.tokens import TokenData, TokenExpired, TokenInvalid, TokenSigner

INVALID, EXPIRED, GONE = "invalid", "expired", "gone"


@dataclass(frozen=True)
class Access:
    """`subscriber` (detached) when the link is good; else `problem` says why not."""

    subscriber: Subscriber | None
    data: TokenData | TokenExpired | None
    problem: str | None


def read_token(signer: TokenSigner, token: str, purpose: str) -> Access | TokenData:
    """The token's data, or an `Access` with the problem (an expired one carries its subject)."""
    try:
        return signer.read(token, purpose)
    except TokenExpired as exc:
        return Access(None, exc, EXPIRED)
    except TokenInvalid:
        return Access(None, None, INVALID)


async def subscriber_for(session: AsyncSession, signer: TokenSigner, token: str, purpose: str) -> Access:
    """The subscriber the token names, if it still matches their current links (token version)."""
    data = read_token(signer, token, purpose)
    if isinstance(data, Access):
        return data
    sub = await session.get(Subscriber, data.subject_id)
    if sub is None:
        return Access(None, data, GONE)
    if sub.token_version != data.version:
        return Access(None, data, INVALID)
    session.expunge(sub)
    return Access(sub, data, None)
