"""A small load tool for the signup page: N concurrent clients on loopback, each with its
own cookie jar (so its own CSRF token), sending GET / or POSTing the signup form.

    python -m benchmarks.load URL get|post CONCURRENCY REQUESTS

Prints one JSON line: requests, errors, seconds, requests per second, p50/p99 in ms.
Each POST uses a new address, so every one is a real signup (subscriber row, consent
record, queued confirmation mail).
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
                form = {"csrf_token": token, "email": f"belastning-{tag}-{n}@example.dk", "name": "Belastning",
                        "topics": "ledighedstal", "municipalities": "751", "frequency": "daily",
                        "language": "da", "consent": "yes", "website": ""}
                async with session.post(url + "/", data=form, headers={"Origin": url}) as response:
                    body = await response.read()
                    ok = response.status == 200 and "Tjek din indbakke".encode() in body
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


def main() -> None:
    from service.eventloop import run as run_loop

    url, mode, concurrency, requests = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    print(json.dumps(run_loop(run(url.rstrip("/"), mode, concurrency, requests))), flush=True)


if __name__ == "__main__":
    main()
