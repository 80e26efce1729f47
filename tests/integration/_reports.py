"""Bounce and complaint reports as real MTAs and mailbox providers write them."""

from __future__ import annotations


def dsn(original_headers: bytes, *, recipient: str, to: str, status: str = "5.1.1", action: str = "failed",
        diagnostic: str = "smtp; 550 5.1.1 <{r}>: Recipient address rejected: User unknown") -> bytes:
    head = original_headers.split(b"\r\n\r\n", 1)[0].decode("ascii")
    diag = diagnostic.format(r=recipient)
    return (
        "Return-Path: <>\r\n"
        "From: MAILER-DAEMON@mx.example.dk (Mail Delivery System)\r\n"
        f"To: {to}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUND"\r\n'
        "\r\n"
        "--BOUND\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "\r\n--BOUND\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.dk\r\n"
        "Arrival-Date: Mon, 23 Nov 2026 09:00:01 +0100 (CET)\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        "Remote-MTA: dns; mx2.example.dk\r\n"
        f"Diagnostic-Code: {diag}\r\n"
        "\r\n--BOUND\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"{head}\r\n"
        "\r\n--BOUND--\r\n"
    ).encode("utf-8")


def arf(original: bytes, *, recipient: str, return_path: str, feedback_type: str = "abuse") -> bytes:
    return (
        "From: fbl@isp.example.com\r\n"
        "To: abuse@budbringer.example\r\n"
        "Subject: FW: complaint\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="ARF"\r\n'
        "\r\n"
        "--ARF\r\n"
        "Content-Type: text/plain\r\n\r\n"
        "This is an email abuse report.\r\n"
        "\r\n--ARF\r\n"
        "Content-Type: message/feedback-report\r\n\r\n"
        f"Feedback-Type: {feedback_type}\r\n"
        "User-Agent: SomeISP-FBL/1.0\r\n"
        "Version: 1\r\n"
        f"Original-Rcpt-To: {recipient}\r\n"
        "\r\n--ARF\r\n"
        "Content-Type: message/rfc822\r\n\r\n"
        f"Return-Path: <{return_path}>\r\n"
    ).encode("utf-8") + original + b"\r\n--ARF--\r\n"
