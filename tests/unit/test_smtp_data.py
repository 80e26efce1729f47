"""The bytes the transport writes after DATA are the bytes aiosmtplib's own `data()` would
write (line endings made CRLF, a leading '.' doubled on every line, the final '.' line),
whatever the message: the transport skips aiosmtplib's regular expressions, not their work."""

from __future__ import annotations

from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings
from hypothesis import given, settings
from hypothesis import strategies as st

from service.delivery.transport import data_bytes

PIECES = st.sampled_from([b"a", b"\xc3\xa6", b".", b"..", b"\r", b"\n", b"\r\n", b" ", b"=", b"\r\n.\r\n", b"\r\r\n"])


def aiosmtplib_data(message: bytes) -> bytes:
    return PERIOD_REGEX.sub(b"..", normalize_message_line_endings(message)) + b".\r\n"


@settings(max_examples=500)
@given(st.lists(PIECES, max_size=40).map(b"".join))
def test_same_bytes_as_aiosmtplib_for_any_message(message):
    assert data_bytes(message) == aiosmtplib_data(message)


def test_a_built_message_needs_no_normalising():
    message = b"Subject: x\r\n\r\n.linje\r\nanden\r\n..\r\n"
    assert data_bytes(message) == b"Subject: x\r\n\r\n..linje\r\nanden\r\n...\r\n.\r\n"


CLEAN = st.sampled_from([b"a", b"\xc3\xa6", b".", b"..", b"\r\n", b" ", b"=", b"\r\n.\r\n", b"\r\n."])


@settings(max_examples=300)
@given(st.lists(CLEAN, max_size=40).map(b"".join))
def test_a_message_with_crlf_only_needs_no_looking_through(message):
    assert data_bytes(message, clean=True) == aiosmtplib_data(message)
