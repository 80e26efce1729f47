"""Catalogue 22, property-based: the signed link tokens refuse every altered, expired,
wrong-purpose or other-subscriber token that hypothesis can make (no database)."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from service.clock import FrozenClock
from subscribers.links import CONFIRM, EMAIL_CHANGE, FEEDBACK, MANAGE, UNSUBSCRIBE
from subscribers.tokens import TokenExpired, TokenInvalid, TokenSigner

SECRET = b"test-secret-key-that-is-long-enough-0123456789"
PURPOSES = [CONFIRM, MANAGE, UNSUBSCRIBE, FEEDBACK, EMAIL_CHANGE]
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
TTL = timedelta(days=7)

purposes = st.sampled_from(PURPOSES)
ids = st.integers(min_value=1, max_value=2**31)
versions = st.integers(min_value=1, max_value=1000)
extras = st.text(st.characters(blacklist_characters="|", blacklist_categories=("Cs",)), max_size=20)
# What can stand in a URL path segment, and then some.
chars = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/%~ \x00æ")

CHECKS = settings(max_examples=300, deadline=None)


def signer(clock: FrozenClock | None = None) -> TokenSigner:
    return TokenSigner(SECRET, clock or FrozenClock(NOW))


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@CHECKS
@given(purpose=purposes, subject=ids, version=versions, extra=extras)
def test_item22_a_genuine_token_reads_back_exactly(purpose, subject, version, extra):
    token = signer().make(purpose, subject, version, TTL, extra)
    data = signer().read(token, purpose)
    assert (data.purpose, data.subject_id, data.version, data.extra) == (purpose, subject, version, extra)


@CHECKS
@given(purpose=purposes, subject=ids, version=versions, extra=extras, data=st.data())
def test_item22_any_altered_character_is_refused(purpose, subject, version, extra, data):
    token = signer().make(purpose, subject, version, TTL, extra)
    edit = data.draw(st.sampled_from(["replace", "insert", "delete"]))
    at = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    if edit == "replace":
        altered = token[:at] + data.draw(chars) + token[at + 1:]
    elif edit == "insert":
        altered = token[:at] + data.draw(chars) + token[at:]
    else:
        altered = token[:at] + token[at + 1:]
    assume(altered != token)
    with pytest.raises(TokenInvalid) as err:
        signer().read(altered, purpose)
    assert not isinstance(err.value, TokenExpired)  # refused as forged, not as merely old


@CHECKS
@given(purpose=purposes, subject=ids, version=versions, extra=extras, byte=st.integers(0, 255), data=st.data())
def test_item22_any_altered_payload_or_signature_byte_is_refused(purpose, subject, version, extra, byte, data):
    token = signer().make(purpose, subject, version, TTL, extra)
    payload_b64, sig_b64 = token.split(".")
    part = data.draw(st.sampled_from(["payload", "signature"]))
    raw = bytearray(_unb64(payload_b64 if part == "payload" else sig_b64))
    at = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    assume(raw[at] != byte)
    raw[at] = byte
    altered = f"{_b64(bytes(raw))}.{sig_b64}" if part == "payload" else f"{payload_b64}.{_b64(bytes(raw))}"
    with pytest.raises(TokenInvalid):
        signer().read(altered, purpose)


@CHECKS
@given(made_for=purposes, used_for=purposes, subject=ids, version=versions, extra=extras)
def test_item22_a_token_for_another_purpose_is_refused(made_for, used_for, subject, version, extra):
    assume(made_for != used_for)
    token = signer().make(made_for, subject, version, TTL, extra)
    with pytest.raises(TokenInvalid):
        signer().read(token, used_for)


@CHECKS
@given(purpose=purposes, mine=ids, theirs=ids, version=versions, extra=extras)
def test_item22_a_token_cannot_be_turned_into_another_subscribers(purpose, mine, theirs, version, extra):
    assume(mine != theirs)
    s = signer()
    my_token = s.make(purpose, mine, version, TTL, extra)
    their_token = s.make(purpose, theirs, version, TTL, extra)
    my_payload, my_sig = my_token.split(".")
    their_payload, their_sig = their_token.split(".")
    # Their subscriber id written into my payload, kept with my signature; and the two halves swapped.
    rewritten = _unb64(my_payload).decode().replace(f"|{mine}|", f"|{theirs}|", 1).encode()
    for forged in (f"{_b64(rewritten)}.{my_sig}", f"{their_payload}.{my_sig}", f"{my_payload}.{their_sig}"):
        with pytest.raises(TokenInvalid):
            s.read(forged, purpose)
    assert s.read(their_token, purpose).subject_id == theirs  # their own token still works for them


@CHECKS
@given(purpose=purposes, subject=ids, version=versions, extra=extras, secret=st.binary(min_size=16, max_size=64))
def test_item22_a_token_signed_with_another_key_is_refused(purpose, subject, version, extra, secret):
    assume(secret != SECRET)
    token = TokenSigner(secret, FrozenClock(NOW)).make(purpose, subject, version, TTL, extra)
    with pytest.raises(TokenInvalid):
        signer().read(token, purpose)


@CHECKS
@given(purpose=purposes, subject=ids, version=versions, ttl_s=st.integers(1, 400 * 86400),
       late_s=st.integers(0, 10 * 365 * 86400))
def test_item22_an_expired_token_is_refused_and_says_whose_it_was(purpose, subject, version, ttl_s, late_s):
    clock = FrozenClock(NOW)
    s = signer(clock)
    token = s.make(purpose, subject, version, timedelta(seconds=ttl_s))
    clock.set(NOW + timedelta(seconds=ttl_s + late_s))
    with pytest.raises(TokenExpired) as err:
        s.read(token, purpose)
    assert err.value.subject_id == subject  # so the page can offer a new link to that subscriber
    clock.set(NOW + timedelta(seconds=ttl_s - 1))
    assert s.read(token, purpose).subject_id == subject  # one second before, it still works


@CHECKS
@given(junk=st.text(max_size=600))
def test_item22_arbitrary_text_is_never_a_token(junk):
    for purpose in PURPOSES:
        with pytest.raises(TokenInvalid):
            signer().read(junk, purpose)
