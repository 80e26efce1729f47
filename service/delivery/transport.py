"""Transports: where finished messages go. The worker only knows `Transport.send`.

- `SmtpTransport`: aiosmtplib, a small pool of open connections, fallback relays.
- `FileTransport`: writes each message as an .eml file (the demo, and development).

`send` returns a `SendResult` per recipient instead of raising for refusals, so the worker
can tell a refused recipient (5xx: give up; 4xx: try later) from a broken connection.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiosmtplib

from service.settings import MailSettings, SmtpServer


@dataclass(frozen=True)
class SendResult:
    ok: bool
    permanent: bool = False  # True: 5xx, do not retry
    code: int | None = None
    detail: str = ""
    stage: str = ""  # where it was decided: "mail", "rcpt" or "data"


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
    """A pool of SMTP connections to the relay, falling back to further relays when one is down."""

    def __init__(self, servers: list[SmtpServer], pool_size: int = 8):
        self.servers = servers
        self._idle: list[aiosmtplib.SMTP] = []
        self._sem = asyncio.Semaphore(pool_size)

    async def _connect(self) -> aiosmtplib.SMTP:
        errors = []
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
                return client
            except (aiosmtplib.SMTPException, OSError) as exc:
                errors.append(f"{server.host}:{server.port}: {exc}")
        raise TransportError("no SMTP relay reachable (" + "; ".join(errors) + ")", stage="connect")

    async def send(self, envelope_from: str, recipient: str, message: bytes) -> SendResult:
        """One transaction (MAIL, RCPT, DATA) on a pooled connection.

        Refusals come back as a `SendResult` (4xx: try later; 5xx: give up; `stage` says
        where). A lost connection, a 421 or no reply raises `TransportError`; only no reply
        after the message was handed over sets `maybe_sent` (the server may have it).
        """
        async with self._sem:
            for fresh in (False, True):
                client = self._idle.pop() if self._idle and not fresh else await self._connect()
                try:
                    return await self._transaction(client, envelope_from, recipient, message)
                except _Stale:
                    if fresh:
                        raise TransportError("connection lost before MAIL") from None
            raise AssertionError("unreachable")

    async def _transaction(self, client: aiosmtplib.SMTP, envelope_from: str, recipient: str, message: bytes) -> SendResult:
        stage = "mail"
        try:
            await client.mail(envelope_from)
            stage = "rcpt"
            await client.rcpt(recipient)
            stage = "data"
            reply = await client.data(message)
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code == 421 or exc.code < 400:
                await _drop(client)
                raise TransportError(f"{exc.code} {exc.message}", code=exc.code) from exc
            await self._reset_or_drop(client)
            return SendResult(ok=False, permanent=exc.code >= 500, code=exc.code, detail=exc.message, stage=stage)
        except aiosmtplib.SMTPTimeoutError as exc:
            await _drop(client)
            raise TransportError(f"no reply at {stage.upper()}: {exc}", maybe_sent=stage == "data") from exc
        except (aiosmtplib.SMTPServerDisconnected, ConnectionError) as exc:
            await _drop(client)
            if stage == "mail":
                raise _Stale() from exc
            raise TransportError(f"connection lost at {stage.upper()}: {exc}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            await _drop(client)
            raise TransportError(f"SMTP error at {stage.upper()}: {exc}") from exc
        self._idle.append(client)
        return SendResult(ok=True, code=reply.code, detail=reply.message, stage="data")

    async def _reset_or_drop(self, client: aiosmtplib.SMTP) -> None:
        try:
            await client.rset()
            self._idle.append(client)
        except Exception:  # a connection that cannot even reset is not worth keeping
            await _drop(client)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            await _drop(client, None, polite=True)


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
