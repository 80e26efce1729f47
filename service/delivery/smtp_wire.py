"""One pooled SMTP connection's transactions, written and read here.

aiosmtplib opens the connection and does what is hard to get right: the greeting, EHLO,
STARTTLS and AUTH. Then the connection is taken over (`transport.set_protocol`) and each
message is one transaction written by us: with PIPELINING (RFC 2920, which relays offer)
MAIL, RCPT and DATA go in one write and their three replies are read together; without,
one command at a time. aiosmtplib's own `sendmail` does three round trips, each behind
a lock, a timeout task and a regular expression, and normalises the whole message with
two more (most of its time for a 30 KB digest: shared/MEASURED.md, benchmarks).

A reply is read as RFC 5321 4.2 says: lines of a three-digit code and "-" (more lines
follow) or " " (the last). The bytes of the message are `transport.data_bytes`.
"""

from __future__ import annotations

import asyncio
from collections import deque

MAX_REPLY = 64 * 1024  # a reply longer than this is not an SMTP server talking


class Disconnected(Exception):
    """The connection is gone (closed by the relay, reset, or a reply that makes no sense)."""


class Reply:
    __slots__ = ("code", "text")

    def __init__(self, code: int, text: str):
        self.code, self.text = code, text

    def __repr__(self) -> str:
        return f"{self.code} {self.text}"


class Wire(asyncio.Protocol):
    """The protocol of a connection aiosmtplib opened; `transaction` sends one message."""

    def __init__(self, transport: asyncio.Transport, *, pipelining: bool, smtputf8: bool, timeout: float):
        self.transport = transport
        self.pipelining = pipelining
        self.smtputf8 = smtputf8
        self.timeout = timeout
        self.stage = "mail"  # how far the current transaction got: mail, rcpt, data (the message is out)
        self._buffer = bytearray()
        self._lines: list[str] = []
        self._waiting: deque[asyncio.Future] = deque()
        self.closed = transport.is_closing()
        transport.set_protocol(self)

    # ------------------------------------------------------------------ protocol

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_REPLY:
                    self._fail(Disconnected("reply too long"))
                return
            line = bytes(self._buffer[:end]).rstrip(b"\r")
            del self._buffer[:end + 1]
            if len(line) < 3 or not line[:3].isdigit() or line[3:4] not in (b"", b" ", b"-"):
                self._fail(Disconnected(f"not an SMTP reply: {line[:80]!r}"))
                return
            self._lines.append(line[4:].decode("utf-8", "replace"))
            if line[3:4] == b"-":
                if sum(map(len, self._lines)) > MAX_REPLY:
                    self._fail(Disconnected("reply too long"))
                continue
            reply, self._lines = Reply(int(line[:3]), "\n".join(self._lines)), []
            if self._waiting:
                waiter = self._waiting.popleft()
                if not waiter.done():
                    waiter.set_result(reply)
            elif reply.code == 421:  # the relay is closing this idle connection: say so to the next send
                self.closed = True

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(Disconnected(str(exc) if exc else "connection closed by the relay"))

    def eof_received(self) -> bool:
        self._fail(Disconnected("connection closed by the relay"))
        return False

    def _fail(self, exc: Exception) -> None:
        self.closed = True
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(exc)
                waiter.exception()  # retrieved: nobody may wait for it any more
        if not self.transport.is_closing():
            self.transport.close()

    # ------------------------------------------------------------------ commands

    def _expect(self, n: int) -> list[asyncio.Future]:
        if self.closed:
            raise Disconnected("connection closed")
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in range(n)]
        self._waiting.extend(futures)
        return futures

    async def _replies(self, futures: list[asyncio.Future]) -> list[Reply]:
        async with asyncio.timeout(self.timeout):
            return [await f for f in futures]

    async def command(self, line: bytes) -> Reply:
        (future,) = self._expect(1)
        self.transport.write(line + b"\r\n")
        (reply,) = await self._replies([future])
        return reply

    async def transaction(self, mail_from: str, rcpt_to: str, data: bytes) -> tuple[str, Reply]:
        """MAIL, RCPT, DATA and the message (`data`: dot-stuffed and terminated). Returns the
        stage that decided ("mail", "rcpt", "data" before the message, "sent" after it) and
        its reply; a refused transaction is reset, so the connection can take the next.
        Raises Disconnected or TimeoutError; `stage` then says how far it got ("mail":
        nothing was accepted yet; "data": the message was handed over)."""
        self.stage = "mail"
        utf8 = not (mail_from.isascii() and rcpt_to.isascii())  # the caller checked `smtputf8`
        commands = [b"MAIL FROM:<" + mail_from.encode() + b">" + (b" SMTPUTF8" if utf8 else b"") + b"\r\n",
                    b"RCPT TO:<" + rcpt_to.encode() + b">\r\n", b"DATA\r\n"]
        if self.pipelining:
            futures = self._expect(3)
            self.transport.write(b"".join(commands))
            mail, rcpt, go = await self._replies(futures)
        else:
            mail = await self.command(commands[0][:-2])
            if mail.code != 250:
                await self._reset()
                return "mail", mail
            self.stage = "rcpt"
            rcpt = await self.command(commands[1][:-2])
            if rcpt.code not in (250, 251):
                await self._reset()
                return "rcpt", rcpt
            go = await self.command(commands[2][:-2])
        failed = ("mail", mail) if mail.code != 250 else ("rcpt", rcpt) if rcpt.code not in (250, 251) else None
        if go.code == 354 and failed is not None:  # a server that takes DATA anyway: send nothing
            await self._replies([self._write(b".\r\n")])
        if failed is not None:
            await self._reset()
            return failed
        if go.code != 354:
            await self._reset()
            return "data", go
        self.stage = "data"
        (sent,) = await self._replies([self._write(data)])
        return "sent", sent

    def _write(self, data: bytes) -> asyncio.Future:
        (future,) = self._expect(1)
        self.transport.write(data)
        return future

    async def _reset(self) -> None:
        reply = await self.command(b"RSET")
        if reply.code != 250:
            raise Disconnected(f"RSET refused: {reply}")

    async def quit(self) -> None:
        try:
            if not self.closed:
                await asyncio.wait_for(self.command(b"QUIT"), 2)
        except Exception:  # a polite goodbye that fails changes nothing
            pass
        finally:
            self.close()

    def close(self) -> None:
        self.closed = True
        if not self.transport.is_closing():
            self.transport.close()
