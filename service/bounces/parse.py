"""Reading bounce and complaint reports.

- RFC 3464 delivery status notifications (multipart/report; report-type=delivery-status):
  per recipient an Action and a Status; 5.x.x failed → hard (except 5.2.2, a full
  mailbox: soft), 4.x.x or "delayed" → soft.
- RFC 5965 ARF feedback reports (report-type=feedback-report): a complaint.

Both usually carry the original message or its headers, which give its Message-ID (how
the delivery is found) and Return-Path (our signed tag). Anything else is "unknown" and
changes nothing. Texts are cut short and stripped of control characters: admins read them.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import HeaderParser

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")
_MSGID = re.compile(r"<[^<>\s]+@[^<>\s]+>")
COMPLAINT_TYPES = {"abuse", "fraud", "virus", "other"}


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
    return value.strip().strip("<>").strip().lower()


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
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    report = Report(kind="unknown", report_to=str(msg.get("To", "") or ""))
    if msg.get_content_type() != "multipart/report":
        return report
    report_type = (msg.get_param("report-type") or "").lower()
    parts = msg.get_payload() if msg.is_multipart() else []
    for part in parts:
        ctype = part.get_content_type()
        if ctype == "message/delivery-status" and report_type == "delivery-status":
            _delivery_status(part, report)
        elif ctype == "message/feedback-report" and report_type == "feedback-report":
            _feedback(part, report)
        elif ctype in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            _original(inner[0] if isinstance(inner, list) and inner else None, report)
        elif ctype in ("text/rfc822-headers", "message/global-headers"):
            _original(HeaderParser().parsestr(_text(part)), report)
        elif ctype == "text/plain" and not report.diagnostic:
            report.diagnostic = clean(_text(part), 500)
    if report.kind == "unknown" and report.recipients:
        kinds = {r.kind for r in report.recipients}
        report.kind = "hard" if "hard" in kinds else "soft" if "soft" in kinds else "none"
    return report


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode(part.get_content_charset() or "utf-8", "replace")
    return str(part.get_payload())


def _delivery_status(part: Message, report: Report) -> None:
    blocks = part.get_payload()
    if not isinstance(blocks, list):  # some generators send it as text: parse the blocks ourselves
        text = _text(part).replace("\r\n", "\n")
        blocks = [HeaderParser().parsestr(b) for b in re.split(r"\n\s*\n", text) if b.strip()]
    for block in blocks:  # the per-message block has no Final-Recipient and is passed over
        rcpt = _address(block.get("Final-Recipient") or block.get("Original-Recipient"))
        if not rcpt:
            continue
        action = clean(block.get("Action"), 20).lower()
        status = clean(block.get("Status"), 20)
        diagnostic = clean(block.get("Diagnostic-Code"), 1000)
        report.recipients.append(RecipientStatus(rcpt, action, status, diagnostic, classify(action, status)))


def _feedback(part: Message, report: Report) -> None:
    blocks = part.get_payload()
    fields = blocks[0] if isinstance(blocks, list) and blocks else HeaderParser().parsestr(_text(part))
    feedback_type = clean(fields.get("Feedback-Type"), 40).lower()
    report.kind = "complaint" if feedback_type in COMPLAINT_TYPES else "none"
    report.diagnostic = f"Feedback-Type: {feedback_type}; {clean(fields.get('User-Agent'), 100)}"
    rcpt = _address(fields.get("Original-Rcpt-To"))
    if rcpt:
        report.recipients.append(RecipientStatus(rcpt, "complaint", "", report.diagnostic, "complaint"))


def _original(headers: Message | None, report: Report) -> None:
    if headers is None:
        return
    match = _MSGID.search(str(headers.get("Message-ID", "") or ""))
    if match:
        report.original_message_id = match.group(0)
    report.original_return_path = str(headers.get("Return-Path", "") or "") or None
    report.original_to = _address(headers.get("To")) or None
