"""Header values that come from data, made safe: validated, encoded, never folded wrongly.

Python 3.11.7 (this machine) predates the fixes for header injection in the email
package (CVE-2024-6923 and later), so nothing here relies on it: every value from data
is checked for CR, LF, NUL, other control characters and U+2028/U+2029/U+0085. Non-ASCII
text (æøå) becomes RFC 2047 Q-encoded words of at most 75 characters, joined by CRLF +
space.

Text that looks like an encoded word (`=?utf-8?q?=0D=0AX-Inj:_1?=` in a feed item's
title) is a trap only when it goes out as it stands, for a reader would decode it. Free
text (a Subject, a display name) is then encoded itself (RFC 2047 allows encoding any
word, and every `=` and `?` of it is encoded), so the reader sees the characters as
typed and nothing is decoded into a line break: the message is sent, not refused. Values
that go out as they stand (addresses, URLs, our own header lines) are still refused when
an encoded word in them decodes to a line break or control character.
"""

from __future__ import annotations

import functools
import re
from email.header import decode_header
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

MAX_LINE = 998  # RFC 5322 hard limit, CRLF excluded

# Anything that could end a header line in some reader, or is not text at all.
_FORBIDDEN = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[qQbB]\?[^?\s]*\?=")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251})$")
_URL = re.compile(r"^https?://[\x21-\x7e]+$")
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_ATEXT_PHRASE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*$")
_NOT_IN_UTF8_LOCAL = re.compile(r"[\s<>(),;:\"\[\]\\]")


class HeaderError(ValueError):
    """A header value from data is unsafe or unusable; the message must not be built."""


def check_text(value: str, what: str = "header", *, sent_as_is: bool = True) -> str:
    """Refuse control characters and line breaks; for a value `sent_as_is` (not encoded by
    us), also those hidden in encoded words."""
    if not isinstance(value, str):
        raise HeaderError(f"{what}: not text")
    if _FORBIDDEN.search(value):
        raise HeaderError(f"{what}: contains a line break or control character")
    if sent_as_is and "=?" in value:
        for word in _ENCODED_WORD.findall(value):
            try:
                parts = decode_header(word)
                decoded = "".join(
                    p.decode(cs or "ascii", "replace") if isinstance(p, bytes) else p for p, cs in parts
                )
            except Exception as exc:  # a malformed word is refused, not guessed at
                raise HeaderError(f"{what}: malformed encoded word") from exc
            if _FORBIDDEN.search(decoded):
                raise HeaderError(f"{what}: an encoded word hides a line break or control character")
    return value


def check_name(name: str) -> str:
    if not _HEADER_NAME.match(name):
        raise HeaderError(f"invalid header name {name!r}")
    return name


@functools.lru_cache(maxsize=4096)
def smtp_form(value: str) -> str:
    """The one form of an address used on the wire, in the envelope and in To alike.

    An international domain is written in ASCII by IDNA 2008 (email-validator's
    `ascii_email`): `faß.de` is `xn--fa-hia.de`, never `fass.de` (Python's own "idna"
    codec is IDNA 2003, which maps ß to ss: another domain). A local part with letters
    such as ø stays as it is: such an address needs SMTPUTF8 (RFC 6531), which the
    transport asks the relay for. An ASCII address is returned unchanged."""
    if value.isascii():
        return value
    try:
        found = validate_email(value, check_deliverability=False, allow_smtputf8=True, globally_deliverable=False)
    except EmailNotValidError as exc:
        raise HeaderError(f"not a usable email address: {exc}") from None
    return found.ascii_email or f"{found.local_part}@{found.ascii_domain}"


def address(value: str, what: str = "address") -> str:
    """An addr-spec: ASCII (international domains by IDNA 2008, see `smtp_form`), or with
    a UTF-8 local part, which RFC 6532 allows in headers of mail sent with SMTPUTF8."""
    check_text(value, what)
    value = value.strip()
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        raise HeaderError(f"{what}: not an email address")
    result = smtp_form(value)
    if not result.isascii():
        if len(result.encode()) > 254 or _NOT_IN_UTF8_LOCAL.search(result):
            raise HeaderError(f"{what}: not a usable email address")
        return result
    if len(result) > 254 or not _ADDRESS.match(result):
        raise HeaderError(f"{what}: not a plain ASCII email address")
    return result


