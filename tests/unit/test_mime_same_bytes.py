"""The MIME builder gives the same bytes as before issue 19 made it faster (the builder as
it was is kept in tests/oracle/), for any message: text and HTML with any characters and
line endings, long lines, dots and blanks at line ends, Danish and other non-ASCII
subjects and names, attachments; built again and again, so that whatever the builder
keeps between messages cannot change a later one."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.delivery import mime
from service.delivery.headers import HeaderError
from service.render.message import Attachment, Rendered
from service.settings import MailSettings
from tests.oracle import mime_before

PIECES = st.sampled_from(["a", "Ledigheden", " ", "  ", "\t", "\n", "\r\n", "\r", ".", "=", "æ", "Ø", "å", "–", "€",
                          "😀", "x" * 80, "lang linje uden ende " * 6, "=?utf-8?q?x?=", "<p>", "&amp;", ">"])
TEXT = st.lists(PIECES, max_size=30).map("".join)
WORDS = st.lists(st.sampled_from(["Nye", "tal", "for", "Århus", "–", "ledighed", "=?", "x" * 40, "é", "🙂",
                                  "=?utf-8?q?=0D=0AX-Inj:_1?=", "=?utf-8?q?hej?="]),
                 min_size=1, max_size=12).map(" ".join)
ATTACHMENT = st.builds(Attachment, filename=st.sampled_from(["tal.pdf", "Tal for september.pdf", "ærø.csv", "a b.xlsx"]),
                       content_type=st.sampled_from(["application/pdf", "text/csv"]), data=st.binary(max_size=300))
RENDERED = st.builds(
    Rendered, subject=WORDS, text=TEXT, html=st.one_of(st.none(), TEXT),
    unsubscribe_url=st.one_of(st.none(), st.just("https://nyheder.example.dk/unsubscribe/" + "t" * 150)),
    headers=st.sampled_from([{}, {"X-Budbringer-Kind": "digest"}, {"X-Budbringer-Item": "42"}]),
    attachments=st.lists(ATTACHMENT, max_size=2).map(tuple),
)
MAIL = [MailSettings(), MailSettings(**{"from": "nyheder@budbringer.example", "from_name": "Rådet \"Midt\"",
                                        "reply_to": "svar@budbringer.example", "list_id": ""})]
WHEN = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


def _build(module, rendered: Rendered, mail: MailSettings, recipient: str):
    try:
        return module.build_message(rendered, mail, recipient=recipient, message_id="<abc@budbringer.example>",
                                    date=WHEN)
    except (HeaderError, mime_before.HeaderError) as exc:
        return ("refused", str(exc))


@pytest.fixture(autouse=True)
def same_boundaries(monkeypatch):
    for module in (mime, mime_before):
        monkeypatch.setattr(module, "_boundary", lambda: "=_bb_same")


@settings(max_examples=400, deadline=None)
@given(messages=st.lists(RENDERED, min_size=1, max_size=4), which=st.integers(0, 1),
       recipient=st.sampled_from(["modtager@example.dk", "Modtager@Ærø.dk", "x@y"]))
def test_the_builder_gives_the_bytes_it_gave_before(messages, which, recipient):
    for rendered in messages + messages:
        built = _build(mime, rendered, MAIL[which], recipient)
        assert built == _build(mime_before, rendered, MAIL[which], recipient)
        if isinstance(built, bytes):  # CRLF line endings only: the transport sends it as it is (`clean`)
            assert built.count(b"\n") == built.count(b"\r\n") == built.count(b"\r")


def test_a_signed_message_has_crlf_line_endings_only():
    from pathlib import Path

    from service.delivery.dkim import Signer

    key = (Path(__file__).resolve().parents[1] / "data" / "wire" / "dkim-test.pem").read_bytes()
    rendered = Rendered(subject="Nye tal for Århus – september", text="Hej\n\n.punktum\nlinje " * 30,
                        html="<p>Hej æøå</p>", unsubscribe_url="https://nyheder.example.dk/u/" + "t" * 200)
    built = Signer("budbringer.example", "wire", key).sign(
        mime.build_message(rendered, MAIL[0], recipient="a@b.dk", message_id="<x@budbringer.example>", date=WHEN))
    assert built.startswith(b"DKIM-Signature:")
    assert built.count(b"\n") == built.count(b"\r\n") == built.count(b"\r")
