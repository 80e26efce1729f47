"""The SMTP transport: connection reuse, a relay closing idle connections, failover."""

from __future__ import annotations

import asyncio

import pytest

from service.delivery.transport import FileTransport, SmtpTransport, TransportError
from service.settings import SmtpServer
from tests.conftest import free_port
from tests.integration._smtp_faults import RawSmtp

MSG = b"From: a@b.dk\r\nTo: c@d.dk\r\nSubject: x\r\n\r\nhej\r\n"


async def test_connections_are_reused_and_bounded_by_the_pool():
    sink = await RawSmtp().start()
    transport = SmtpTransport([SmtpServer(port=sink.port, timeout_seconds=5)], pool_size=2)
    try:
        results = await asyncio.gather(*(transport.send("a@b.dk", f"r{i}@d.dk", MSG) for i in range(30)))
        assert all(r.ok for r in results) and len(sink.delivered) == 30
        assert sink.sessions <= 2
    finally:
        await transport.close()
        await sink.stop()


async def test_an_idle_connection_closed_by_the_relay_is_replaced_without_losing_the_message():
    sink = await RawSmtp().start()
    transport = SmtpTransport([SmtpServer(port=sink.port, timeout_seconds=5)], pool_size=1)
    try:
        assert (await transport.send("a@b.dk", "r1@d.dk", MSG)).ok
        sink.drop_all()
        await asyncio.sleep(0.05)
        assert (await transport.send("a@b.dk", "r2@d.dk", MSG)).ok
        assert len(sink.delivered) == 2 and sink.sessions == 2
    finally:
        await transport.close()
        await sink.stop()


async def test_failover_to_the_next_relay_when_the_first_is_down():
    sink = await RawSmtp().start()
    transport = SmtpTransport([SmtpServer(port=free_port(), timeout_seconds=2), SmtpServer(port=sink.port, timeout_seconds=2)])
    try:
        assert (await transport.send("a@b.dk", "r@d.dk", MSG)).ok
        assert len(sink.delivered) == 1
    finally:
        await transport.close()
        await sink.stop()


async def test_no_relay_reachable_is_a_connect_error_not_a_possible_send():
    transport = SmtpTransport([SmtpServer(port=free_port(), timeout_seconds=2)])
    try:
        await transport.send("a@b.dk", "r@d.dk", MSG)
    except TransportError as exc:
        assert exc.stage == "connect" and not exc.maybe_sent
    else:
        raise AssertionError("expected TransportError")


async def test_file_transport_writes_eml_files(tmp_path):
    transport = FileTransport(tmp_path / "outbox")
    result = await transport.send("a@b.dk", "r@d.dk", MSG)
    [path] = list((tmp_path / "outbox").glob("*.eml"))
    assert result.ok and path.read_bytes() == MSG


async def test_item37_a_full_disk_leaves_no_empty_tmp_file_and_the_next_try_is_written(tmp_path):
    """The file transport on a disk that cannot take the message: every failed try used to
    leave a 0-byte `.tmp`. A child process whose file size limit (RLIMIT_FSIZE) is below the
    message's size stands in for the full disk: its write fails half way with an OSError
    (EFBIG; ENOSPC takes the same path) exactly where a full disk's would."""
    import subprocess
    import sys

    outbox = tmp_path / "outbox"
    script = (
        "import asyncio, resource, signal, sys\n"
        "from pathlib import Path\n"
        "from service.delivery.transport import FileTransport\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "async def main():\n"
        "    t = FileTransport(Path(sys.argv[1]))\n"
        "    for _ in range(3):\n"
        "        try:\n"
        "            await t.send('a@b.dk', 'r@d.dk', b'x' * 100_000)\n"
        "            print('written')\n"
        "        except OSError as exc:\n"
        "            print('refused', exc.errno)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(outbox)], capture_output=True, text=True, timeout=60)
    assert done.stdout.split("\n")[:3] == ["refused 27"] * 3, done.stdout + done.stderr
    assert list(outbox.iterdir()) == []  # no .tmp and no half .eml left behind
    # Room again: the next try is written whole.
    result = await FileTransport(outbox).send("a@b.dk", "r@d.dk", b"x" * 100_000)
    [path] = list(outbox.iterdir())
    assert result.ok and path.suffix == ".eml" and path.stat().st_size == 100_000


@pytest.mark.parametrize("pipelining", [True, False])
async def test_refusals_at_each_stage_come_back_and_the_connection_takes_the_next_message(pipelining):
    """With PIPELINING (MAIL, RCPT and DATA in one write, RFC 2920) and without: a refused
    sender, recipient or message is a result for that message (the stage named), the
    transaction is reset, and the same connection sends the next one."""
    sink = await RawSmtp(pipelining=pipelining, replies={
        b"MAIL FROM:<travl@": b"451 4.3.0 try later", b"RCPT TO:<nej@": b"550 5.1.1 no such user",
        b"RCPT TO:<fuld@": b"452 4.2.2 mailbox full"}).start()
    transport = SmtpTransport([SmtpServer(port=sink.port, timeout_seconds=5)], pool_size=1)
    try:
        results = [await transport.send(sender, rcpt, MSG, clean=True) for sender, rcpt in (
            ("a@b.dk", "ja@d.dk"), ("travl@b.dk", "ja@d.dk"), ("a@b.dk", "nej@d.dk"), ("a@b.dk", "fuld@d.dk"),
            ("a@b.dk", "ja2@d.dk"))]
    finally:
        await transport.close()
        await sink.stop()
    assert [(r.ok, r.stage, r.code, r.permanent) for r in results] == [
        (True, "data", 250, False), (False, "mail", 451, False), (False, "rcpt", 550, True),
        (False, "rcpt", 452, False), (True, "data", 250, False)]
    assert len(sink.delivered) == 2 and sink.sessions == 1  # one connection throughout
    assert sink.commands.count(b"RSET\r\n") == 3
    assert sink.commands[-1] == b"QUIT\r\n"  # closed politely


async def test_a_message_refused_after_data_and_one_whose_connection_drops_mid_data():
    sink = await RawSmtp(pipelining=True, replies={b".": b"554 5.7.1 message refused"}).start()
    dropping = await RawSmtp("drop_mid_data", pipelining=True).start()
    transport = SmtpTransport([SmtpServer(port=sink.port, timeout_seconds=5)], pool_size=1)
    other = SmtpTransport([SmtpServer(port=dropping.port, timeout_seconds=5)], pool_size=1)
    try:
        refused = await transport.send("a@b.dk", "r@d.dk", MSG, clean=True)
        assert (refused.ok, refused.stage, refused.code, refused.permanent) == (False, "data", 554, True)
        try:
            await other.send("a@b.dk", "r@d.dk", MSG * 200, clean=True)
        except TransportError as exc:
            assert "connection lost at DATA" in str(exc) and not exc.maybe_sent
        else:
            raise AssertionError("expected TransportError")
    finally:
        await transport.close()
        await other.close()
        await sink.stop()
        await dropping.stop()


async def test_no_reply_after_the_message_may_have_sent_it():
    sink = await RawSmtp(pipelining=True, replies={b".": None}).start()
    transport = SmtpTransport([SmtpServer(port=sink.port, timeout_seconds=0.5)], pool_size=1)
    try:
        await transport.send("a@b.dk", "r@d.dk", MSG, clean=True)
    except TransportError as exc:
        assert exc.maybe_sent and "no reply at DATA" in str(exc)
    else:
        raise AssertionError("expected TransportError")
    finally:
        await transport.close()
        await sink.stop()
