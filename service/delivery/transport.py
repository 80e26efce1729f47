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
    async def send(self, envelope_from: str, recipient: str, message: bytes) -> SendResult: ...
    async def close(self) -> None: ...


class FileTransport:
    """Writes `<outbox>/<n>-<recipient>.eml`; what a newcomer opens to see the mail."""

    def __init__(self, outbox: Path):
        self.outbox = outbox
        self._n = 0

    async def send(self, envelope_from: str, recipient: str, message: bytes) -> SendResult:
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
        self._idle: list[aiosmtplib.SMTP] = []
        self._open = 0
        self._waiting: deque[asyncio.Future] = deque()

    @property
    def open_connections(self) -> int:
        return self._open

    async def _connect(self) -> aiosmtplib.SMTP:
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
                return client
            except aiosmtplib.SMTPConnectResponseError as exc:
                if exc.code == 421:
                    busy = exc
                errors.append(f"{server.host}:{server.port}: {exc}")
            except (aiosmtplib.SMTPException, OSError) as exc:
                errors.append(f"{server.host}:{server.port}: {exc}")
        if busy is not None:
            raise _Busy("; ".join(errors))
        raise TransportError("no SMTP relay reachable (" + "; ".join(errors) + ")", stage="connect")

    async def _acquire(self, fresh: bool) -> aiosmtplib.SMTP:
        """An idle connection, a new one while under the limit, or the next one released."""
        while True:
            if self._idle and not fresh:
                return self._idle.pop()
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

    def _release(self, client: aiosmtplib.SMTP) -> None:
        self._idle.append(client)
        self._wake()

    async def _discard(self, client: aiosmtplib.SMTP) -> None:
        self._open -= 1
        await _drop(client)
        self._wake()

    async def send(self, envelope_from: str, recipient: str, message: bytes) -> SendResult:
        """One transaction (MAIL, RCPT, DATA) on a pooled connection.

        Refusals come back as a `SendResult` (4xx: try later; 5xx: give up; `stage` says
        where). A lost connection, a 421 or no reply raises `TransportError`; only no reply
        after the message was handed over sets `maybe_sent` (the server may have it).
        """
        for fresh in (False, True):
            client = await self._acquire(fresh)
            try:
                return await self._transaction(client, envelope_from, recipient, message)
            except _Stale:
                if fresh:
                    raise TransportError("connection lost before MAIL") from None
        raise AssertionError("unreachable")

    async def _transaction(self, client: aiosmtplib.SMTP, envelope_from: str, recipient: str, message: bytes) -> SendResult:
        try:
            sender, rcpt = smtp_form(envelope_from), smtp_form(recipient)
        except HeaderError as exc:
            self._release(client)
            return SendResult(ok=False, permanent=True, detail=str(exc), stage="rcpt")
        stage = "mail"
        try:
            if sender.isascii() and rcpt.isascii():
                await _command(client, b"MAIL FROM:", sender, (250,), client.mail)
                stage = "rcpt"
                await _command(client, b"RCPT TO:", rcpt, (250, 251), client.rcpt)
            else:  # a local part such as jørgen@: only with SMTPUTF8 (RFC 6531), where the relay offers it
                if client.is_ehlo_or_helo_needed:
                    await client.ehlo()
                if not client.supports_extension("smtputf8"):
                    self._release(client)
                    return SendResult(ok=False, permanent=True, stage="mail",
                                      detail=f"the relay does not offer SMTPUTF8, which {rcpt} needs")
                await client.mail(sender, options=["SMTPUTF8"], encoding="utf-8")
                stage = "rcpt"
                await client.rcpt(rcpt, encoding="utf-8")
            stage = "data"
            reply = await _data(client, message)
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code == 421 or exc.code < 400:
                await self._discard(client)
                raise TransportError(f"{exc.code} {exc.message}", code=exc.code) from exc
            await self._reset_or_drop(client)
            return SendResult(ok=False, permanent=exc.code >= 500, code=exc.code, detail=exc.message, stage=stage)
        except aiosmtplib.SMTPTimeoutError as exc:
            await self._discard(client)
            raise TransportError(f"no reply at {stage.upper()}: {exc}", maybe_sent=stage == "data") from exc
        except (aiosmtplib.SMTPServerDisconnected, ConnectionError) as exc:
            await self._discard(client)
            if stage == "mail":
                raise _Stale() from exc
            raise TransportError(f"connection lost at {stage.upper()}: {exc}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            await self._discard(client)
            raise TransportError(f"SMTP error at {stage.upper()}: {exc}") from exc
        except BaseException:  # cancelled mid-transaction: the connection's state is unknown
            await self._discard(client)
            raise
        self._release(client)
        return SendResult(ok=True, code=reply.code, detail=reply.message, stage="data")

    async def _reset_or_drop(self, client: aiosmtplib.SMTP) -> None:
        try:
            await client.rset()
            self._release(client)
        except Exception:  # a connection that cannot even reset is not worth keeping
            await self._discard(client)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            self._open -= 1
            await _drop(client, None, polite=True)


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


# An envelope address we write ourselves: plain ASCII, nothing SMTP would read as syntax.
_PLAIN_ADDRESS = re.compile(r"[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+")


async def _command(client: aiosmtplib.SMTP, verb: bytes, address: str, ok: tuple[int, ...], fallback) -> None:
    """MAIL FROM / RCPT TO. Our addresses are plain ASCII (checked before the message was
    built), so the command is written as is; aiosmtplib would parse and quote each address
    again (~a fifth of its time per message, shared/MEASURED.md). Anything else goes
    through aiosmtplib's own `mail`/`rcpt`."""
    if not _PLAIN_ADDRESS.fullmatch(address):
        await fallback(address)
        return
    reply = await client.execute_command(verb + b"<" + address.encode("ascii") + b">")
    if reply.code not in ok:
        raise aiosmtplib.SMTPResponseException(reply.code, reply.message)


async def _data(client: aiosmtplib.SMTP, message: bytes):
    """DATA, then the message dot-stuffed and terminated: the bytes aiosmtplib's `data()`
    sends, without its two regular expressions over the whole message (~0.3 and ~0.2 ms
    for a 30 KB digest here, most of the raw limit's time). Our messages have CRLF line
    endings only; anything else is normalised by aiosmtplib's own function first."""
    reply = await client.execute_command(b"DATA")
    if reply.code != 354:
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)
    protocol = client.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("connection lost")
    protocol.write(data_bytes(message))
    # Asked for at once after the write, before the loop can deliver the reply (the
    # protocol drops data that arrives while no reply is awaited).
    reply = await protocol.read_response(timeout=client.timeout)
    if reply.code != 250:
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)
    return reply


def data_bytes(message: bytes) -> bytes:
    """What goes on the wire after DATA: CRLF line endings, a leading '.' doubled on every
    line (RFC 5321 4.5.2), and the final '.' line; byte for byte what aiosmtplib makes."""
    crlf = message.count(b"\r\n")
    if message.count(b"\n") != crlf or message.count(b"\r") != crlf:
        message = normalize_message_line_endings(message)
    elif not message.endswith(b"\r\n"):
        message += b"\r\n"
    if message.startswith(b"."):
        message = b"." + message
    return message.replace(b"\r\n.", b"\r\n..") + b".\r\n"


async def _drop(client: aiosmtplib.SMTP, code: int | None = None, polite: bool = False) -> None:
    try:
        if polite and client.is_connected:
            await client.quit()
        else:
            client.close()
    except Exception:  # closing a broken connection may fail again; nothing to do
        client.close()


def transport_from_settings(mail: MailSettings, pool_size: int = 8) -> Transport:
    if mail.transport == "file":
        return FileTransport(mail.outbox_dir)
    return SmtpTransport([mail.smtp, *mail.fallback_smtp], pool_size=pool_size)
