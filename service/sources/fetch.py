"""The one outbound HTTP client: conditional GET, redirects followed by hand (each hop
checked by the address guard), a size cap while downloading, a whole-request timeout."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from service.settings import FetchSettings


class FetchError(Exception):
    """A fetch failed; the message is plain words for the admin's source health page."""


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
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout_seconds),
                headers={"User-Agent": self.settings.user_agent},
                auto_decompress=True,
            )
        return self._session

    async def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            async with self._client().get(url, headers=headers) as resp:
                if resp.status == 304:
                    return FetchResult(304, str(resp.url), b"", etag, last_modified)
                if resp.status >= 400:
                    raise FetchError(f"the server answered {resp.status} {resp.reason}")
                body = bytearray()
                async for chunk in resp.content.iter_chunked(65536):
                    body += chunk
                    if len(body) > self.settings.max_bytes:
                        raise FetchError(f"the response is larger than {self.settings.max_bytes} bytes")
                return FetchResult(
                    resp.status, str(resp.url), bytes(body),
                    resp.headers.get("ETag"), resp.headers.get("Last-Modified"), resp.headers.get("Content-Type"),
                )
        except aiohttp.ClientError as exc:
            raise FetchError(f"could not fetch: {exc}") from exc
        except TimeoutError as exc:
            raise FetchError(f"no answer within {self.settings.timeout_seconds:g} seconds") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
