"""A minimal SMTP sink: accepts every message, keeps a count, nothing else.

aiosmtpd is slower than the client that feeds it (600–1,300 µs of CPU per message, see
MEASURED.md), so a throughput figure measured against it would be aiosmtpd's. This sink
speaks just enough SMTP for aiosmtplib (EHLO, MAIL, RCPT, DATA with dot-terminated
body, RSET, NOOP, QUIT) and answers `XCNT` with "250 <messages> <bytes>" so the
benchmark can check that what was recorded as sent really arrived.

Run it in its own process, so that its CPU is not the sender's:

    python -m benchmarks.sink PORT
"""

from __future__ import annotations

import asyncio
import sys

END = b"\r\n.\r\n"


class Counter:
    messages = 0
    octets = 0


class SinkProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.in_data = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        out = []
        while True:
            if self.in_data:
                end = self.buffer.find(END)
                if end < 0:
                    break
                Counter.messages += 1
                Counter.octets += end + 2
                self.buffer = self.buffer[end + len(END):]
                self.in_data = False
                out.append(b"250 2.0.0 queued\r\n")
                continue
            nl = self.buffer.find(b"\r\n")
            if nl < 0:
                break
            line, self.buffer = self.buffer[:nl], self.buffer[nl + 2:]
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                out.append(b"250-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 PIPELINING\r\n")
            elif verb == b"DATA":
                self.in_data = True
                out.append(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                out.append(b"221 bye\r\n")
                self.transport.write(b"".join(out))
                self.transport.close()
                return
            elif verb == b"XCNT":
                out.append(b"250 %d %d\r\n" % (Counter.messages, Counter.octets))
            else:  # MAIL, RCPT, RSET, NOOP
                out.append(b"250 ok\r\n")
        if out:
            self.transport.write(b"".join(out))


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(SinkProtocol, "127.0.0.1", port, backlog=256)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


async def count(port: int) -> tuple[int, int]:
    """Messages and octets the sink on `port` has received so far."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reader.readline()
    writer.write(b"XCNT\r\n")
    await writer.drain()
    reply = (await reader.readline()).split()
    writer.write(b"QUIT\r\n")
    writer.close()
    return int(reply[1]), int(reply[2])


def main() -> None:
    from service.eventloop import run

    run(serve(int(sys.argv[1])))


if __name__ == "__main__":
    main()
