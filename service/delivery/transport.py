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


class TransportError(Exception):
    """The message may or may not have been accepted: connection lost, timeout, 421."""

    def __init__(self, message: str, *, maybe_sent: bool = False, code: int | None = None, permanent: bool = False):
        super().__init__(message)
        self.maybe_sent = maybe_sent
        self.code = code
        self.permanent = permanent


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
    tmp.write_bytes(data)
    tmp.replace(path)


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
        raise TransportError("no SMTP relay reachable (" + "; ".join(errors) + ")")

    async def send(self, envelope_from: str, recipient: str, message: bytes) -> SendResult:
        async with self._sem:
            client = self._idle.pop() if self._idle else await self._connect()
            try:
                errors, reply = await client.sendmail(envelope_from, [recipient], message)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                self._idle.append(client)
                refused = exc.recipients[0]
                return SendResult(ok=False, permanent=refused.code >= 500, code=refused.code, detail=refused.message)
            except aiosmtplib.SMTPResponseException as exc:
                # MAIL FROM or DATA refused. After DATA the message was not accepted.
                await _drop(client, exc.code)
                if exc.code == 421:
                    raise TransportError(f"{exc.code} {exc.message}", code=exc.code) from exc
                return SendResult(ok=False, permanent=exc.code >= 500, code=exc.code, detail=exc.message)
            except aiosmtplib.SMTPTimeoutError as exc:
                await _drop(client)
                raise TransportError(f"timed out: {exc}", maybe_sent=True) from exc
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPException, OSError) as exc:
                await _drop(client)
                raise TransportError(f"connection lost: {exc}", maybe_sent=True) from exc
            self._idle.append(client)
            return SendResult(ok=True, code=250, detail=reply)

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
