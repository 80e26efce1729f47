"""The address guard's decisions, with a stub resolver: nothing here opens a connection."""

from __future__ import annotations

import pytest

from service.sources.guard import AddressGuard, Refused


def guard(answers: dict[str, list[str]] | None = None, allow=()):
    async def resolve(host):
        return (answers or {}).get(host, [])

    return AddressGuard(allow, resolve)


REFUSED = [
    ("127.0.0.1", "loopback"), ("127.8.8.8", "loopback"), ("::1", "loopback"),
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"), ("fc00::1", "private"),
    ("169.254.10.10", "link-local"), ("fe80::1", "link-local"),
    ("169.254.169.254", "metadata"), ("fd00:ec2::254", "metadata"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"),
    ("100.64.0.1", "CGNAT"), ("0.0.0.0", "unspecified"), ("240.0.0.1", "reserved"),
    ("::ffff:127.0.0.1", "IPv4-mapped"), ("::ffff:8.8.8.8", "IPv4-mapped"),
    ("64:ff9b::a00:1", "embeds"), ("2002:7f00:1::", "embeds"), ("192.0.2.1", "private|reserved"),
]


@pytest.mark.parametrize("address,reason", REFUSED)
async def test_item13_literal_addresses_refused(address, reason):
    with pytest.raises(Refused, match=reason):
        await guard().check_host(f"[{address}]" if ":" in address else address)


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0x7f.0.0.1", "017700000001", "10.1"])
async def test_item13_numeric_tricks_refused(host):
    with pytest.raises(Refused, match="numeric"):
        await guard(allow=["127.0.0.0/8", "10.0.0.0/8"]).check_host(host)


async def test_item13_public_address_allowed():
    assert await guard().check_host("93.184.216.34") == ["93.184.216.34"]
    assert await guard().check_host("[2606:2800:220:1:248:1893:25c8:1946]")


async def test_item13_every_dns_answer_is_checked():
    g = guard({"feeds.example.dk": ["93.184.216.34", "10.0.0.5"], "ok.example.dk": ["93.184.216.34"]})
    with pytest.raises(Refused, match=r"feeds.example.dk \(10.0.0.5\).*private"):
        await g.check_host("feeds.example.dk")
    assert await g.check_host("ok.example.dk") == ["93.184.216.34"]
    with pytest.raises(Refused, match="did not resolve"):
        await g.check_host("nothing.example.dk")


async def test_item13_rebinding_name_to_metadata_refused():
    with pytest.raises(Refused, match="metadata"):
        await guard({"evil.example": ["169.254.169.254"]}).check_host("evil.example")


async def test_item13_allow_networks_opens_exactly_that():
    g = guard({"local.test": ["127.0.0.1"]}, allow=["127.0.0.1/32"])
    assert await g.check_host("127.0.0.1") == ["127.0.0.1"]
    assert await g.check_host("local.test") == ["127.0.0.1"]
    with pytest.raises(Refused):
        await g.check_host("127.0.0.2")
    with pytest.raises(Refused):
        await g.check_host("[::ffff:127.0.0.1]")  # the mapped form is not the allowed network
