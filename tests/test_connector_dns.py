"""TCPConnector's name resolution and socket options: the DNS cache and its
clear_dns_cache, family, local_addr, happy_eyeballs_delay/interleave
accepted.  (The happy-eyeballs race and the TTL are unit-tested in the engine:
crates/aioxide/src/connect/mod.rs and connect/dns.rs.)
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
from typing import Any

import pytest
from aiohttp import web

from conftest import TARGET, resolved


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


# -- resolver= and socket_factory= -----------------------------------------------


class MapResolver:
    """A user resolver (aiohttp's AbstractResolver contract) over a fixed map."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.calls: list[tuple[str, int, int]] = []
        self.closed = False

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[Any]:
        self.calls.append((host, port, int(family)))
        await asyncio.sleep(0)
        if host not in self.table:
            raise OSError(-2, "Name or service not known")
        return [resolved(host, port, ip) for ip in self.table[host]]

    async def close(self) -> None:
        self.closed = True


def user_resolver(aiohttp: Any, table: dict[str, list[str]]) -> MapResolver:
    base = aiohttp.abc.AbstractResolver

    class R(MapResolver, base):  # type: ignore[misc,valid-type]
        pass

    return R(table)


async def test_user_resolver_is_used_and_cached(aiohttp: Any, base: str) -> None:
    port = port_of(base)
    resolver = user_resolver(aiohttp, {"api.example.test": ["127.0.0.1"]})
    connector = aiohttp.TCPConnector(resolver=resolver, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as s:
        for _ in range(3):
            async with s.get(f"http://api.example.test:{port}/") as resp:
                assert await resp.text() == "127.0.0.1"
    assert [c[:2] for c in resolver.calls] == [("api.example.test", port)]
    assert resolver.closed is False  # a resolver the user gave is theirs to close


class SlowMapResolver(MapResolver):
    """Answers after 50 ms; a host named ``boom.*`` raises ``LookupError``."""

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[Any]:
        await asyncio.sleep(0.05)
        if host.startswith("boom."):
            self.calls.append((host, port, int(family)))
            raise LookupError("the resolver's own error")
        return await super().resolve(host, port, family)


@pytest.mark.parametrize("use_dns_cache", [True, False])
async def test_concurrent_requests_to_a_new_host_share_one_lookup(
    aiohttp: Any, base: str, use_dns_cache: bool
) -> None:
    """As aiohttp's connector: with the DNS cache on, connections to a host
    not cached yet wait for one lookup (aioxide made one each); its failure
    fails them all with the resolver's exception. Without the cache, each
    connection looks up."""
    port = port_of(base)

    class R(SlowMapResolver, aiohttp.abc.AbstractResolver):  # type: ignore[misc,name-defined]
        pass

    resolver = R({"shared.example.test": ["127.0.0.1"]})
    connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=use_dns_cache)
    async with aiohttp.ClientSession(connector=connector) as s:

        async def one(host: str) -> str:
            async with s.get(f"http://{host}:{port}/") as resp:
                return str(await resp.text())

        texts = await asyncio.gather(*(one("shared.example.test") for _ in range(6)))
        assert texts == ["127.0.0.1"] * 6
        assert len(resolver.calls) == (1 if use_dns_cache else 6)
        del resolver.calls[:]
        failed = await asyncio.gather(
            *(one("boom.example.test") for _ in range(4)), return_exceptions=True
        )
        assert [type(e) for e in failed] == [LookupError] * 4, failed
        assert len(resolver.calls) == (1 if use_dns_cache else 4)


async def test_dns_cache_ttl_expires(aiohttp: Any, base: str) -> None:
    port = port_of(base)
    resolver = user_resolver(aiohttp, {"ttl.example.test": ["127.0.0.1"]})
    connector = aiohttp.TCPConnector(resolver=resolver, ttl_dns_cache=0.2, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as s:
        for _ in range(2):
            async with s.get(f"http://ttl.example.test:{port}/") as resp:
                assert resp.status == 200
        assert len(resolver.calls) == 1
        await asyncio.sleep(0.3)
        async with s.get(f"http://ttl.example.test:{port}/") as resp:
            assert resp.status == 200
        assert len(resolver.calls) == 2


async def test_no_dns_cache_resolves_every_time(aiohttp: Any, base: str) -> None:
    port = port_of(base)
    resolver = user_resolver(aiohttp, {"nc.example.test": ["127.0.0.1"]})
    connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as s:
        for _ in range(3):
            async with s.get(f"http://nc.example.test:{port}/") as resp:
                assert resp.status == 200
    assert len(resolver.calls) == 3


async def test_resolver_failure_is_dns_error(aiohttp: Any, base: str) -> None:
    resolver = user_resolver(aiohttp, {})
    connector = aiohttp.TCPConnector(resolver=resolver)
    async with aiohttp.ClientSession(connector=connector) as s:
        with pytest.raises(aiohttp.ClientConnectorDNSError) as info:
            await s.get(f"http://missing.example.test:{port_of(base)}/")
    assert isinstance(info.value, OSError)
    assert info.value.host == "missing.example.test"


class _Buggy:
    """A resolver whose answer is `answer()` (which may raise)."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer

    async def resolve(self, host: str, port: int = 0, family: int = 0) -> Any:
        return self.answer()

    async def close(self) -> None:
        pass


def _entry(port: int) -> list[dict[str, Any]]:
    return [
        {"hostname": "h", "host": "127.0.0.1", "port": port, "family": 2, "proto": 0, "flags": 0}
    ]


@pytest.mark.parametrize(
    "answer,raised",
    [
        (lambda: 1 / 0, ZeroDivisionError),
        (lambda: None, TypeError),
        (lambda: _entry(70000), OverflowError),
    ],
)
async def test_what_a_resolver_raises_is_raised(
    aiohttp: Any, base: str, answer: Any, raised: type
) -> None:
    """Not an OSError (a bug in the resolver, an answer that is not a list
    of hosts, a port out of range): the request raises it as aiohttp does,
    not a DNS error, and no task is left with an exception nobody read."""
    loop = asyncio.get_running_loop()
    unread: list[Any] = []
    loop.set_exception_handler(lambda _loop, context: unread.append(context))
    try:
        connector = aiohttp.TCPConnector(resolver=_Buggy(answer))
        async with aiohttp.ClientSession(connector=connector) as s:
            with pytest.raises(raised):
                await s.get(f"http://buggy.example.test:{port_of(base)}/")
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
    assert unread == []


async def test_what_a_socket_factory_raises_is_raised(aiohttp: Any, base: str) -> None:
    def factory(addr_info: Any) -> socket.socket:
        raise ZeroDivisionError("no socket")

    connector = aiohttp.TCPConnector(socket_factory=factory)
    async with aiohttp.ClientSession(connector=connector) as s:
        with pytest.raises(ZeroDivisionError):
            await s.get(base + "/")


async def test_resolver_gets_the_family(aiohttp: Any, base: str) -> None:
    resolver = user_resolver(aiohttp, {"fam.example.test": ["127.0.0.1"]})
    connector = aiohttp.TCPConnector(resolver=resolver, family=socket.AF_INET)
    async with aiohttp.ClientSession(connector=connector) as s:
        async with s.get(f"http://fam.example.test:{port_of(base)}/") as resp:
            assert resp.status == 200
    assert resolver.calls[0][2] == socket.AF_INET


async def test_happy_eyeballs_skips_a_hanging_address(aiohttp: Any, base: str) -> None:
    # A listener whose accept queue is full drops SYNs: connecting hangs.
    full = socket.socket()
    full.bind(("127.0.0.2", 0))
    full.listen(0)
    full.setblocking(False)
    dead_port = full.getsockname()[1]
    held = []
    for _ in range(16):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.2", dead_port))
        held.append(c)
    await asyncio.sleep(0.2)
    # Both addresses carry the same port; the live server is on 127.0.0.1.
    port = port_of(base)
    full2 = socket.socket()
    try:
        full2.bind(("127.0.0.2", port))
        full2.listen(0)
        full2.setblocking(False)
        for _ in range(16):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.2", port))
            held.append(c)
        await asyncio.sleep(0.2)
        resolver = user_resolver(aiohttp, {"he.example.test": ["127.0.0.2", "127.0.0.1"]})
        connector = aiohttp.TCPConnector(resolver=resolver, happy_eyeballs_delay=0.1)
        async with aiohttp.ClientSession(connector=connector) as s:
            async with asyncio.timeout(5):
                async with s.get(f"http://he.example.test:{port}/") as resp:
                    assert await resp.text() == "127.0.0.1"
    finally:
        for c in held:
            c.close()
        full.close()
        full2.close()


async def test_socket_factory_makes_each_connection(aiohttp: Any, base: str) -> None:
    made: list[Any] = []

    def factory(addr_info: Any) -> socket.socket:
        family, type_, proto, _, _ = addr_info
        made.append(addr_info)
        sock = socket.socket(family=family, type=type_, proto=proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        return sock

    connector = aiohttp.TCPConnector(socket_factory=factory, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as s:
        for _ in range(2):
            async with s.get(base + "/") as resp:
                assert await resp.text() == "127.0.0.1"
    assert len(made) == 2
    assert made[0][0] == socket.AF_INET
    assert made[0][4][:2] == ("127.0.0.1", port_of(base))


async def test_socket_factory_error_is_connector_error(aiohttp: Any, base: str) -> None:
    def factory(addr_info: Any) -> socket.socket:
        raise OSError(13, "Permission denied")

    connector = aiohttp.TCPConnector(socket_factory=factory)
    async with aiohttp.ClientSession(connector=connector) as s:
        with pytest.raises(aiohttp.ClientConnectorError) as info:
            await s.get(base + "/")
    assert info.value.errno == 13


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
async def test_sessions_with_hooks_leave_no_descriptor(aiohttp: Any, base: str) -> None:
    """A closed session with a resolver or a socket factory that made a
    request keeps no descriptor: each held one of its loop bridge's until
    the process ended (the engine's clone of the client was never freed)."""
    port = port_of(base)

    def factory(addr_info: Any) -> socket.socket:
        family, type_, proto, _, _ = addr_info
        return socket.socket(family=family, type=type_, proto=proto)

    async def one_session(hook: str) -> None:
        if hook == "resolver":
            connector = aiohttp.TCPConnector(
                resolver=user_resolver(aiohttp, {"fd.example.test": ["127.0.0.1"]})
            )
            url = f"http://fd.example.test:{port}/"
        else:
            connector = aiohttp.TCPConnector(socket_factory=factory)
            url = base + "/"
        async with aiohttp.ClientSession(connector=connector) as s:
            async with s.get(url) as resp:
                assert resp.status == 200

    for hook in ("resolver", "socket_factory"):
        await one_session(hook)  # whatever is made once per process
        gc.collect()
        before = open_fds()
        for _ in range(10):
            await one_session(hook)
        for _ in range(200):
            gc.collect()
            if open_fds() - before <= 1:
                break
            await asyncio.sleep(0.01)
        assert open_fds() - before <= 1, hook


@pytest.mark.skipif(TARGET != "aioxide", reason="the engine's own count")
async def test_a_closed_session_frees_its_engine_pool(aiohttp: Any, base: str) -> None:
    """Every request cloned the engine client (its pool and settings) and
    the clone was never dropped: a closed session's pool stayed for good."""
    from aioxide._aioxide import Session as EngineSession

    async def one_session() -> None:
        async with aiohttp.ClientSession() as s:
            async with s.get(base + "/") as resp:  # driven on the loop's thread
                await resp.read()
            await asyncio.gather(*(s.get(base + "/") for _ in range(3)))  # on the engine
            with pytest.raises(aiohttp.ClientConnectorError):
                await s.get("http://127.0.0.1:1/")

    gc.collect()
    before = EngineSession.live_pools()
    for _ in range(5):
        await one_session()
    # The engine's thread drops a request's task just after its answer.
    for _ in range(200):
        gc.collect()
        if EngineSession.live_pools() == before:
            break
        await asyncio.sleep(0.01)
    assert EngineSession.live_pools() == before


@pytest.mark.skipif(TARGET != "aioxide", reason="aiohttp 3.14 has no public cached_hosts")
async def test_cached_hosts_snapshot(aiohttp: Any, base: str) -> None:
    port = port_of(base)
    connector = aiohttp.TCPConnector()
    async with aiohttp.ClientSession(connector=connector) as s:
        async with s.get(f"http://localhost:{port}/") as resp:
            assert resp.status == 200
        assert connector.dns_cache is True
        hosts = connector.cached_hosts
        assert hosts[("localhost", port)][0]["hostname"] == "localhost"
        assert hosts[("localhost", port)][0]["port"] == port


async def test_threaded_resolver_resolves(aiohttp: Any, base: str) -> None:
    resolver = aiohttp.ThreadedResolver()
    infos = await resolver.resolve("localhost", 80, socket.AF_INET)
    assert infos and infos[0]["host"] == "127.0.0.1" and infos[0]["port"] == 80
    assert infos[0]["hostname"] == "localhost"
    await resolver.close()
    assert aiohttp.DefaultResolver in (aiohttp.ThreadedResolver, aiohttp.AsyncResolver)
    # Given to a connector, it resolves names for requests.
    connector = aiohttp.TCPConnector(resolver=aiohttp.ThreadedResolver())
    async with aiohttp.ClientSession(connector=connector) as s:
        async with s.get(f"http://localhost:{port_of(base)}/") as resp:
            assert await resp.text() == "127.0.0.1"
