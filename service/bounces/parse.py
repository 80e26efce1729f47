"""Reading bounce and complaint reports, with the work per report bounded.

- RFC 3464 delivery status notifications (multipart/report; report-type=delivery-status):
  per recipient an Action and a Status; 5.x.x failed → hard (except 5.2.2, a full
  mailbox: soft), 4.x.x or "delayed" → soft.
- RFC 5965 ARF feedback reports (report-type=feedback-report): a complaint.

Both usually carry the original message or its headers, which give its Message-ID (how
the delivery is found) and Return-Path (our signed tag). Anything else is "unknown" and
changes nothing. Texts are cut short and stripped of control characters: admins read them.

The endpoint is open to anyone, so a report is never handed whole to the `email`
package (a 1.4 MB message of 40,000 tiny parts took it half a second, per parse). Only
the report's own parts are split out, by their boundary, and only the first
`MAX_PARTS` of them; a delivery-status part gives at most `MAX_RECIPIENTS` recipients;
of a quoted original message only its header section is read; every header section and
text is cut at a fixed size before it is parsed. What is left is a few regular-expression
scans over at most `bounces.max_bytes`.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")
_MSGID = re.compile(r"<[^<>\s]+@[^<>\s]+>")
_BLANK_LINE = re.compile(rb"\r?\n[ \t]*\r?\n")
COMPLAINT_TYPES = {"abuse", "fraud", "virus", "other"}

MAX_PARTS = 10  # parts of a report read (a DSN has two or three, an ARF report three)
MAX_RECIPIENTS = 10  # recipient blocks read from one delivery-status part (ours have one recipient)
MAX_HEAD_BYTES = 64 * 1024  # a header section longer than this is not a report's
MAX_TEXT_BYTES = 64 * 1024  # of a part's text, this much is read


@dataclass
class RecipientStatus:
    email: str
    action: str
    status: str
    diagnostic: str
    kind: str  # hard, soft, none


@dataclass
class Report:
    kind: str  # hard, soft, complaint, none, unknown
    recipients: list[RecipientStatus] = field(default_factory=list)
    original_message_id: str | None = None
    original_return_path: str | None = None
    original_to: str | None = None
    report_to: str | None = None
    diagnostic: str = ""


def clean(text: str | None, limit: int = 1000) -> str:
    return _CONTROL.sub(" ", " ".join(str(text or "").split()))[:limit]


def _address(value: str | None) -> str:
    """`rfc822; a@b.dk` or `<a@b.dk>` -> `a@b.dk`."""
    value = str(value or "")
    if ";" in value:
        value = value.split(";", 1)[1]
    return value.strip().strip("<>").strip().lower()[:320]


def classify(action: str, status: str) -> str:
    action, status = action.lower(), status.strip()
    if action == "delayed" or status.startswith("4."):
        return "soft"
    if action == "failed":
        if status.startswith("5.2.2") or status.startswith("4."):
            return "soft"
        return "hard"
    return "none"


def parse_report(raw: bytes) -> Report:
    split = _split_head(raw)
    if split is None:
        return Report(kind="unknown")
    msg = _headers(split[0])
    report = Report(kind="unknown", report_to=str(msg.get("To", "") or "")[:1000])
    boundary = msg.get_boundary()
    if msg.get_content_type() != "multipart/report" or not boundary:
        return report
    report_type = (msg.get_param("report-type") or "").lower()
    for head, body in _parts(split[1], boundary):
        part = _headers(head)
        ctype = part.get_content_type()
        if ctype == "message/delivery-status" and report_type == "delivery-status":
            _delivery_status(_text(part, body), report)
        elif ctype == "message/feedback-report" and report_type == "feedback-report":
            _feedback(_text(part, body), report)
        elif ctype in ("message/rfc822", "message/global"):
            inner = _split_head(body)
            _original(_headers(inner[0]) if inner else None, report)
        elif ctype in ("text/rfc822-headers", "message/global-headers"):
            _original(_headers(_text(part, body).encode("utf-8", "replace")[:MAX_HEAD_BYTES]), report)
        elif ctype == "text/plain" and not report.diagnostic:
            report.diagnostic = clean(_text(part, body)[:2000], 500)
    if report.kind == "unknown" and report.recipients:
        kinds = {r.kind for r in report.recipients}
        report.kind = "hard" if "hard" in kinds else "soft" if "soft" in kinds else "none"
    return report


def _split_head(data: bytes) -> tuple[bytes, bytes] | None:
    """(header section, body); None when the header section is longer than a report's."""
    if data[:1] == b"\n" or data[:2] == b"\r\n":  # no headers at all
        return b"", data[1 if data[:1] == b"\n" else 2:]
    end = _BLANK_LINE.search(data, 0, MAX_HEAD_BYTES + 8)
    if end is None:
        return (data, b"") if len(data) <= MAX_HEAD_BYTES else None
    return data[:end.start()], data[end.end():]


