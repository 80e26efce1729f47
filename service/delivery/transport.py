"""Transports: where finished messages go. The worker only knows `Transport.send`.

- `SmtpTransport`: aiosmtplib, a pool of open connections that grows with the relay's
  latency and shrinks to what it allows, fallback relays.
- `FileTransport`: writes each message as an .eml file (the demo, and development).

`send` returns a `SendResult` per recipient instead of raising for refusals, so the worker
can tell a refused recipient (5xx: give up; 4xx: try later) from a broken connection.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiosmtplib
from aiosmtplib.protocol import normalize_message_line_endings

from service.delivery.headers import HeaderError, smtp_form
from service.delivery.smtp_wire import Disconnected, Wire
from service.settings import MailSettings, SmtpServer


@dataclass(frozen=True)
class SendResult:
    ok: bool
    permanent: bool = False  # True: 5xx, do not retry
    code: int | None = None
    detail: str = ""
    stage: str = ""  # where it was decided: "mail", "rcpt" or "data"


log = logging.getLogger(__name__)


class TransportError(Exception):
    """The message may or may not have been accepted: connection lost, timeout, 421."""

    def __init__(self, message: str, *, maybe_sent: bool = False, code: int | None = None, permanent: bool = False,
                 stage: str = ""):
        super().__init__(message)
        self.stage = stage  # "connect" when no relay could be reached
        self.maybe_sent = maybe_sent
        self.code = code
        self.permanent = permanent


class _Stale(Exception):
    """A pooled connection was closed by the server while idle; nothing was sent."""


class Transport(Protocol):
    async def send(self, envelope_from: str, recipient: str, message: bytes, *, clean: bool = False,
                   dot_free: bool = False) -> SendResult: ...
    async def close(self) -> None: ...


class FileTransport:
    """Writes `<outbox>/<n>-<recipient>.eml`; what a newcomer opens to see the mail."""

    def __init__(self, outbox: Path):
        self.outbox = outbox
        self._n = 0

    async def send(self, envelope_from: str, recipient: str, message: bytes, *, clean: bool = False,
                   dot_free: bool = False) -> SendResult:
        self.outbox.mkdir(parents=True, exist_ok=True)
        self._n += 1
        safe = re.sub(r"[^A-Za-z0-9@._-]", "_", recipient)[:100]
        name = f"{os.getpid()}-{asyncio.get_running_loop().time():.6f}-{self._n}-{safe}.eml"
        path = self.outbox / name
        tmp = path.with_suffix(".tmp")
        await asyncio.to_thread(_write, tmp, path, message)
        return SendResult(ok=True, code=250, detail=str(path))

    async def close(self) -> None:
        return None


def _write(tmp: Path, path: Path, data: bytes) -> None:
    """Write under a temporary name, then rename: a reader never sees half a message. When
    the write fails (a full disk), the temporary file goes too; the worker tries again later."""
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class SmtpTransport:
    """A pool of SMTP connections to the relay, falling back to further relays when one is down.

    Connections are opened as sends need them, up to `limit` (the send worker raises it
    while the relay, not this process, is what keeps messages waiting: see
    `service.delivery.concurrency`), and kept for the next message. A relay that answers a
    new connection with 421 ("too many connections") has said how many it takes: the pool
    stays at the connections it has (`relay_limit`), and the message waits for one of them
    instead of failing. Only when no connection at all can be had is it a connect error.
    """

    def __init__(self, servers: list[SmtpServer], pool_size: int = 8):
        self.servers = servers
        self.limit = pool_size
        self.relay_limit: int | None = None  # what the relay said it takes (421 at connect)
        self._idle: list[Wire] = []
        self._open = 0
        self._waiting: deque[asyncio.Future] = deque()

    @property
    def open_connections(self) -> int:
        return self._open

    async def _connect(self) -> Wire:
        errors = []
        busy = None
        for server in self.servers:
            password = server.password.get_secret_value() if server.password else None
            if password is None and server.password_file:
                password = server.password_file.read_text(encoding="utf-8").strip()
            client = aiosmtplib.SMTP(
                hostname=server.host,
                port=server.port,
                timeout=server.timeout_seconds,
                use_tls=server.security == "tls",
                start_tls=True if server.security == "starttls" else False,
                username=server.username,
                password=password,
            )
            try:
                await client.connect()
                await _greet(client)
            except aiosmtplib.SMTPConnectResponseError as exc:
                if exc.code == 421:
                    busy = exc
                errors.append(f"{server.host}:{server.port}: {exc}")
            except (aiosmtplib.SMTPException, OSError) as exc:
                errors.append(f"{server.host}:{server.port}: {exc}")
            else:
                # From here on the transactions are ours (service.delivery.smtp_wire).
                return Wire(client.protocol.transport, pipelining=client.supports_extension("pipelining"),
                            smtputf8=client.supports_extension("smtputf8"), timeout=server.timeout_seconds)
        if busy is not None:
            raise _Busy("; ".join(errors))
        raise TransportError("no SMTP relay reachable (" + "; ".join(errors) + ")", stage="connect")

    async def _acquire(self, fresh: bool) -> Wire:
        """An idle connection, a new one while under the limit, or the next one released."""
        while True:
            while self._idle and not fresh:
                wire = self._idle.pop()
                if not wire.closed:
                    return wire
                self._open -= 1  # closed by the relay while idle
            
            limit = min(self.limit, self.relay_limit or self.limit)
            if self._open < limit or (fresh and not self._idle):
                self._open += 1
                try:
                    return await self._connect()
                except _Busy as exc:
                    self._open -= 1
                    self._wake()
                    if self._open == 0:  # nothing to wait for: the relay takes none right now
                        raise TransportError(f"421 from every relay: {exc}", code=421, stage="connect") from None
                    if self.relay_limit != self._open:
                        log.warning("the relay takes %d connections (421 for one more); sending on those", self._open)
                    self.relay_limit = self._open
                except BaseException:
                    self._open -= 1
                    self._wake()
                    raise
                fresh = False
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter in self._waiting:
                    self._waiting.remove(waiter)
                self._wake()  # pass on a wake-up this task may have taken
                raise

    def _wake(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _release(self, wire: Wire) -> None:
        self._idle.append(wire)
        self._wake()

    def _discard(self, wire: Wire) -> None:
        self._open -= 1
        wire.close()
        self._wake()

    async def send(self, envelope_from: str, recipient: str, message: bytes, *, clean: bool = False,
                   dot_free: bool = False) -> SendResult:
        """One transaction (MAIL, RCPT, DATA) on a pooled connection. `clean`: the message
        has CRLF line endings only, as every message `service.delivery.mime` builds;
        `dot_free` (with `clean`): no line of it starts with "." either (`mime.build` says).

        Refusals come back as a `SendResult` (4xx: try later; 5xx: give up; `stage` says
        where). A lost connection, a 421 or no reply raises `TransportError`; only no reply
        after the message was handed over sets `maybe_sent` (the server may have it).
        """
        try:
            sender, rcpt = smtp_form(envelope_from), smtp_form(recipient)
        except HeaderError as exc:
            return SendResult(ok=False, permanent=True, detail=str(exc), stage="rcpt")
        data = data_bytes(message, clean=clean, dot_free=dot_free)
        for fresh in (False, True):
            wire = await self._acquire(fresh)
            try:
                return await self._transaction(wire, sender, rcpt, data)
            except _Stale:
                if fresh:
                    raise TransportError("connection lost before MAIL") from None
        raise AssertionError("unreachable")

    async def _transaction(self, wire: Wire, sender: str, rcpt: str, data: bytes) -> SendResult:
        if not (sender.isascii() and rcpt.isascii()) and not wire.smtputf8:
            # A local part such as jørgen@ goes only with SMTPUTF8 (RFC 6531), where the relay offers it.
            self._release(wire)
            return SendResult(ok=False, permanent=True, stage="mail",
                              detail=f"the relay does not offer SMTPUTF8, which {rcpt} needs")
        if not (_PLAIN_ADDRESS.fullmatch(sender) and _PLAIN_ADDRESS.fullmatch(rcpt)):
            self._release(wire)
            return SendResult(ok=False, permanent=True, stage="rcpt", detail="not an address SMTP can carry")
        try:
            stage, reply = await wire.transaction(sender, rcpt, data)
        except Disconnected as exc:
            self._discard(wire)
            if wire.stage == "mail":  # nothing was sent: a connection the relay closed while idle
                raise _Stale() from exc
            raise TransportError(f"connection lost at {wire.stage.upper()}: {exc}") from exc
        except TimeoutError as exc:
            self._discard(wire)
            raise TransportError(f"no reply at {wire.stage.upper()}", maybe_sent=wire.stage == "data") from exc
        except BaseException:  # cancelled mid-transaction: the connection's state is unknown
            self._discard(wire)
            raise
        if stage == "sent" and reply.code == 250:
            self._release(wire)
            return SendResult(ok=True, code=reply.code, detail=reply.text, stage="data")
        stage = "data" if stage == "sent" else stage
        if reply.code == 421 or reply.code < 400:
            self._discard(wire)
            raise TransportError(f"{reply.code} {reply.text}", code=reply.code)
        if wire.closed:
            self._discard(wire)
        else:
            self._release(wire)  # reset by the transaction: ready for the next
        return SendResult(ok=False, permanent=reply.code >= 500, code=reply.code, detail=reply.text, stage=stage)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for wire in idle:
            self._open -= 1
            await wire.quit()


class _Busy(Exception):
    """The relay answered a new connection with 421: it has as many as it takes."""


async def _greet(client: aiosmtplib.SMTP) -> None:
    """EHLO (HELO if refused) once per connection, as aiosmtplib's `mail` would before the
    first message: the transactions below write their commands themselves."""
    if client.is_ehlo_or_helo_needed:
        try:
            await client.ehlo()
        except aiosmtplib.SMTPHeloError:
            if not client.is_connected:
                raise
            await client.helo()


# An envelope address as we write it: nothing SMTP would read as syntax (no space, <, >,
# control character; UTF-8 only in a local part, with SMTPUTF8).
_PLAIN_ADDRESS = re.compile(r"[^\x00-\x20<>\x7f]+@[^\x00-\x20<>\x7f@]+")


def data_bytes(message: bytes, *, clean: bool = False, dot_free: bool = False) -> bytes:
    """What goes on the wire after DATA: CRLF line endings, a leading '.' doubled on every
    line (RFC 5321 4.5.2), and the final '.' line; byte for byte what aiosmtplib's `data()`
    makes, without its two regular expressions over the whole message (~0.3 and ~0.2 ms
    for a 30 KB digest here). A `clean` message (CRLF only) is not looked through for
    other line endings, and a `clean` and `dot_free` one (no line starts with '.', as
    `mime.build` knows of most digests) not for dots either: looking cost ~40 µs a digest."""
    if clean and dot_free and message.endswith(b"\r\n"):
        return message + b".\r\n"
    if not clean:
        crlf = message.count(b"\r\n")
        if message.count(b"\n") != crlf or message.count(b"\r") != crlf:
            message = normalize_message_line_endings(message)
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    if message.startswith(b"."):
        message = b"." + message
    return message.replace(b"\r\n.", b"\r\n..") + b".\r\n"


def transport_from_settings(mail: MailSettings, pool_size: int = 8) -> Transport:
    if mail.transport == "file":
        return FileTransport(mail.outbox_dir)
    return SmtpTransport([mail.smtp, *mail.fallback_smtp], pool_size=pool_size)
