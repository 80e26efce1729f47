"""A `Rendered` message → the bytes that go over SMTP.

Assembled directly (not `email.message.EmailMessage`, ~12× slower; see shared/MEASURED.md):
CRLF line endings, quoted-printable UTF-8 bodies via `binascii`, base64 attachments,
header lines up to 998 characters so List-Unsubscribe stays a plain `<https://…>`.

Structure: multipart/alternative (text, then HTML); wrapped in multipart/mixed when the
message has attachments; a lone text/plain part when there is no HTML. Exactly one
From, To, Date, Message-ID and Subject. Every value that came from data passes
`service.delivery.headers` (validated, RFC 2047 for æøå).
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import secrets
from datetime import datetime
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from service.delivery import headers as h
from service.delivery.headers import HeaderError
from service.render.message import Attachment, Rendered
from service.settings import MailSettings

CRLF = "\r\n"
_CTYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
# Headers the product may not set through `Rendered.headers`: they are ours alone.
RESERVED = frozenset(
    name.lower()
    for name in (
        "From", "To", "Cc", "Bcc", "Subject", "Date", "Message-ID", "Reply-To", "Sender", "Return-Path",
        "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "List-Id",
        "List-Unsubscribe", "List-Unsubscribe-Post", "DKIM-Signature", "Received", "Precedence",
        "Auto-Submitted", "In-Reply-To", "References",
    )
)
_COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def build_message(rendered: Rendered, mail: MailSettings, **fields) -> bytes:
    """The finished message (without DKIM) as CRLF bytes; raises HeaderError on unsafe data.
    `fields` are `build`'s (recipient, message_id, date, tz, auto_submitted)."""
    return build(rendered, mail, **fields)[0]


def build(
    rendered: Rendered,
    mail: MailSettings,
    *,
    recipient: str,
    message_id: str,
    date: datetime,
    tz: ZoneInfo = _COPENHAGEN,
    auto_submitted: bool = True,
) -> tuple[bytes, bool]:
    """The finished message (without DKIM) as CRLF bytes, and whether no line of the message starts with "." (`dot_free`): then
    the transport has nothing to double before DATA and need not look (`data_bytes`).
    Header lines never start with "." (a name, or the blank of a folded line), nor do the
    boundaries, part headers and base64 lines; only a quoted-printable line can, and `_qp`
    knows which do."""
    head = headers_for(rendered, mail, recipient=recipient, message_id=message_id, date=date, tz=tz,
                       auto_submitted=auto_submitted)
    body_head, body, dotted = _body(rendered)
    top = CRLF.join([*head, *body_head]) + CRLF + CRLF
    # ASCII but for a recipient whose local part has letters such as ø (RFC 6532, sent with SMTPUTF8).
    return top.encode("utf-8") + body, not (dotted or "\n." in top)


