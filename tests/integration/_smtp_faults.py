"""A raw SMTP peer on loopback for faults aiosmtpd cannot script: a connection dropped in
the middle of DATA. It speaks just enough SMTP for aiosmtplib."""

from __future__ import annotations

import asyncio


class RawSmtp:
    def __init__(self, mode: str = "ok", *, pipelining: bool = False, replies: dict[bytes, bytes] | None = None):
        self.mode = mode  # "ok" or "drop_mid_data"
        self.pipelining = pipelining  # offer PIPELINING (RFC 2920); the replies come in order either way
        # A reply instead of "250 OK" for a line that starts so, e.g. {b"RCPT TO:<nej@": b"550 5.1.1 no"}
        self.replies = replies or {}
        self.commands: list[bytes] = []  # every command line it got, in order
        self.delivered: list[bytes] = []
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        self.sessions = 0
        self._writers: set[asyncio.StreamWriter] = set()

    def drop_all(self) -> None:
        """Close every open connection, as a relay does with idle ones."""
        for w in list(self._writers):
            w.transport.abort()

    async def start(self) -> "RawSmtp":
        self.server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sessions += 1
        self._writers.add(writer)
        refused = False
        try:
            writer.write(b"220 raw.test ESMTP\r\n")
            while True:
                line = await reader.readline()
                if not line:
                    return
                self.commands.append(line)
                verb = line[:4].upper()
                scripted = next((r for prefix, r in self.replies.items() if line.startswith(prefix)), None)
                if verb in (b"RSET", b"MAIL"):
                    refused = False
                if scripted is not None:
                    refused = refused or scripted[:1] in (b"4", b"5")
                    writer.write(scripted + b"\r\n")
                elif verb == b"DATA" and refused:  # as a relay does: no message without a sender and recipient
                    writer.write(b"554 5.5.1 no valid recipients\r\n")
                elif verb == b"EHLO":
                    writer.write(b"250-raw.test\r\n250 PIPELINING\r\n" if self.pipelining else b"250 raw.test\r\n")
                elif verb == b"HELO":
                    writer.write(b"250 raw.test\r\n")
                elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                    writer.write(b"250 OK\r\n")
                elif verb == b"DATA":
                    writer.write(b"354 go ahead\r\n")
                    await writer.drain()
                    if self.mode == "drop_mid_data":
                        await reader.read(100)
                        writer.transport.abort()
                        return
                    body = []
                    while (chunk := await reader.readline()) not in (b".\r\n", b""):
                        body.append(chunk)
                    self.delivered.append(b"".join(body))
                    after = self.replies.get(b".", b"250 queued")
                    if after is not None:  # None: no reply at all
                        writer.write(after + b"\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    return
                else:
                    writer.write(b"502 not implemented\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()