def _headers(head: bytes) -> Message:
    return BytesHeaderParser(policy=compat32).parsebytes(head + b"\r\n\r\n")


def _parts(body: bytes, boundary: str):
    """(head, body) of each part of a multipart body, at most MAX_PARTS of them."""
    try:
        mark = boundary.encode("ascii")
    except UnicodeEncodeError:
        return
    delimiter = re.compile(rb"^--" + re.escape(mark) + rb"(--)?[ \t]*\r?$", re.M)
    start = None
    count = 0
    for m in delimiter.finditer(body):
        if start is not None:
            end = m.start() - 2 if body[m.start() - 2:m.start()] == b"\r\n" else m.start() - 1
            split = _split_head(body[start:max(end, start)])
            if split is not None:
                yield split
            count += 1
        if m.group(1) or count >= MAX_PARTS:
            return
        start = m.end() + (2 if body[m.end():m.end() + 2] == b"\r\n" else 1)


def _text(part: Message, body: bytes) -> str:
    """The part's text (transfer encoding undone), at most MAX_TEXT_BYTES of it."""
    encoding = str(part.get("Content-Transfer-Encoding", "") or "").strip().lower()
    data = body[:MAX_TEXT_BYTES * 2]
    try:
        if encoding == "base64":
            data = b"".join(data.split())
            data = binascii.a2b_base64(data[:len(data) - len(data) % 4])
        elif encoding == "quoted-printable":
            data = binascii.a2b_qp(data)
    except (binascii.Error, ValueError):
        pass  # read as it stands
    charset = part.get_content_charset() or "utf-8"
    try:
        return data[:MAX_TEXT_BYTES].decode(charset, "replace")
    except LookupError:
        return data[:MAX_TEXT_BYTES].decode("utf-8", "replace")


def _blocks(text: str, limit: int):
    """The blank-line separated field blocks of a report part, parsed, at most `limit`."""
    data = text.replace("\r\n", "\n").encode("utf-8", "replace")
    start = 0
    for m in _BLANK_LINE.finditer(data):
        chunk = data[start:m.start()]
        start = m.end()
        if chunk.strip():
            yield _headers(chunk)
            limit -= 1
            if limit <= 0:
                return
    if data[start:].strip():
        yield _headers(data[start:])


def _delivery_status(text: str, report: Report) -> None:
    # The per-message block has no Final-Recipient and is passed over.
    for block in _blocks(text, MAX_RECIPIENTS + 1):
        rcpt = _address(block.get("Final-Recipient") or block.get("Original-Recipient"))
        if not rcpt:
            continue
        action = clean(block.get("Action"), 20).lower()
        status = clean(block.get("Status"), 20)
        diagnostic = clean(block.get("Diagnostic-Code"), 1000)
        report.recipients.append(RecipientStatus(rcpt, action, status, diagnostic, classify(action, status)))
        if len(report.recipients) >= MAX_RECIPIENTS:
            return


def _feedback(text: str, report: Report) -> None:
    fields = next(_blocks(text, 1), None)
    if fields is None:
        return
    feedback_type = clean(fields.get("Feedback-Type"), 40).lower()
    report.kind = "complaint" if feedback_type in COMPLAINT_TYPES else "none"
    report.diagnostic = f"Feedback-Type: {feedback_type}; {clean(fields.get('User-Agent'), 100)}"
    rcpt = _address(fields.get("Original-Rcpt-To"))
    if rcpt:
        report.recipients.append(RecipientStatus(rcpt, "complaint", "", report.diagnostic, "complaint"))


def _original(headers: Message | None, report: Report) -> None:
    if headers is None:
        return
    match = _MSGID.search(str(headers.get("Message-ID", "") or "")[:1000])
    if match:
        report.original_message_id = match.group(0)
    report.original_return_path = str(headers.get("Return-Path", "") or "")[:1000] or None
    report.original_to = _address(headers.get("To")) or None
