"""`mime.build` says whether any line of a message starts with "." (`dot_free`), and the
transport then writes it after DATA without looking for dots to double: the bytes on the
wire must be what aiosmtplib's `data()` makes, and `dot_free` must be exactly right, for
any message, built again and again (the builder keeps lines between messages)."""

from __future__ import annotations

from datetime import datetime, timezone

from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings
from hypothesis import given, settings
from hypothesis import strategies as st

from service.delivery import mime
from service.delivery.dkim import Signer
from service.delivery.headers import HeaderError
from service.delivery.transport import data_bytes
from service.render.message import Attachment, Rendered
from service.settings import MailSettings

# Dots where soft breaks may fall before them: long lines of safe characters with dots in.
PIECES = st.sampled_from(["a", "Ledigheden", " ", "\t", "\n", "\r\n", "\r", ".", "..", "=", "æ", "–", "x" * 80,
                          "x" * 74, "x" * 75, "x" * 73, "ZmVlZGJhY2t8OHwx.Klhmso8lbam", "<p>", "\n.\n", ".\n"])
TEXT = st.lists(PIECES, max_size=30).map("".join)
ATTACHMENT = st.builds(Attachment, filename=st.sampled_from(["tal.pdf", "ærø.csv"]),
                       content_type=st.sampled_from(["application/pdf", "text/csv"]), data=st.binary(max_size=300))
RENDERED = st.builds(
    Rendered, subject=st.sampled_from(["Nye tal", "Århus – .punktum", "x" * 100]), text=TEXT,
    html=st.one_of(st.none(), TEXT),
    unsubscribe_url=st.one_of(st.none(), st.just("https://nyheder.example.dk/unsubscribe/" + "t." * 75)),
    headers=st.sampled_from([{}, {"X-Budbringer-Kind": "digest"}]),
    attachments=st.lists(ATTACHMENT, max_size=2).map(tuple),
)
MAIL = MailSettings()
WHEN = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


def aiosmtplib_data(message: bytes) -> bytes:
    return PERIOD_REGEX.sub(b"..", normalize_message_line_endings(message)) + b".\r\n"


def starts_a_line_with_a_dot(message: bytes) -> bool:
    return message.startswith(b".") or b"\n." in message


@settings(max_examples=400, deadline=None)
@given(messages=st.lists(RENDERED, min_size=1, max_size=4))
def test_dot_free_is_exactly_whether_a_line_starts_with_a_dot(messages):
    for rendered in messages + messages:
        try:
            message, dot_free = mime.build(rendered, MAIL, recipient="a@b.dk", message_id="<x@budbringer.example>",
                                           date=WHEN)
        except HeaderError:
            continue
        assert dot_free == (not starts_a_line_with_a_dot(message))
        assert data_bytes(message, clean=True, dot_free=dot_free) == aiosmtplib_data(message)


def test_the_same_bytes_as_build_message():
    rendered = Rendered(subject="Nye tal", text=("x" * 75 + ".y\n") * 3, html="<p>" + "x" * 72 + ".</p>")
    kwargs = dict(recipient="a@b.dk", message_id="<x@budbringer.example>", date=WHEN)
    mime._boundary, before = (lambda: "=_bb_same"), mime._boundary
    try:
        message, dot_free = mime.build(rendered, MAIL, **kwargs)
        assert message == mime.build_message(rendered, MAIL, **kwargs)
    finally:
        mime._boundary = before
    assert not dot_free and b"=\r\n.y" in message


CLEAN = st.sampled_from([b"a", b"\xc3\xa6", b" ", b"=", b"\r\n", b"x."])


@settings(max_examples=300)
@given(st.lists(CLEAN, max_size=40).map(b"".join))
def test_a_dot_free_message_goes_as_it_is(message):
    if starts_a_line_with_a_dot(message):
        return
    assert data_bytes(message, clean=True, dot_free=True) == aiosmtplib_data(message)


def test_a_dkim_signature_starts_no_line_with_a_dot():
    from pathlib import Path

    key = (Path(__file__).resolve().parents[1] / "data" / "wire" / "dkim-test.pem").read_bytes()
    rendered = Rendered(subject="Nye tal", text="Hej\n" * 30, html="<p>Hej</p>",
                        unsubscribe_url="https://nyheder.example.dk/u/" + "t." * 100)
    message, dot_free = mime.build(rendered, MAIL, recipient="a@b.dk", message_id="<x@budbringer.example>", date=WHEN)
    signed = Signer("budbringer.example", "wire", key).sign(message)
    assert dot_free and not starts_a_line_with_a_dot(signed)
