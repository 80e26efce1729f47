"""The inbound SMTP endpoint for the bounce address (aiosmtpd).

It takes mail only for the bounce address (and its signed `+tag` forms), reads each
report and applies it. It accepts reports it does not believe (a 250 costs nothing and
tells a forger nothing); it never relays anything anywhere.

Anyone can connect, so the work is bounded: at most `MAX_SESSIONS` connections at once,
`MAX_RCPTS` recipients per transaction (452 for more, as RFC 5321 says), `max_bytes` per
message, and each message is read once, in a worker thread, whatever its recipients, with
at most `MAX_AT_ONCE` reports being read or applied at a time. It runs in the `bounces`
role: its own process (`budbringer run --role bounces`), or beside the others in one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiosmtpd.smtp import SMTP

from service.bounces.process import apply_report

if TYPE_CHECKING:
    from service.runtime import Runtime

log = logging.getLogger(__name__)

MAX_RCPTS = 5  # a report goes to one return address; a few more are tolerated
MAX_SESSIONS = 20  # connections at once; the next one is told to come back later
MAX_AT_ONCE = 2  # reports read and applied at the same time


class BounceHandler:
    def __init__(self, runtime: "Runtime"):
        self.runtime = runtime
        bounce = runtime.settings.mail.bounce_address
        self.local, _, self.domain = (bounce or "").lower().rpartition("@")
        self.sessions = 0
        self._gate = asyncio.Semaphore(MAX_AT_ONCE)

    def accepts(self, address: str) -> bool:
        if not self.domain:
            return True
        local, _, domain = address.lower().rpartition("@")
        return domain == self.domain and local.split("+", 1)[0] == self.local

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if len(envelope.rcpt_tos) >= MAX_RCPTS:
            return "452 4.5.3 too many recipients"
        if not self.accepts(address):
            return "550 5.1.1 this endpoint only takes bounces"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        try:
            async with self._gate:
                result = await apply_report(self.runtime, raw, envelope_to=envelope.rcpt_tos)
        except Exception:  # keep the endpoint up; the sender may try again
            log.exception("could not apply a bounce report")
            return "451 4.3.0 could not process the report now"
        log.info("bounce report to %s: %s %s %s", ", ".join(envelope.rcpt_tos), result.status, result.kind or "",
                 result.reason)
        return "250 OK"


class _BoundedSMTP(SMTP):
    """aiosmtpd's server, refusing connections beyond the handler's `MAX_SESSIONS`, and
    reading DATA in blocks: aiosmtpd's own DATA keeps every line as an object of its own, in
    a Python loop that does not yield while lines are buffered (a 1.8 MB message of short
    lines took ~90 MB and 12 s of CPU on the event loop). Here a message is one buffer read
    in 64 KB blocks, never more than `data_size_limit` of it kept (~5 MB and 10 ms for the
    same message)."""

    def connection_made(self, transport):
        handler: BounceHandler = self.event_handler
        if handler.sessions >= MAX_SESSIONS:
            transport.write(b"421 4.3.2 too busy, try again later\r\n")
            transport.close()
            self._counted = False
            return
        handler.sessions += 1
        self._counted = True
        super().connection_made(transport)

    def connection_lost(self, error):
        if not getattr(self, "_counted", False):
            return
        self.event_handler.sessions -= 1
        self._counted = False
        super().connection_lost(error)

    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        content = await _read_data(self._reader, self.data_size_limit)
        if content is None:
            await self.push("552 Error: Too much mail data")
        else:
            self.envelope.content = self.envelope.original_content = content
            status = await self.event_handler.handle_DATA(self, self.session, self.envelope)
            await self.push(status)
        self._set_post_data_state()


async def _read_data(reader: asyncio.StreamReader, limit: int) -> bytes | None:
    """The message up to the line with a lone dot, dots unstuffed (RFC 5321 4.5.2); None when
    it was longer than `limit` (read to its end all the same, but not kept). PIPELINING is not
    offered, so a client sends nothing after the dot before our answer; if it does, it is dropped."""
    data = bytearray(b"\r\n")  # the line break before the first line: a lone dot there ends it too
    too_long = False
    while True:
        chunk = await reader.read(64 * 1024)
        if not chunk:
            raise ConnectionResetError("connection closed during DATA")
        start = max(len(data) - 4, 0)
        data += chunk
        end = data.find(b"\r\n.\r\n", start)
        if end >= 0:
            break
        if len(data) > limit + 8:
            too_long = True
            del data[:-4]  # keep the tail: the end mark may begin in it
    if too_long or end - 2 > limit:
        return None
    body = bytes(data[2:end + 2]).replace(b"\r\n.", b"\r\n")
    return body[1:] if body.startswith(b".") else body


async def start_bounce_server(runtime: "Runtime", host: str | None = None, port: int | None = None) -> asyncio.AbstractServer:
    settings = runtime.settings.bounces
    handler = BounceHandler(runtime)
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: _BoundedSMTP(handler, data_size_limit=settings.max_bytes, hostname="budbringer-bounces",
                             decode_data=False, timeout=60),
        host or settings.host, settings.port if port is None else port,
    )


async def serve_bounces(runtime: "Runtime", stop: asyncio.Event) -> None:
    """Run the endpoint until `stop` is set (the `bounces` role of `budbringer run`)."""
    server = await start_bounce_server(runtime)
    log.info("bounces: listening on %s:%s", runtime.settings.bounces.host, runtime.settings.bounces.port)
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()
