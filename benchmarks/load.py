"""A small load tool for the signup page: N concurrent clients on loopback, each with its
own cookie jar (so its own CSRF token), sending GET / or POSTing the signup form.

    python -m benchmarks.load URL get|post CONCURRENCY REQUESTS
    python -m benchmarks.load URL open RATE SECONDS

Prints one JSON line: requests, errors, seconds, requests per second, p50/p99 in ms.
Each POST uses a new address, so every one is a real signup (subscriber row, consent
record, queued confirmation mail).

`get` and `post` are a closed loop: each client sends its next request when the last is
answered, so a slow server gets fewer requests and p50 ≈ clients / throughput. `open` is
an open loop: signups arrive at RATE per second for SECONDS whatever the server does, and
each latency counts from the moment the request was due, so time spent waiting for the
server (or for a free connection) is in it. Its addresses start with "bekraeft-" and the
line also gives when each was due (`time.monotonic()`), so the benchmark can tell when
each confirmation mail reached the sink.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time

import aiohttp

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


async def open_client(url: str) -> tuple[aiohttp.ClientSession, str]:
    """A client with its own cookie jar and the CSRF token the page gave it."""
    # unsafe=True: aiohttp keeps no cookies for a bare IP address (127.0.0.1) otherwise.
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1), cookie_jar=aiohttp.CookieJar(unsafe=True),
                                    timeout=aiohttp.ClientTimeout(total=60))
    async with session.get(url + "/") as response:
        return session, TOKEN.search(await response.text()).group(1)


def _form(token: str, email: str) -> dict[str, str]:
    return {"csrf_token": token, "email": email, "name": "Belastning", "topics": "ledighedstal",
            "municipalities": "751", "frequency": "daily", "language": "da", "consent": "yes", "website": ""}


async def _post(session, url: str, token: str, email: str) -> tuple[bool, bytes]:
    try:
        async with session.post(url + "/", data=_form(token, email), headers={"Origin": url}) as response:
            body = await response.read()
            return response.status == 200 and "Tjek din indbakke".encode() in body, body
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        return False, str(exc).encode()


async def client(session, token, url, mode, counter, latencies, errors, tag) -> None:
    while counter[0] > 0:
        counter[0] -= 1
        n = counter[0]
        start = time.perf_counter()
        try:
            if mode == "get":
                async with session.get(url + "/") as response:
                    body = await response.read()
                    ok = response.status == 200 and b"csrf_token" in body
            else:
                ok, body = await _post(session, url, token, f"belastning-{tag}-{n}@example.dk")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            ok, body = False, str(exc).encode()
        latencies.append(time.perf_counter() - start)
        if not ok:
            errors.append(body[:300].decode(errors="replace"))


async def run(url: str, mode: str, concurrency: int, requests: int) -> dict:
    counter, latencies, errors = [requests], [], []
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    clients = await asyncio.gather(*(open_client(url) for _ in range(concurrency)))
    start = time.perf_counter()
    await asyncio.gather(*(client(session, token, url, mode, counter, latencies, errors, tag)
                           for session, token in clients))
    took = time.perf_counter() - start
    for session, _ in clients:
        await session.close()
    return {"requests": len(latencies), "errors": len(errors), "first_error": errors[0] if errors else None,
            "seconds": took, "rps": len(latencies) / took, "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000}


async def open_loop(url: str, rate: float, seconds: float) -> dict:
    """Signups due at a fixed rate; latency from when each was due."""
    total = int(rate * seconds)
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    # Enough clients for the arrivals of a few seconds: a signup waits for a free one only
    # when the server has fallen that far behind (and then the wait is in its latency).
    clients = await asyncio.gather(*(open_client(url) for _ in range(min(total, max(50, int(rate * 3))))))
    free: asyncio.Queue = asyncio.Queue()
    for c in clients:
        free.put_nowait(c)
    latencies, errors, due = [], [], {}

    async def one(email: str, at: float) -> None:
        session, token = await free.get()
        try:
            ok, body = await _post(session, url, token, email)
        finally:
            free.put_nowait((session, token))
        latencies.append(time.monotonic() - at)
        if not ok:
            errors.append(body[:300].decode(errors="replace"))

    start = time.monotonic() + 0.1
    tasks = []
    for i in range(total):
        at = start + i / rate
        wait = at - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        email = f"bekraeft-{tag}-{i}@example.dk"
        due[email] = at
        tasks.append(asyncio.create_task(one(email, at)))
    await asyncio.gather(*tasks)
    took = time.monotonic() - start
    for session, _ in clients:
        await session.close()
    return {"requests": len(latencies), "errors": len(errors), "first_error": errors[0] if errors else None,
            "seconds": took, "rps": len(latencies) / took, "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000, "due": due}


def main() -> None:
    from service.eventloop import run as run_loop

    url, mode = sys.argv[1].rstrip("/"), sys.argv[2]
    if mode == "open":
        result = run_loop(open_loop(url, float(sys.argv[3]), float(sys.argv[4])))
    else:
        result = run_loop(run(url, mode, int(sys.argv[3]), int(sys.argv[4])))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
