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
