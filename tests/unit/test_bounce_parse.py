"""Reading RFC 3464 delivery reports and ARF complaints (no database)."""

from service.bounces.parse import classify, parse_report
from service.bounces.returnpath import return_path, tags_in, verified
from tests.integration._reports import arf, dsn

ORIGINAL = (b"From: nyheder@budbringer.example\r\nTo: a@example.dk\r\nSubject: x\r\n"
            b"Message-ID: <abc123@budbringer.example>\r\n\r\nbody\r\n")


def test_hard_bounce_report():
    r = parse_report(dsn(ORIGINAL, recipient="a@example.dk", to="bounces+x@budbringer.example"))
    assert r.kind == "hard"
    assert r.original_message_id == "<abc123@budbringer.example>"
    [rcpt] = r.recipients
    assert (rcpt.email, rcpt.action, rcpt.status) == ("a@example.dk", "failed", "5.1.1")
    assert "User unknown" in rcpt.diagnostic


def test_soft_bounces_full_mailbox_and_delays():
    assert parse_report(dsn(ORIGINAL, recipient="a@example.dk", to="x", status="4.2.2", action="delayed")).kind == "soft"
    assert parse_report(dsn(ORIGINAL, recipient="a@example.dk", to="x", status="5.2.2")).kind == "soft"
    assert classify("delivered", "2.0.0") == "none"


def test_arf_complaint():
    r = parse_report(arf(ORIGINAL, recipient="a@example.dk", return_path="bounces+abc@budbringer.example"))
    assert r.kind == "complaint"
    assert r.original_message_id == "<abc123@budbringer.example>"
    assert r.original_return_path == "<bounces+abc@budbringer.example>"
    assert parse_report(arf(ORIGINAL, recipient="a@example.dk", return_path="b@x", feedback_type="not-spam")).kind == "none"


def test_anything_else_is_unknown_and_never_crashes():
    for raw in (b"", b"garbage\x00\xff", b"Content-Type: multipart/report\r\n\r\n--\r\n", ORIGINAL):
        assert parse_report(raw).kind in ("unknown", "none")


def test_diagnostics_lose_control_characters():
    raw = dsn(ORIGINAL, recipient="a@example.dk", to="x", diagnostic="smtp; 550 <script>alert(1)</script>\x07bad")
    [rcpt] = parse_report(raw).recipients
    assert "\x07" not in rcpt.diagnostic  # escaping is the page's job; control characters go here


def test_item17_signed_return_address():
    secret = b"s" * 40
    addr = return_path("bounces@budbringer.example", secret, "<m1@budbringer.example>")
    assert addr.startswith("bounces+") and addr.endswith("@budbringer.example")
    assert verified(secret, "<m1@budbringer.example>", tags_in(addr))
    assert not verified(secret, "<m2@budbringer.example>", tags_in(addr))
    assert not verified(b"t" * 40, "<m1@budbringer.example>", tags_in(addr))
    assert tags_in("bounces@budbringer.example") == []


NESTED_ORIGINAL = (
    b"Return-Path: <bounces+abcdefghijklmnop@budbringer.example>\r\n"
    b"From: nyheder@budbringer.example\r\nTo: b@example.dk\r\nMessage-ID: <nested@budbringer.example>\r\n"
    b'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="=_inner"\r\n\r\n'
    b"--=_inner\r\nContent-Type: text/plain\r\n\r\nhej\r\n--=_inner\r\nContent-Type: text/html\r\n\r\n<p>hej</p>\r\n"
    b"--=_inner--\r\n"
)


