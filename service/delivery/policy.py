"""What happens to a delivery after an attempt: sent, deferred (when), failed, cancelled.

Pure functions of the attempt's result, the delivery's history and the settings, so the
rules can be read (and tested) in one place.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.clock import as_utc
from service.delivery.transport import SendResult, TransportError
from service.settings import DeliverySettings

MAX_DELAY = timedelta(hours=6)


@dataclass
class Outcome:
    """The row update for one delivery (and what else must follow from it)."""

    id: int
    status: str  # sent, deferred, failed, cancelled
    error: str | None = None
    next_attempt_at: datetime | None = None
    subject: str | None = None
    body: bytes | None = None
    possible_duplicate: bool = False
    suppress: bool = False  # 5xx for the recipient: never write to it again
    recipient: str = ""
    subscriber_id: int | None = None
    press_contact_id: int | None = None


def backoff(attempts: int, settings: DeliverySettings, rng: random.Random | None = None) -> timedelta:
    """retry_base × 2^(attempts-1), ±25 % jitter, at most six hours."""
    rng = rng or random
    base = settings.retry_base_seconds * (2 ** max(attempts - 1, 0))
    return min(timedelta(seconds=base * rng.uniform(0.75, 1.25)), MAX_DELAY)


def gave_up(created_at: datetime, now: datetime, settings: DeliverySettings) -> bool:
    return now - as_utc(created_at) >= timedelta(hours=settings.give_up_after_hours)


def retry_or_fail(base: Outcome, *, attempts: int, created_at: datetime, now: datetime,
                  settings: DeliverySettings, error: str) -> Outcome:
    if gave_up(created_at, now, settings):
        base.status, base.error = "failed", f"gave up after {settings.give_up_after_hours:g} h: {error}"
    else:
        base.status, base.error = "deferred", error
        base.next_attempt_at = now + backoff(attempts, settings)
    return base


def after_send(base: Outcome, result: SendResult | TransportError, *, attempts: int, created_at: datetime,
               already_duplicate: bool, now: datetime, settings: DeliverySettings) -> Outcome:
    if isinstance(result, SendResult):
        if result.ok:
            base.status, base.error = "sent", None
            return base
        error = f"{result.code} {result.detail}".strip()
        if result.permanent:
            base.status, base.error = "failed", f"refused at {result.stage.upper() or 'SMTP'}: {error}"
            base.suppress = result.stage == "rcpt"  # the address itself was refused
            return base
        return retry_or_fail(base, attempts=attempts, created_at=created_at, now=now, settings=settings,
                             error=f"refused for now at {result.stage.upper() or 'SMTP'}: {error}")
    if result.maybe_sent:
        if already_duplicate:
            base.status = "failed"
            base.error = f"no reply after DATA twice; it may have been delivered: {result}"
        else:  # retry once, at once, with the same Message-ID, and count it
            base.status, base.error, base.next_attempt_at = "deferred", str(result), now
        base.possible_duplicate = True
        return base
    return retry_or_fail(base, attempts=attempts, created_at=created_at, now=now, settings=settings, error=str(result))


def after_render_error(base: Outcome, exc: BaseException, *, attempts: int, created_at: datetime,
                       now: datetime, settings: DeliverySettings) -> Outcome:
    error = f"render: {type(exc).__name__}: {exc}"[:2000]
    if attempts >= settings.render_max_attempts:
        base.status, base.error = "failed", f"set aside after {attempts} attempts; {error}"
        return base
    return retry_or_fail(base, attempts=attempts, created_at=created_at, now=now, settings=settings, error=error)
