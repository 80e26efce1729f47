"""A raw SMTP peer on loopback for faults aiosmtpd cannot script: a connection dropped in
the middle of DATA. It speaks just enough SMTP for aiosmtplib."""

from __future__ import annotations

import asyncio


class RawSmtp:
    def __init__(self, mode: str = "ok"):
        self.mode = mode  # "ok" or "drop_mid_data"
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
        try:
            writer.write(b"220 raw.test ESMTP\r\n")
            while True:
                line = await reader.readline()
                if not line:
                    return
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
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
                    writer.write(b"250 queued\r\n")
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
