"""The inbound SMTP endpoint for the bounce address (aiosmtpd, in the service's own loop).

It takes mail only for the bounce address (and its signed `+tag` forms), reads each
report and applies it. It accepts reports it does not believe (a 250 costs nothing and
tells a forger nothing); it never relays anything anywhere.
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


class BounceHandler:
    def __init__(self, runtime: "Runtime"):
        self.runtime = runtime
        bounce = runtime.settings.mail.bounce_address
        self.local, _, self.domain = (bounce or "").lower().rpartition("@")

    def accepts(self, address: str) -> bool:
        if not self.domain:
            return True
        local, _, domain = address.lower().rpartition("@")
        return domain == self.domain and local.split("+", 1)[0] == self.local

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if not self.accepts(address):
            return "550 5.1.1 this endpoint only takes bounces"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        for rcpt in envelope.rcpt_tos:
            try:
                result = await apply_report(self.runtime, raw, envelope_to=rcpt)
                log.info("bounce report to %s: %s %s %s", rcpt, result.status, result.kind or "", result.reason)
            except Exception:  # keep the endpoint up; the sender may try again
                log.exception("could not apply a bounce report")
                return "451 4.3.0 could not process the report now"
        return "250 OK"


async def start_bounce_server(runtime: "Runtime", host: str | None = None, port: int | None = None) -> asyncio.AbstractServer:
    settings = runtime.settings.bounces
    handler = BounceHandler(runtime)
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(handler, data_size_limit=settings.max_bytes, hostname="budbringer-bounces", decode_data=False),
        host or settings.host, settings.port if port is None else port,
    )


async def serve_bounces(runtime: "Runtime", stop: asyncio.Event) -> None:
    """Run the endpoint until `stop` is set (for `budbringer run`, worker role, when enabled)."""
    server = await start_bounce_server(runtime)
    log.info("bounces: listening on %s:%s", runtime.settings.bounces.host, runtime.settings.bounces.port)
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()
