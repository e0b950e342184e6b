"""TCPConnector's name resolution and socket options: the DNS cache and its
clear_dns_cache, family, local_addr, happy_eyeballs_delay/interleave
accepted.  (The happy-eyeballs race and the TTL are unit-tested in the engine:
crates/aioxide/src/connect/mod.rs and connect/dns.rs.)
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from aiohttp import web


@pytest.fixture
async def base(serve: Any) -> str:
    async def peer(request: web.Request) -> web.Response:
        return web.Response(text=str(request.remote))

    app = web.Application()
    app.router.add_get("/", peer)
    return str(await serve(app))


def cached(connector: Any) -> set[tuple[str, int]]:
    """The (host, port) pairs in the connector's DNS cache."""
    if hasattr(connector, "_cached_hosts_snapshot"):
        return set(connector._cached_hosts_snapshot)
    return set(connector._cached_hosts._addrs_rr)  # aiohttp's table


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def test_dns_cache_keeps_answers_and_clears(aiohttp: Any, base: str) -> None:
    port = port_of(base)
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as s:
        assert connector.use_dns_cache is True
        async with s.get(f"http://localhost:{port}/") as resp:
            assert resp.status == 200
        assert ("localhost", port) in cached(connector)
        connector.clear_dns_cache("localhost", port)
        assert ("localhost", port) not in cached(connector)
        async with s.get(f"http://localhost:{port}/") as resp:
            assert resp.status == 200
        assert ("localhost", port) in cached(connector)
        connector.clear_dns_cache()
        assert cached(connector) == set()
        with pytest.raises(ValueError):
            connector.clear_dns_cache("localhost")
        with pytest.raises(ValueError):
            connector.clear_dns_cache(port=port)


async def test_ip_literals_are_not_cached(aiohttp: Any, base: str) -> None:
    connector = aiohttp.TCPConnector()
    async with aiohttp.ClientSession(connector=connector) as s:
        async with s.get(base + "/") as resp:
            assert resp.status == 200
        assert cached(connector) == set()


async def test_use_dns_cache_false_caches_nothing(aiohttp: Any, base: str) -> None:
    connector = aiohttp.TCPConnector(use_dns_cache=False)
    async with aiohttp.ClientSession(connector=connector) as s:
        assert connector.use_dns_cache is False
        async with s.get(f"http://localhost:{port_of(base)}/") as resp:
            assert resp.status == 200
        assert cached(connector) == set()


async def test_family_inet(aiohttp: Any, base: str) -> None:
    connector = aiohttp.TCPConnector(family=socket.AF_INET)
    async with aiohttp.ClientSession(connector=connector) as s:
        assert connector.family == socket.AF_INET
        async with s.get(f"http://localhost:{port_of(base)}/") as resp:
            assert await resp.text() == "127.0.0.1"


async def test_family_inet6_excludes_ipv4_addresses(aiohttp: Any, base: str) -> None:
    # The server listens on 127.0.0.1 only: with IPv6 only, "localhost" either
    # has no address or its ::1 refuses; either way no IPv4 address is tried.
    connector = aiohttp.TCPConnector(family=socket.AF_INET6)
    async with aiohttp.ClientSession(connector=connector) as s:
        with pytest.raises(aiohttp.ClientConnectorError):
            await s.get(f"http://localhost:{port_of(base)}/")


async def test_local_addr_binds_the_source_address(aiohttp: Any, base: str) -> None:
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=connector) as s:
        async with s.get(base + "/") as resp:
            assert await resp.text() == "127.0.0.2"


async def test_happy_eyeballs_options_accepted(aiohttp: Any, base: str) -> None:
    for delay, interleave in [(None, None), (0.1, 2), (0.25, None)]:
        connector = aiohttp.TCPConnector(happy_eyeballs_delay=delay, interleave=interleave)
        async with aiohttp.ClientSession(connector=connector) as s:
            async with s.get(f"http://localhost:{port_of(base)}/") as resp:
                assert resp.status == 200
