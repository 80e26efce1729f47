"""What happens to a delivery after an attempt (service.delivery.policy): pure rules."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from service.delivery.policy import MAX_DELAY, Outcome, after_render_error, after_send, backoff
from service.delivery.transport import SendResult, TransportError
from service.settings import DeliverySettings

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
S = DeliverySettings(retry_base_seconds=60, give_up_after_hours=48, render_max_attempts=3)


def _send(result, *, attempts=1, age=timedelta(0), duplicate=False) -> Outcome:
    return after_send(Outcome(id=1, status="", recipient="a@example.dk"), result, attempts=attempts,
                      created_at=NOW - age, already_duplicate=duplicate, now=NOW, settings=S)


def test_accepted_is_sent_with_no_error():
    o = _send(SendResult(ok=True, code=250))
    assert (o.status, o.error, o.suppress, o.possible_duplicate) == ("sent", None, False, False)


def test_a_refused_recipient_fails_and_is_suppressed_a_refused_message_only_fails():
    at_rcpt = _send(SendResult(ok=False, permanent=True, code=550, detail="5.1.1 no such user", stage="rcpt"))
    assert at_rcpt.status == "failed" and at_rcpt.suppress and at_rcpt.error == "refused at RCPT: 550 5.1.1 no such user"
    at_data = _send(SendResult(ok=False, permanent=True, code=554, detail="spam", stage="data"))
    assert at_data.status == "failed" and not at_data.suppress


def test_a_temporary_refusal_is_retried_later_until_the_time_is_up():
    o = _send(SendResult(ok=False, code=451, detail="try later", stage="rcpt"), attempts=2)
    assert o.status == "deferred" and o.error == "refused for now at RCPT: 451 try later"
    # second attempt: 60 s × 2, ±25 %
    assert timedelta(seconds=90) <= o.next_attempt_at - NOW <= timedelta(seconds=150)
    late = _send(SendResult(ok=False, code=451, detail="try later", stage="rcpt"), age=timedelta(hours=48))
    assert late.status == "failed" and late.error.startswith("gave up after 48 h: ")


def test_no_reply_after_data_is_retried_once_at_once_then_failed_and_marked_a_possible_duplicate():
    lost = TransportError("no reply at DATA", maybe_sent=True)
    first = _send(lost)
    assert (first.status, first.next_attempt_at, first.possible_duplicate) == ("deferred", NOW, True)
    second = _send(lost, duplicate=True)
    assert second.status == "failed" and second.possible_duplicate and "may have been delivered" in second.error


def test_a_connection_failure_is_deferred_with_backoff():
    o = _send(TransportError("connection refused", stage="connect"), attempts=1)
    assert o.status == "deferred" and o.error == "connection refused" and o.next_attempt_at > NOW


def test_backoff_doubles_with_jitter_and_is_capped():
    rng = random.Random(1)
    for attempts in (1, 2, 3, 4):
        base = 60 * 2 ** (attempts - 1)
        delay = backoff(attempts, S, rng).total_seconds()
        assert 0.75 * base <= delay <= 1.25 * base
    assert backoff(30, S, rng) == MAX_DELAY


def test_a_message_that_will_not_render_is_retried_then_set_aside():
    boom = ValueError("template exploded")
    again = after_render_error(Outcome(id=1, status=""), boom, attempts=1, created_at=NOW, now=NOW, settings=S)
    assert again.status == "deferred" and again.error == "render: ValueError: template exploded"
    aside = after_render_error(Outcome(id=1, status=""), boom, attempts=3, created_at=NOW, now=NOW, settings=S)
    assert aside.status == "failed" and aside.error.startswith("set aside after 3 attempts; render: ValueError")