def headers_for(
    rendered: Rendered,
    mail: MailSettings,
    *,
    recipient: str,
    message_id: str,
    date: datetime,
    tz: ZoneInfo = _COPENHAGEN,
    auto_submitted: bool = True,
) -> list[str]:
    if not re.fullmatch(r"<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>", message_id or ""):
        raise HeaderError("Message-ID is not of the form <id@domain>")
    out = [
        "From: " + h.mailbox(mail.from_name, mail.from_address, "From"),
        "To: " + h.address(recipient, "To"),
        h.unstructured("Subject", rendered.subject),
        _date_line(date, tz),
        h.line("Message-ID", message_id),
        "MIME-Version: 1.0",
    ]
    if mail.reply_to:
        out.append("Reply-To: " + h.address(mail.reply_to, "Reply-To"))
    if mail.list_id:
        list_id = mail.list_id.strip("<>")
        if not re.fullmatch(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", list_id):
            raise HeaderError("mail.list_id must look like list.example.org")
        out.append(f"List-Id: <{list_id}>")
    if rendered.unsubscribe_url:
        out.append(h.line("List-Unsubscribe", f"<{h.url(rendered.unsubscribe_url, 'List-Unsubscribe')}>"))
        out.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    if auto_submitted:
        out.append("Auto-Submitted: auto-generated")  # RFC 3834: no vacation replies, please
    for name, value in rendered.headers.items():
        h.check_name(name)
        if name.lower() in RESERVED:
            raise HeaderError(f"{name} may not be set by a renderer")
        out.append(h.unstructured(name, value))
    return out


@functools.lru_cache(maxsize=64)
def _date_line(date: datetime, tz: ZoneInfo) -> str:
    # The worker dates every message of a batch with the batch's `now`: formatted once (~3 µs).
    return h.line("Date", format_datetime(date.astimezone(tz)))


def _body(rendered: Rendered) -> tuple[list[str], bytes, bool]:
    """(Content-* header lines, body bytes, whether a line of it starts with ".") for the
    top-level entity."""
    text, dotted = _qp_dotted(rendered.text)
    text_part = _leaf("text/plain; charset=utf-8", text)
    if rendered.html:
        boundary = _boundary()
        html, html_dotted = _qp_dotted(rendered.html)
        dotted = dotted or html_dotted
        alt = _multipart(boundary, [text_part, _leaf("text/html; charset=utf-8", html)])
        main = ([f'Content-Type: multipart/alternative; boundary="{boundary}"'], alt)
    else:
        main = (["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable"], text)
    if not rendered.attachments:
        return main[0], main[1], dotted
    boundary = _boundary()
    first = (CRLF.join(main[0]) + CRLF + CRLF).encode("ascii") + main[1]
    parts = [first, *(_attachment(a) for a in rendered.attachments)]
    return [f'Content-Type: multipart/mixed; boundary="{boundary}"'], _multipart(boundary, parts), dotted


def _leaf(content_type: str, payload: bytes, encoding: str = "quoted-printable", extra: tuple[str, ...] = ()) -> bytes:
    head = [f"Content-Type: {content_type}", f"Content-Transfer-Encoding: {encoding}", *extra]
    return (CRLF.join(head) + CRLF + CRLF).encode("ascii") + payload


def _multipart(boundary: str, parts: list[bytes]) -> bytes:
    # The CRLF before each delimiter belongs to the delimiter (RFC 2046), not to the part.
    delimiter = f"\r\n--{boundary}\r\n".encode("ascii")
    chunks = [b"This is a multi-part message in MIME format."]
    for part in parts:
        chunks.append(delimiter)
        chunks.append(part)
    chunks.append(f"\r\n--{boundary}--\r\n".encode("ascii"))
    return b"".join(chunks)


def _boundary() -> str:
    # "=_" can occur neither in quoted-printable nor in base64 lines: no body can contain it.
    return "=_bb_" + secrets.token_hex(12)


# Quoted-printable is line by line (soft breaks and trailing blanks are decided within a
# line), so a message can be encoded one line at a time and the result is byte for byte
# `b2a_qp` of the whole. Most lines of a digest are the same for every subscriber (only the
# lines with their links differ), and `b2a_qp` was the largest single cost of building a
# message (~18 % of the send worker's time), so encoded lines are kept. The store is
# emptied when full rather than kept in LRU order: cheaper, and the common lines come back
# within a message or two. An encoded line that starts with "." (or has a soft break
# before one) is kept apart (`_QP_DOTTED`), so that every line found in `_QP_LINES` is known
# to start no line with ".".
_QP_LINES: dict[str, bytes] = {}
_QP_DOTTED: dict[str, bytes] = {}
_QP_MAX = 20_000


def _qp(text: str) -> bytes:
    return _qp_dotted(text)[0]


def _qp_dotted(text: str) -> tuple[bytes, bool]:
    """`text` quoted-printable with CRLF line ends, and whether a line of it starts with "."."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.endswith("\n"):
        text = text[:-1]
    store = _QP_LINES
    if len(store) > _QP_MAX or len(_QP_DOTTED) > _QP_MAX:
        store.clear()
        _QP_DOTTED.clear()
    lines = text.split("\n")
    out = list(map(store.get, lines))  # most are there: looked up without a Python loop
    dotted = False
    try:
        i = out.index(None)  # the few lines not kept, found without a Python loop over all
    except ValueError:
        return b"".join(out), dotted
    kept_dotted = _QP_DOTTED
    n = len(out)
    while True:
        line = lines[i]
        encoded = kept_dotted.get(line)
        if encoded is not None:
            dotted = True
        else:
            encoded = binascii.b2a_qp(line.encode("utf-8") + b"\r\n", istext=True)
            if encoded[:1] == b"." or b"\n." in encoded:
                kept_dotted[line] = encoded
                dotted = True
            else:
                store[line] = encoded
        out[i] = encoded
        i += 1
        if i == n:
            break
        try:
            i = out.index(None, i)
        except ValueError:
            break
    return b"".join(out), dotted


def _attachment(att: Attachment) -> bytes:
    ctype = att.content_type.strip().lower()
    if not _CTYPE.match(ctype):
        raise HeaderError(f"attachment content type {att.content_type!r} is not valid")
    h.check_text(att.filename, "attachment filename")
    name = att.filename.replace("/", "_").replace("\\", "_").strip() or "vedhaeftning"
    if name.isascii() and re.fullmatch(r"[A-Za-z0-9 ._()+,-]+", name):
        param = f'filename="{name}"'
        ct = f'{ctype}; name="{name}"'
    else:
        from urllib.parse import quote

        param = "filename*=utf-8''" + quote(name, safe="")
        ct = f"{ctype}; name*=utf-8''" + quote(name, safe="")
    encoded = base64.encodebytes(att.data).replace(b"\n", b"\r\n")
    return _leaf(ct, encoded, "base64", (f"Content-Disposition: attachment; {param}",))


__all__ = ["build", "build_message", "headers_for", "HeaderError", "RESERVED"]
