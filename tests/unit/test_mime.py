"""The message as bytes: structure, headers, encoding, injection (issue 9, items 14 and 15)."""

from __future__ import annotations

import binascii
import email
import email.policy
import re
import subprocess
import shutil
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings, strategies as st

from service.delivery.headers import HeaderError, encode_words
from service.delivery.mime import _qp, build_message
from service.render.message import Attachment, Rendered
from service.settings import MailSettings

MAIL = MailSettings(reply_to="svar@budbringer.example", from_name="Beskæftigelsesrådet Midtjylland")
WHEN = datetime(2026, 7, 1, 5, 0, tzinfo=timezone.utc)
MID = "<0123456789abcdef@budbringer.example>"


def build(rendered: Rendered, mail: MailSettings = MAIL, recipient: str = "søren@example.dk".replace("ø", "o")) -> bytes:
    return build_message(rendered, mail, recipient=recipient, message_id=MID, date=WHEN)


def parse(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def text_of(msg, subtype: str) -> str:
    return msg.get_body((subtype,)).get_content().replace("\r\n", "\n")


def header_lines(raw: bytes) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return [line for line in head.split("\r\n") if line and not line[0].isspace()]


def test_exactly_one_of_each_identity_header_and_crlf_only():
    raw = build(Rendered(subject="Ledighedstal", text="Hej\nverden\n", html="<p>Hej</p>", unsubscribe_url="https://x.dk/u"))
    names = [line.split(":", 1)[0].lower() for line in header_lines(raw)]
    for name in ("from", "to", "date", "message-id", "subject", "mime-version"):
        assert names.count(name) == 1, name
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    msg = parse(raw)
    assert msg["Message-ID"] == MID
    assert msg["Date"] == "Wed, 01 Jul 2026 07:00:00 +0200"  # Copenhagen summer time
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["Reply-To"] == "svar@budbringer.example"
    assert msg["List-Id"] == "<nyheder.budbringer.example>"
    assert text_of(msg, "plain") == "Hej\nverden\n"


def test_danish_names_and_long_danish_subjects_survive_a_round_trip():
    subject = "Ledigheden i Ærø, Års og Søby-området: " + "særlige forhold for ældre ledige " * 8
    raw = build(Rendered(subject=subject, text="Kære læser – æøå ÆØÅ\n", html="<p>æøå</p>"))
    msg = parse(raw)
    assert str(msg["Subject"]) == " ".join(subject.split())
    assert msg["From"].addresses[0].display_name == "Beskæftigelsesrådet Midtjylland"
    assert msg["From"].addresses[0].addr_spec == "nyheder@budbringer.example"
    assert text_of(msg, "plain") == "Kære læser – æøå ÆØÅ\n"
    assert text_of(msg, "html") == "<p>æøå</p>\n"
    for line in raw.split(b"\r\n"):
        assert len(line) <= 998
    for line in header_lines(raw):
        assert line.isascii()


@pytest.mark.parametrize(
    "evil",
    [
        "Hej\r\nBcc: offer@example.com",
        "Hej\nBcc: offer@example.com",
        "Hej\rBcc: offer@example.com",
        "Hej\x00Bcc",
        "Hej\u2028Bcc: offer@example.com",
        "Hej\u2029Bcc: offer@example.com",
        "Hej\u0085Bcc: offer@example.com",
    ],
)
def test_nothing_from_data_injects_a_header(evil):
    with pytest.raises(HeaderError):
        build(Rendered(subject=evil, text="x"))
    with pytest.raises(HeaderError):
        build(Rendered(subject="ok", text="x"), MailSettings(from_name=evil))
    with pytest.raises(HeaderError):
        build(Rendered(subject="ok", text="x", headers={"X-Budbringer-Kind": evil}))
    with pytest.raises(HeaderError):
        build(Rendered(subject="ok", text="x", unsubscribe_url="https://x.dk/" + evil))


LOOK_ALIKES = [
    "=?utf-8?q?Hej=0D=0ABcc:_offer@example.com?=",
    "=?utf-8?b?SGVqDQpCY2M6IG9mZmVyQGV4YW1wbGUuY29t?=",
    "Ledighed i Aarhus =?utf-8?q?=0D=0AX-Inj:_1?=",
]


@pytest.mark.parametrize("look_alike", LOOK_ALIKES)
def test_item35_an_encoded_word_look_alike_in_free_text_is_sent_and_shows_literally(look_alike):
    """It used to sink the message ("an encoded word hides a line break"). Encoded by us,
    every = and ? of it too, it decodes once to exactly what was written, and no header is
    added. Sent as it stands (a URL) it is still refused."""
    for rendered, mail in ((Rendered(subject=look_alike, text="x"), MAIL),
                           (Rendered(subject="ok", text="x", headers={"X-Budbringer-Kind": look_alike}), MAIL),
                           (Rendered(subject="ok", text="x"), MailSettings(from_name=look_alike))):
        raw = build(rendered, mail)
        msg = parse(raw)
        names = [line.split(":", 1)[0].lower() for line in header_lines(raw)]
        assert "bcc" not in names and "x-inj" not in names
        if mail is MAIL:
            assert look_alike in (str(msg["Subject"]), str(msg["X-Budbringer-Kind"] or ""))
        else:  # Python's reader puts a space where a long display name was split into words
            assert msg["From"].addresses[0].display_name.replace(" ", "") == look_alike.replace(" ", "")
    with pytest.raises(HeaderError):
        build(Rendered(subject="ok", text="x", unsubscribe_url="https://x.dk/" + look_alike.replace(" ", "")))


def test_a_literal_encoded_word_in_text_stays_literal():
    subject = "Hvad betyder =?utf-8?q?x?= i en emnelinje?"
    msg = parse(build(Rendered(subject=subject, text="x")))
    assert str(msg["Subject"]) == subject


def test_renderers_cannot_set_our_headers_or_inject_through_recipients():
    for name in ("From", "bcc", "List-Unsubscribe", "Message-ID", "Content-Type"):
        with pytest.raises(HeaderError):
            build(Rendered(subject="ok", text="x", headers={name: "a@b.dk"}))
    with pytest.raises(HeaderError):
        build(Rendered(subject="ok", text="x", headers={"X-Bad Name": "1"}))
    with pytest.raises(HeaderError):
        build(Rendered(subject="ok", text="x"), recipient="a@b.dk\r\nBcc: c@d.dk")
    with pytest.raises(HeaderError):
        build(Rendered(subject="ok", text="x"), recipient="a@b.dk, c@d.dk")


@pytest.mark.parametrize("length", [40, 300, 900])
def test_list_unsubscribe_stays_a_plain_https_url_however_long(length):
    url = "https://nyheder.example.dk/afmeld/" + "a1B2-_" * (length // 6)
    raw = build(Rendered(subject="s", text="x", unsubscribe_url=url))
    lines = header_lines(raw)
    assert f"List-Unsubscribe: <{url}>" in lines
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in lines
    assert parse(raw)["List-Unsubscribe"] == f"<{url}>"


def test_attachments_make_multipart_mixed_and_decode_back():
    pdf = bytes(range(256)) * 40
    raw = build(Rendered(subject="Pressemeddelelse", text="Se vedhæftet\n", html="<p>Se</p>",
                         attachments=(Attachment("Ledighed æøå.pdf", "application/pdf", pdf),
                                      Attachment("tal.csv", "text/csv", b"a;b\r\n1;2\r\n"))))
    msg = parse(raw)
    assert msg.get_content_type() == "multipart/mixed"
    first = next(msg.iter_parts())
    assert first.get_content_type() == "multipart/alternative"
    atts = list(msg.iter_attachments())
    assert [a.get_filename() for a in atts] == ["Ledighed æøå.pdf", "tal.csv"]
    assert atts[0].get_content() == pdf


def test_encoded_words_are_short_and_exact():
    text = "ÆØÅ æøå " * 30
    folded = encode_words(text)
    for word in folded.split("\r\n "):
        assert len(word) <= 75 and re.fullmatch(r"=\?utf-8\?q\?[^ ?]*\?=", word)
    assert str(email.header.make_header(email.header.decode_header(folded))) == text


def _keypair(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"], check=True,
                         capture_output=True).stdout
    import base64

    return key, b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def test_dkim_covers_the_unsubscribe_headers_and_verifies(tmp_path):
    import dkim

    from service.delivery.dkim import Signer

    key, record = _keypair(tmp_path)
    raw = build(Rendered(subject="Æbler og ø", text="x", unsubscribe_url="https://x.dk/" + "u" * 400))
    signed = Signer("budbringer.example", "bb1", key.read_bytes()).sign(raw)
    header = parse(signed)["DKIM-Signature"]
    h_tag = re.search(r"h=([^;]+);", " ".join(str(header).split())).group(1)
    signed_names = {n.strip() for n in h_tag.split(":")}
    assert {"list-unsubscribe", "list-unsubscribe-post", "from", "subject", "message-id"} <= signed_names
    lookup = lambda name, timeout=5: record if name == b"bb1._domainkey.budbringer.example." else None  # noqa: E731
    assert dkim.verify(signed, dnsfunc=lookup)
    tampered = signed.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: List-Unsubscribe=Two-Click")
    assert not dkim.verify(tampered, dnsfunc=lookup)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400)
       | st.lists(st.sampled_from(["=", " ", "\t", "æøå", ".", "\n", "\r\n", "\r", "a" * 90, "<a href=\"x\">"]),
                  max_size=40).map("".join))
@settings(max_examples=300, deadline=None)
def test_quoted_printable_line_by_line_is_the_whole_encoding(text):
    # The encoder keeps lines it has seen (most of a digest is the same for everyone); the
    # bytes must be exactly what encoding the whole body at once gives, and decode back.
    normal = text.replace("\r\n", "\n").replace("\r", "\n")
    if not normal.endswith("\n"):
        normal += "\n"
    whole = binascii.b2a_qp(normal.replace("\n", "\r\n").encode("utf-8"), istext=True)
    assert _qp(text) == whole
    assert _qp(text) == whole  # and again, from the kept lines
    assert binascii.a2b_qp(whole).decode("utf-8") == normal.replace("\n", "\r\n")


def test_item36_the_to_header_writes_an_international_domain_by_idna_2008():
    """IDNA 2003 (Python's "idna" codec) maps ß to ss: faß.de would become fass.de, another domain."""
    for typed, wire in (("kim@faß.de", "kim@xn--fa-hia.de"), ("ole@bücher.dk", "ole@xn--bcher-kva.dk")):
        raw = build(Rendered(subject="ok", text="x"), recipient=typed)
        assert f"To: {wire}\r\n".encode() in raw and b"fass.de" not in raw