def url(value: str, what: str = "URL") -> str:
    check_text(value, what)
    if not _URL.match(value) or "<" in value or ">" in value:
        raise HeaderError(f"{what}: must be an absolute http(s) URL without spaces or angle brackets")
    return value


def encode_words(text: str, first_room: int = 60) -> str:
    """RFC 2047 Q-encoded words (UTF-8), each at most 75 characters, joined by CRLF SP.

    Every '=', '?', '_' and non-ASCII character is encoded, so a literal "=?...?=" in
    the text can never be read back as an encoded word.
    """
    prefix, suffix = "=?utf-8?q?", "?="
    limit = 75 - len(prefix) - len(suffix)
    words: list[str] = []
    current: list[str] = []
    used = 0
    room = min(limit, max(first_room - len(prefix) - len(suffix), 12))
    for ch in text:
        raw = ch.encode("utf-8")
        if ch == " ":
            piece = "_"
        elif len(raw) == 1 and raw[0] in _Q_SAFE:
            piece = ch
        else:
            piece = "".join(f"={b:02X}" for b in raw)
        if used + len(piece) > room and current:
            words.append(prefix + "".join(current) + suffix)
            current, used, room = [], 0, limit
        current.append(piece)
        used += len(piece)
    if current or not words:
        words.append(prefix + "".join(current) + suffix)
    return "\r\n ".join(words)


# A digest run sends the same subject and sender 100,000 times: encoded once each. Both are
# pure functions of their text (a refused value raises every time: exceptions are not kept).
@lru_cache(maxsize=4096)
def unstructured(name: str, value: str) -> str:
    """`Name: value` for free text (Subject, extra headers): plain when safe ASCII, else
    encoded (always when it holds "=?", so a look-alike of an encoded word shows literally)."""
    check_text(value, name, sent_as_is=False)
    value = " ".join(value.split())  # tabs and runs of spaces collapse; no leading/trailing space
    if value.isascii() and "=?" not in value and len(name) + 2 + len(value) <= 78:
        return f"{name}: {value}"
    if value.isascii() and "=?" not in value:
        return f"{name}: {fold(value, len(name) + 2)}"
    return f"{name}: {encode_words(value, 76 - len(name) - 2)}"


def fold(value: str, start: int, width: int = 78) -> str:
    """Fold ASCII text at spaces (CRLF SP), never inside a word; long words stay whole (<= 998)."""
    out: list[str] = []
    line = ""
    col = start
    for word in value.split(" "):
        if line and col + 1 + len(word) > width:
            out.append(line)
            line, col = word, 1 + len(word)
        else:
            line = f"{line} {word}" if line else word
            col += (1 if col > start else 0) + len(word)
        if col > MAX_LINE:
            raise HeaderError("a word in a header is longer than a line may be")
    out.append(line)
    return "\r\n ".join(out)


@lru_cache(maxsize=256)
def mailbox(display_name: str, addr: str, what: str = "mailbox") -> str:
    """`Name <addr>` with the name quoted or RFC 2047-encoded as needed."""
    addr = address(addr, what)
    check_text(display_name, what, sent_as_is=False)
    name = " ".join(display_name.split())
    if not name:
        return addr
    if name.isascii() and "=?" not in name:
        if _ATEXT_PHRASE.match(name):
            return f"{name} <{addr}>"
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}" <{addr}>'
    return f"{encode_words(name)} <{addr}>"


def line(name: str, value: str) -> str:
    """A header whose value is already safe ASCII (ours), checked against the line limit."""
    check_name(name)
    for part in value.split("\r\n "):
        check_text(part, name)
    text = f"{name}: {value}"
    for part in text.split("\r\n "):
        if len(part) > MAX_LINE:
            raise HeaderError(f"{name}: line longer than {MAX_LINE} characters")
    return text
