"""The client's address, believing X-Forwarded-For only from configured proxies."""

from __future__ import annotations

import ipaddress

from aiohttp import web

from service.web.keys import RUNTIME


def client_ip(request: web.Request) -> str:
    peer = request.remote or ""
    trusted = request.app[RUNTIME].settings.web.trusted_proxies
    if not trusted or not _in(peer, trusted):
        return peer
    # Walk X-Forwarded-For from the right, skipping our own proxies.
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in(hop, trusted):
            return hop
    return peer


def _in(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)
