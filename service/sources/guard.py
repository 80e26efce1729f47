"""The address guard: which hosts an outbound fetch may reach.

Refused unless inside `allow_networks`: loopback, private, link-local, multicast,
reserved, unspecified, shared (CGNAT 100.64/10), cloud metadata addresses, IPv4-mapped
and other IPv6 forms that embed an IPv4 address (NAT64, 6to4, Teredo), and hosts written
in numeric tricks (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`). Every DNS answer is
checked, not just the first, and the check runs again for every redirect hop (the
fetcher calls it) and for every connection (`GuardedResolver` sits inside aiohttp).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp.abc import AbstractResolver

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolve = Callable[[str], Awaitable[list[str]]]

CGNAT = ipaddress.ip_network("100.64.0.0/10")
METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
EMBEDDING_V4 = [ipaddress.ip_network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32")]
# Anything made of digits, dots and hex/octal prefixes that is not a plain dotted quad.
NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.IGNORECASE)
DOTTED_QUAD = re.compile(r"^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$")


class Refused(Exception):
    """The guard refused an address; the message says why in plain words."""


def parse_networks(values: Iterable[str]) -> list[Network]:
    return [ipaddress.ip_network(v, strict=False) for v in values]


def refusal(addr: Address, allow: list[Network]) -> str | None:
    """Why `addr` may not be reached, or None when it may."""
    if any(addr.version == net.version and addr in net for net in allow):
        return None
    if addr in METADATA:
        return "a cloud metadata address"
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address"
        if any(addr in net for net in EMBEDDING_V4):
            return "an IPv6 address that embeds an IPv4 address"
        if addr.scope_id:
            return "an IPv6 address with a zone"
    if addr.is_loopback:
        return "a loopback address"
    if addr.is_unspecified:
        return "an unspecified address"
    if addr.is_link_local:
        return "a link-local address"
    if addr.is_multicast:
        return "a multicast address"
    if isinstance(addr, ipaddress.IPv4Address) and addr in CGNAT:
        return "a shared (CGNAT) address"
    if addr.is_reserved:
        return "a reserved address"
    if addr.is_private:
        return "a private address"
    if not addr.is_global:
        return "a reserved address"
    return None


def literal(host: str) -> Address | None:
    """The address when `host` is an IP literal; Refused for numeric tricks."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if NUMERIC_HOST.match(host) and not DOTTED_QUAD.match(host):
        raise Refused(f"the address {host!r} is written in an unusual numeric form")
    return None


class AddressGuard:
    def __init__(self, allow_networks: Iterable[str], resolve: Resolve | None = None):
        self.allow = parse_networks(allow_networks)
        self._resolve = resolve

    def check_address(self, host: str, addr: Address) -> None:
        reason = refusal(addr, self.allow)
        if reason:
            shown = host if host.strip("[]") == str(addr) else f"{host} ({addr})"
            raise Refused(f"refused to connect to {shown}: it is {reason}")

    async def check_host(self, host: str) -> list[str]:
        """Check a URL's host (literal or name, every DNS answer); return the addresses."""
        if not host:
            raise Refused("the address has no host name")
        addr = literal(host)
        if addr is not None:
            self.check_address(host, addr)
            return [str(addr)]
        if self._resolve is None:
            return []  # names are checked when the connection resolves them (GuardedResolver)
        answers = await self._resolve(host)
        if not answers:
            raise Refused(f"the host name {host} did not resolve")
        for answer in answers:
            self.check_address(host, ipaddress.ip_address(answer.split("%")[0]))
        return answers


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, with every answer checked by the guard before any connection."""

    def __init__(self, guard: AddressGuard, inner: AbstractResolver):
        self.guard = guard
        self.inner = inner

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        literal(host)  # numeric tricks never reach getaddrinfo
        results = await self.inner.resolve(host, port, family)
        if not results:
            raise Refused(f"the host name {host} did not resolve")
        for r in results:
            self.guard.check_address(host, ipaddress.ip_address(r["host"].split("%")[0]))
        return results

    async def close(self) -> None:
        await self.inner.close()
