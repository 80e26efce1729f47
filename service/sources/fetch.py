"""The one outbound HTTP client: conditional GET, redirects followed by hand (each hop
checked by the address guard, every DNS answer checked again when connecting), a size
cap while downloading and again while decompressing, a whole-request timeout.

Feeds, StatBank and the admin's test fetch all go through `Fetcher.get`.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass

import aiohttp
from yarl import URL

from service.settings import FetchSettings
from service.sources.guard import AddressGuard, GuardedResolver, Refused

REDIRECTS = {301, 302, 303, 307, 308}
PERMANENT = {301, 308}


class FetchError(Exception):
    """A fetch failed; the message is plain words for the admin's source health page."""

    def __init__(self, message: str, *, status: int | None = None, refused: bool = False):
        super().__init__(message)
        self.status = status
        self.refused = refused

    @property
    def gone(self) -> bool:
        return self.status == 410


@dataclass(frozen=True)
class FetchResult:
    status: int  # 200, or 304 when nothing changed
    url: str  # final URL after redirects
    body: bytes
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    permanent_redirect: str | None = None  # new URL when a 301/308 moved the source


class Fetcher:
    def __init__(self, settings: FetchSettings):
        self.settings = settings
        self.guard = AddressGuard(settings.allow_networks)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(self.guard, aiohttp.ThreadedResolver()), limit=20, ttl_dns_cache=0
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self.settings.user_agent, "Accept-Encoding": "gzip, deflate"},
                auto_decompress=False,  # decompressed by hand, under the size cap
                trust_env=False,  # no proxies from the environment
            )
        return self._session

    async def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        try:
            async with asyncio.timeout(self.settings.timeout_seconds):
                return await self._get(url, etag, last_modified)
        except TimeoutError as exc:
            raise FetchError(f"no answer within {self.settings.timeout_seconds:g} seconds") from exc
        except Refused as exc:
            raise FetchError(str(exc), refused=True) from exc
        except aiohttp.ClientError as exc:
            raise FetchError(f"could not fetch {url}: {_plain(exc)}") from exc

    async def _get(self, url: str, etag: str | None, last_modified: str | None) -> FetchResult:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = _checked_url(url)
        permanent: str | None = None
        all_permanent = True
        for _hop in range(self.settings.max_redirects + 1):
            await self.guard.check_host(current.raw_host or "")
            async with self._client().get(current, headers=headers, allow_redirects=False) as resp:
                if resp.status in REDIRECTS:
                    location = resp.headers.get("Location")
                    if not location:
                        raise FetchError(f"the server answered {resp.status} without saying where to", status=resp.status)
                    current = _checked_url(str(current.join(URL(location))))
                    all_permanent = all_permanent and resp.status in PERMANENT
                    permanent = str(current) if all_permanent else None
                    continue
                if resp.status == 304:
                    return FetchResult(304, str(current), b"", etag, last_modified, None, permanent)
                if resp.status != 200:
                    raise FetchError(_status_words(resp.status, resp.reason), status=resp.status)
                body = await self._read(resp)
                return FetchResult(
                    200, str(current), body, resp.headers.get("ETag"), resp.headers.get("Last-Modified"),
                    resp.headers.get("Content-Type"), permanent,
                )
        raise FetchError(f"more than {self.settings.max_redirects} redirects")

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes:
        cap = self.settings.max_bytes
        if resp.content_length is not None and resp.content_length > cap:
            raise FetchError(f"the response is larger than {cap} bytes ({resp.content_length} announced)")
        raw = bytearray()
        async for chunk in resp.content.iter_chunked(65536):
            raw += chunk
            if len(raw) > cap:
                raise FetchError(f"the response is larger than {cap} bytes")
        encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
        return _decompress(bytes(raw), encoding, cap)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _checked_url(url: str) -> URL:
    try:
        parsed = URL(url)
    except (ValueError, TypeError) as exc:
        raise FetchError(f"not a usable address: {url!r}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise FetchError(f"only http:// and https:// addresses can be fetched, not {url!r}", refused=True)
    return parsed


def _decompress(raw: bytes, encoding: str, cap: int) -> bytes:
    if encoding in ("identity", ""):
        return raw
    if encoding in ("gzip", "x-gzip"):
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        d = zlib.decompressobj()
    else:
        raise FetchError(f"the server used an encoding we did not ask for ({encoding})")
    try:
        out = d.decompress(raw, cap + 1)
    except zlib.error as exc:
        raise FetchError(f"the compressed response is damaged ({exc})") from exc
    if len(out) > cap or d.unconsumed_tail:
        raise FetchError(f"the response is larger than {cap} bytes once decompressed")
    return out


def _status_words(status: int, reason: str | None) -> str:
    if status == 410:
        return "the server says the feed is gone for good (410 Gone)"
    if status == 404:
        return "the address was not found (404 Not Found)"
    if status in (401, 403):
        return f"the server refused access ({status} {reason or ''})".rstrip()
    if status >= 500:
        return f"the server had an error ({status} {reason or ''})".rstrip()
    return f"the server answered {status} {reason or ''}".rstrip()


def _plain(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"could not connect to {exc.host}:{exc.port} ({exc.os_error.strerror or exc.os_error})"
    return str(exc) or type(exc).__name__
