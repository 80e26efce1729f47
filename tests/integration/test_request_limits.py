"""Bodies refused before they are read, and slow headers cut off (catalogue 28).

Any form POST used to be read up to the app-wide 12 MB by the CSRF check before its 403:
60 such POSTs at once took the web process to 1.7 GB. These tests speak HTTP over a raw
socket, so they can send the headers of a large request and hold the body back: a server
that answers at once did not wait for (or read) the body. One that reads first never
answers, and the test fails on the timeout.
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import FormData

from tests.admin_support import csrf, staff_client
from tests.integration._probe import Probe

TWELVE_MB = 12 * 1024 * 1024
COOKIE = "a" * 43  # what a visitor's browser holds after one GET, or what an attacker makes up


async def _raw(port: int, head: str, body_chunks=(), timeout: float = 5.0) -> int | None:
    """Send `head` (and some body), return the status the server answered with, None if none came."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.replace("\n", "\r\n").encode() + b"\r\n")
        try:
            for chunk in body_chunks:
                writer.write(chunk)
                await asyncio.wait_for(writer.drain(), timeout)
        except (ConnectionError, asyncio.TimeoutError):
            pass  # the server stopped reading: what we want; its answer is in the buffer
        try:
            line = await asyncio.wait_for(reader.readline(), timeout)
        except asyncio.TimeoutError:
            return None
        return int(line.split()[1]) if line.startswith(b"HTTP/") else None
    finally:
        writer.close()


def _post(path: str, length: int | None, cookies: str = "", ctype: str = "application/x-www-form-urlencoded") -> str:
    size = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    cookie = f"\nCookie: {cookies}" if cookies else ""
    return f"POST {path} HTTP/1.1\nHost: 127.0.0.1\nContent-Type: {ctype}\n{size}{cookie}\n"


def _chunked(total: int, piece: int = 16 * 1024):
    for _ in range(total // piece):
        yield f"{piece:x}\r\n".encode() + b"a" * piece + b"\r\n"


async def test_item28_sixty_large_posts_without_a_csrf_cookie_are_refused_unread(client, db_kind):
    """Each gets 403 with its 12 MB body never sent, while /healthz answers throughout."""
    port = client.server.port
    async with Probe(client) as probe:
        answers = await asyncio.gather(*(_raw(port, _post("/", TWELVE_MB)) for _ in range(60)))
    assert answers == [403] * 60
    probe.assert_healthy()


async def test_item28_a_public_form_takes_a_form_and_no_more(client, db_kind):
    """With a CSRF cookie, which anyone can make up: a declared 12 MB gets 413 at once, and a
    body sent without a length is cut off at the limit (tens of KB), not read to the end."""
    port = client.server.port
    assert await _raw(port, _post("/", TWELVE_MB, f"bb_csrf={COOKIE}")) == 413
    assert await _raw(port, _post("/", None, f"bb_csrf={COOKIE}"), _chunked(512 * 1024)) == 413
    # A real signup still goes through.
    await client.get("/")
    r = await client.post("/", data={"csrf_token": csrf(client), "email": "ny@example.dk", "topics": "ledighed",
                                     "consent": "1"}, allow_redirects=False)
    assert r.status < 500 and r.status != 413


async def test_item28_large_bodies_only_after_the_login_check(runtime, db_kind):
    """The import and attachment routes take megabytes, but only from a signed-in member of
    staff with the right role: a stranger gets 401 and an editor 403 on the import, both with
    the body unsent. An admin's 250 KB import and an editor's 150 KB campaign body go through."""
    admin = await staff_client(runtime)
    editor = await staff_client(runtime, "redaktor@raadet.example", "editor")
    try:
        port = admin.server.port
        multipart = "multipart/form-data; boundary=xyz"
        assert await _raw(port, _post("/admin/subscribers/import", 5_000_000, f"bb_csrf={COOKIE}", multipart)) == 401
        jar = editor.session.cookie_jar.filter_cookies(editor.make_url("/admin/"))
        editor_cookies = "; ".join(f"{k}={v.value}" for k, v in jar.items())
        assert await _raw(port, _post("/admin/subscribers/import", 5_000_000, editor_cookies, multipart)) == 403
        assert await _raw(port, _post("/admin/campaigns/new", 5_000_000, editor_cookies)) == 413

        rows = "".join(f"person{i}@jobcenter.example;Person {i};analyser\n" for i in range(5_000))
        assert len(rows) > 200_000
        fd = FormData()
        for k, v in {"csrf_token": csrf(admin), "consent_source": "Liste fra mødet", "action": "preview"}.items():
            fd.add_field(k, v)
        fd.add_field("file", ("email;navn;emner\n" + rows).encode(), filename="stor.csv", content_type="text/csv")
        r = await admin.post("/admin/subscribers/import", data=fd)
        assert r.status == 200 and "5000 ville blive tilføjet" in await r.text()

        r = await editor.post("/admin/campaigns/new", data={
            "csrf_token": csrf(editor), "kind": "newsletter", "title": "Et langt nyhedsbrev", "lead": "",
            "body_md": "Ledighed i Østjylland. " * 7000, "theme": "standard", "topics": "analyser"}, allow_redirects=False)
        assert r.status == 303, (r.status, (await r.text())[:500])
    finally:
        await admin.close()
        await editor.close()


@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_item28_request_headers_sent_slowly_are_cut_off(db_url, tmp_path, clock, db_kind):
    """The production runner (`create_runner`) closes a connection whose headers are not in
    within `web.header_timeout_seconds` (here 1 s), however steadily they trickle in."""
    from aiohttp import web

    from service.wiring import build_runtime
    from service.web.app import create_runner
    from tests.conftest import free_port, make_settings

    runtime = build_runtime(make_settings(db_url, tmp_path, web={"header_timeout_seconds": 1}), clock=clock)
    runner = create_runner(runtime)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = asyncio.get_running_loop().time()
        closed = False
        for _ in range(40):  # a header byte every 0.2 s, for up to 8 s
            try:
                writer.write(b"X")
                await writer.drain()
                if await asyncio.wait_for(reader.read(100), 0.2) == b"":
                    closed = True
                    break
            except asyncio.TimeoutError:
                continue
            except ConnectionError:
                closed = True
                break
        took = asyncio.get_running_loop().time() - started
        writer.close()
        assert closed and took < 4, f"the slow connection was still open after {took:.1f} s"
        assert await _raw(port, "GET /healthz HTTP/1.1\nHost: 127.0.0.1\n") == 200
    finally:
        await runner.cleanup()
        await runtime.close()
