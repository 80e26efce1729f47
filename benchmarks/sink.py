"""A minimal SMTP sink: accepts every message, keeps a count, nothing else.

aiosmtpd is slower than the client that feeds it (600–1,300 µs of CPU per message, see
MEASURED.md), so a throughput figure measured against it would be aiosmtpd's. This sink
speaks just enough SMTP for aiosmtplib (EHLO, MAIL, RCPT, DATA with dot-terminated
body, RSET, NOOP, QUIT) and answers `XCNT` with "250 <messages> <bytes>" so the
benchmark can check that what was recorded as sent really arrived.

Like a relay across a network it can take its time: `--connect-delay` seconds before the
greeting and `--data-delay` seconds before the reply to a message (the other replies come
at once, as a relay answers MAIL and RCPT from memory). With `--max-connections N` it
answers "421 too many connections" to the connection after N and closes it. For every
message to an address that starts with "bekraeft-" it notes when it arrived
(`time.monotonic()`, the same clock in every process); `XTIMES` lists them.

Run it in its own process, so that its CPU is not the sender's:

    python -m benchmarks.sink PORT [--connect-delay S] [--data-delay S] [--max-connections N]
"""

from __future__ import annotations

import argparse
import asyncio
import time

END = b"\r\n.\r\n"
TIMED = b"bekraeft-"


class Counter:
    messages = 0
    octets = 0
    connections = 0
    refused = 0
    arrivals: list[tuple[str, float]] = []


class Options:
    connect_delay = 0.0
    data_delay = 0.0
    max_connections = 0


class SinkProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.in_data = False
        self.transport: asyncio.Transport | None = None
        self.rcpt = b""
        self.counted = False
        self.ready_at = 0.0  # replies leave in order: none before the one delayed ahead of it

    def connection_made(self, transport) -> None:
        self.transport = transport
        loop = asyncio.get_running_loop()
        if Options.max_connections and Counter.connections >= Options.max_connections:
            Counter.refused += 1
            transport.write(b"421 4.7.0 sink: too many connections, try again later\r\n")
            transport.close()
            return
        Counter.connections += 1
        self.counted = True
        self._reply(b"220 sink ESMTP\r\n", Options.connect_delay, loop)

    def connection_lost(self, exc) -> None:
        if self.counted:
            Counter.connections -= 1
            self.counted = False

    def _reply(self, data: bytes, delay: float, loop) -> None:
        now = loop.time()
        at = max(now + delay, self.ready_at)
        if at <= now:
            self.transport.write(data)
            return
        self.ready_at = at
        loop.call_at(at, self._write, data)

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        # Only the new bytes (and the few before them that may begin the end marker) are searched.
        scan = max(0, len(self.buffer) - len(END)) if self.in_data else 0
        self.buffer += data
        out = []
        while True:
            if self.in_data:
                end = self.buffer.find(END, scan)
                scan = 0
                if end < 0:
                    break
                Counter.messages += 1
                Counter.octets += end + 2
                if self.rcpt.startswith(TIMED):
                    Counter.arrivals.append((self.rcpt.decode(), time.monotonic()))
                self.buffer = self.buffer[end + len(END):]
                self.in_data = False
                if out:
                    self._reply(b"".join(out), 0, loop)
                    out = []
                self._reply(b"250 2.0.0 queued\r\n", Options.data_delay, loop)
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
            elif verb == b"RCPT":
                self.rcpt = line[8:].strip(b" <>").lower()
                out.append(b"250 ok\r\n")
            elif verb == b"QUIT":
                out.append(b"221 bye\r\n")
                self._reply(b"".join(out), 0, loop)
                self.transport.close()
                return
            elif verb == b"XCNT":
                out.append(b"250 %d %d\r\n" % (Counter.messages, Counter.octets))
            elif verb == b"XTIM":
                lines = [f"250-{rcpt} {at:.6f}\r\n".encode() for rcpt, at in Counter.arrivals]
                out.append(b"".join(lines) + b"250 %d\r\n" % len(lines))
            else:  # MAIL, RSET, NOOP
                out.append(b"250 ok\r\n")
        if out:
            self._reply(b"".join(out), 0, loop)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(SinkProtocol, "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


async def _ask(port: int, command: bytes) -> list[bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reader.readline()
    writer.write(command + b"\r\n")
    await writer.drain()
    lines = []
    while True:
        line = await reader.readline()
        lines.append(line)
        if line[3:4] != b"-":
            break
    writer.write(b"QUIT\r\n")
    writer.close()
    return lines


async def count(port: int) -> tuple[int, int]:
    """Messages and octets the sink on `port` has received so far."""
    reply = (await _ask(port, b"XCNT"))[-1].split()
    return int(reply[1]), int(reply[2])


async def arrivals(port: int) -> dict[str, float]:
    """When each message to a "bekraeft-" address arrived (monotonic seconds)."""
    out = {}
    for line in (await _ask(port, b"XTIMES"))[:-1]:
        rcpt, at = line[4:].decode().split()
        out[rcpt] = float(at)
    return out


def main() -> None:
    from service.eventloop import run

    p = argparse.ArgumentParser(prog="python -m benchmarks.sink")
    p.add_argument("port", type=int)
    p.add_argument("--connect-delay", type=float, default=0.0, help="seconds before the greeting")
    p.add_argument("--data-delay", type=float, default=0.0, help="seconds before the reply to a message")
    p.add_argument("--max-connections", type=int, default=0, help="answer 421 beyond this many (0: no limit)")
    a = p.parse_args()
    Options.connect_delay, Options.data_delay, Options.max_connections = a.connect_delay, a.data_delay, a.max_connections
    run(serve(a.port))


if __name__ == "__main__":
    main()