def exchange_style(original: bytes, *, newline: bytes = b"\r\n") -> bytes:
    """The shape Exchange and Gmail send: a base64 text part, the status, the whole original."""
    import base64

    text = base64.encodebytes("Leveringen mislykkedes til b@example.dk – postkassen findes ikke.".encode()).strip()
    raw = (
        b"From: postmaster@outlook.example\r\nTo: bounces+abcdefghijklmnop@budbringer.example\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type="delivery-status";\r\n'
        b'\tboundary="_000_ex_"\r\n\r\n'
        b"--_000_ex_\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + text + b"\r\n\r\n"
        b"--_000_ex_\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns;AM0PR01.outlook.example\r\n\r\n"
        b"Final-Recipient: rfc822;B@example.dk\r\nAction: failed\r\nStatus: 5.1.10\r\n"
        b"Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound\r\n\r\n"
        b"--_000_ex_\r\nContent-Type: message/rfc822\r\n\r\n" + original + b"\r\n--_000_ex_--\r\n"
    )
    return raw.replace(b"\r\n", newline)


def test_item27_reports_as_exchange_sends_them_with_the_whole_original_and_with_bare_newlines():
    for newline in (b"\r\n", b"\n"):
        r = parse_report(exchange_style(NESTED_ORIGINAL, newline=newline))
        assert r.kind == "hard"
        assert r.original_message_id == "<nested@budbringer.example>"
        assert r.original_return_path == "<bounces+abcdefghijklmnop@budbringer.example>"
        assert r.original_to == "b@example.dk"
        assert [(x.email, x.status) for x in r.recipients] == [("b@example.dk", "5.1.10")]
        assert "postkassen findes ikke" in r.diagnostic


def test_item27_the_work_per_report_is_bounded():
    """40,000 parts or 20,000 recipient blocks: only the first few are read, quickly."""
    import time

    from service.bounces.parse import MAX_RECIPIENTS

    blocks = "".join(f"Final-Recipient: rfc822; u{i}@example.dk\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
                     for i in range(20_000))
    many = ('To: x\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
            "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
            f"{blocks}--B--\r\n").encode()
    parts = dsn(ORIGINAL, recipient="a@example.dk", to="x").replace(
        b"\r\n--BOUND--\r\n", b"\r\n" + b"--BOUND\r\nContent-Type: text/plain\r\n\r\nx\r\n" * 40_000 + b"--BOUND--\r\n")
    started = time.process_time()
    got_many, got_parts = parse_report(many), parse_report(parts)
    spent = time.process_time() - started
    assert [r.email for r in got_many.recipients] == [f"u{i}@example.dk" for i in range(MAX_RECIPIENTS)]
    assert got_parts.kind == "hard" and got_parts.original_message_id == "<abc123@budbringer.example>"
    # The email package took ~0.9 s of CPU for these two; a generous bound for a loaded machine.
    assert spent < 0.3, f"{spent:.2f} s of CPU to read two reports"


def test_item27_a_header_section_longer_than_a_reports_is_not_read():
    raw = b"X-Junk: " + b"a" * 70_000 + b"\r\nContent-Type: multipart/report\r\n\r\n"
    assert parse_report(raw).kind == "unknown"


async def test_item27_data_is_read_in_blocks_with_dots_unstuffed_and_the_size_cap_kept():
    """The endpoint's own DATA reader (aiosmtpd's kept each line as an object, ~90 MB for a
    1.8 MB message of short lines): what a client sends, dot-stuffed, comes back as written."""
    import asyncio

    from service.bounces.inbound import _read_data

    async def read(wire: bytes, limit: int = 1000, pieces: int = 7):
        reader = asyncio.StreamReader()
        for i in range(0, len(wire), pieces):  # arriving in small pieces, the end mark split too
            reader.feed_data(wire[i:i + pieces])
        return await _read_data(reader, limit)

    assert await read(b".\r\n") == b""
    assert await read(b"X\r\n.\r\n") == b"X\r\n"
    assert await read(b"..hej\r\n...\r\nslut.\r\nx\r\n.\r\n") == b".hej\r\n..\r\nslut.\r\nx\r\n"
    assert await read(b"a" * 1001 + b"\r\n.\r\n") is None
    assert await read(b"a\r\n" * 10_000 + b".\r\n", limit=40_000, pieces=4096) == b"a\r\n" * 10_000
