"""A lone HTTPS request is driven on the loop's thread, as a plain-http one is.

Its TLS connection (rustls' session over the socket) leaves the engine's
reactor while the loop drives a request and goes back, session and all,
when the engine takes it (a concurrent request, a long body): made by the
engine (the handshake is the engine's work), reused by either.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Callable

import pytest

from conftest import TARGET, read_request_head

pytestmark = [
    pytest.mark.skipif(TARGET != "aioxide", reason="the bridge's bookkeeping is aioxide's"),
    pytest.mark.h1_only(reason="HTTP/1.1 over TLS (HTTP/2 is never driven)"),
]

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class TlsServer:
    """A raw TLS server on loopback; counts its connections."""

    def __init__(self) -> None:
        import trustme

        ca = trustme.CA()
        self.server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(self.server_ctx)
        self.client_ctx = ssl.create_default_context()
        ca.configure_trust(self.client_ctx)
        self.connections = 0
        self.servers: list[asyncio.AbstractServer] = []

    async def start(self, handler: Handler) -> str:
        async def wrapped(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await handler(r, w)
            except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
                pass
            finally:
                w.close()

        srv = await asyncio.start_server(wrapped, "127.0.0.1", 0, ssl=self.server_ctx)
        self.servers.append(srv)
        return f"https://127.0.0.1:{srv.sockets[0].getsockname()[1]}"


@pytest.fixture
async def tls() -> AsyncIterator[TlsServer]:
    t = TlsServer()
    yield t
    for s in t.servers:
        s.close()
        await s.wait_closed()


async def keep_alive(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    """Answer "ok" to every request on the connection."""
    while True:
        await read_request_head(r)
        w.write(OK)
        await w.drain()


def _bridge() -> Any:
    from aioxide._bridge import bridge_for

    return bridge_for(asyncio.get_running_loop()).bridge


async def _connect(s: Any, url: str) -> None:
    """The request that makes the connection (its handshake is the engine's)."""
    async with s.get(url, ssl=False) as r:
        assert await r.read() == b"ok"


@pytest.mark.parametrize("driving", [True, False])
async def test_lone_https_requests_are_driven_on_the_loops_thread(
    aiohttp: Any, tls: TlsServer, driving: bool
) -> None:
    # The handshake is the engine's (one wake-up); after it, requests one at
    # a time on the kept-alive connection are written and read on the loop's
    # thread: the engine is not woken, and the loop is never asked to watch
    # the socket (it waits in the bridge's own epoll).
    url = await tls.start(keep_alive)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as s:
        bridge = _bridge()
        bridge.driving = driving
        async with s.get(url, ssl=tls.client_ctx) as r:
            assert await r.read() == b"ok"
        before = bridge.wakeups()
        calls: list[str] = []
        watching = ("add_reader", "remove_reader", "add_writer", "remove_writer")
        for name in watching:
            real = getattr(loop, name)
            setattr(loop, name, lambda *a, _n=name, _f=real: calls.append(_n) or _f(*a))
        try:
            for _ in range(5):
                async with s.get(url, ssl=tls.client_ctx) as r:
                    assert await r.read() == b"ok"
        finally:
            for name in watching:
                delattr(loop, name)
        assert calls == []
        if driving:
            assert bridge.wakeups() == before
        else:
            assert bridge.wakeups() >= before + 5
        assert bridge.driven_count() == 0
    assert tls.connections == 1


async def test_a_driven_tls_connection_goes_back_to_the_engine_and_returns(
    aiohttp: Any, tls: TlsServer
) -> None:
    # The same TLS connection serves driven requests and the engine's, in
    # turn: leaving the reactor and coming back keep rustls' session (a
    # session rebuilt or lost would fail the next record, or make a new
    # connection).
    delay = 0.0

    async def answer_after_delay(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            await read_request_head(r)
            await asyncio.sleep(delay)
            w.write(OK)
            await w.drain()

    url = await tls.start(answer_after_delay)
    async with aiohttp.ClientSession() as s:
        bridge = _bridge()
        for driving in (True, False, True, False, True):
            bridge.driving = driving
            for _ in range(3):
                async with s.get(url, ssl=False) as r:
                    assert await r.read() == b"ok"
        # Two at once: the first is driven (and holds the idle connection
        # while the server waits), the second goes to the engine on a new one.
        bridge.driving = True
        delay = 0.05
        pair = [asyncio.ensure_future(s.get(url, ssl=False)) for _ in range(2)]
        for r in await asyncio.gather(*pair):
            assert await r.read() == b"ok"
            r.release()
        # Both back in the pool; whoever takes them next reads them as they are.
        delay = 0.0
        for driving in (False, True):
            bridge.driving = driving
            for _ in range(4):
                async with s.get(url, ssl=False) as r:
                    assert await r.read() == b"ok"
    assert tls.connections == 2


@pytest.mark.parametrize("size", [4, 2**20])
async def test_the_body_of_a_driven_https_request(aiohttp: Any, tls: TlsServer, size: int) -> None:
    # The head comes alone; the body, released later, is read on the loop's
    # thread up to 64 KiB, then by the engine, which takes the detached TLS
    # connection back into its reactor.  Twice on one connection (after the
    # request that made it, the engine's): the second is driven again on the
    # connection the engine had.
    release = asyncio.Event()
    body = hashlib.sha256(b"x").digest() * (size // 32) or b"body"

    async def head_then_body(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            await read_request_head(r)
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
            await w.drain()
            await release.wait()
            w.write(body)
            await w.drain()

    url = await tls.start(head_then_body)
    async with aiohttp.ClientSession() as s:
        bridge = _bridge()
        release.set()
        async with s.get(url, ssl=False) as r:
            assert await r.read() == body
        for _ in range(2):
            release.clear()
            async with s.get(url, ssl=False) as r:
                before = bridge.wakeups()
                reading = asyncio.ensure_future(r.read())
                await asyncio.sleep(0)  # (its task started the body's reader)
                assert bridge.driven_count() == 1
                release.set()
                assert await reading == body
                # A large body may be handed to the engine part-way, or not,
                # depending on how much had arrived when the read began.
                woken = bridge.wakeups() - before
                assert woken in ((1, 2) if size > 2**16 else (1,))
        assert bridge.driven_count() == 0
        assert bridge.outstanding() == 0
    assert tls.connections == 1


async def test_driven_https_uploads_wait_for_room(aiohttp: Any, tls: TlsServer) -> None:
    # Every other request uploads 8 MiB to a server that reads late, so the
    # driven writes of TLS records wait for room in the socket; all of it on
    # the loop's thread, on one connection.
    big = 8 << 20
    body = bytes(range(256)) * (big // 256)
    digest = hashlib.sha256(body).hexdigest().encode()

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            head = await read_request_head(r)
            answer = b"ok"
            if head.startswith(b"POST"):
                await asyncio.sleep(0.05)
                answer = hashlib.sha256(await r.readexactly(big)).hexdigest().encode()
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))
            await w.drain()

    url = await tls.start(handler)
    async with aiohttp.ClientSession() as s:
        bridge = _bridge()
        await _connect(s, url)
        before = bridge.wakeups()
        for i in range(6):
            timeout = aiohttp.ClientTimeout(total=20)
            if i % 2:
                cm = s.post(url, data=body, ssl=False, timeout=timeout)
            else:
                cm = s.get(url, ssl=False, timeout=timeout)
            async with cm as r:
                assert await r.read() == (digest if i % 2 else b"ok")
        assert bridge.wakeups() == before
        assert bridge.driven_count() == 0
    assert tls.connections == 1


@pytest.mark.parametrize("how", ["close_notify", "abort"])
async def test_a_tls_connection_closed_while_idle_is_not_reused(
    aiohttp: Any, tls: TlsServer, how: str
) -> None:
    # The server ends the kept-alive TLS connection after a driven request
    # (with close_notify, or dropping it) while it is idle in the pool out
    # of the reactor; the POST that follows sees that before sending (a POST
    # is never retried) and opens a new connection.
    closed = asyncio.Event()

    async def answer_then_close(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        first = tls.connections == 1
        for _ in range(2 if first else 1):
            await read_request_head(r)
            w.write(OK)
            await w.drain()
        if not first:
            await r.read()
            return
        if how == "abort":
            w.transport.abort()
        else:
            # (asyncio's TLS shutdown: close_notify, then it waits for the
            # peer's, which an idle client does not send.)
            w.close()
        closed.set()

    url = await tls.start(answer_then_close)
    async with aiohttp.ClientSession() as s:
        bridge = _bridge()
        await _connect(s, url)
        before = bridge.wakeups()
        async with s.get(url, ssl=False) as r:
            assert await r.read() == b"ok"
        assert bridge.wakeups() == before  # (driven)
        await asyncio.wait_for(closed.wait(), 5)
        await asyncio.sleep(0.05)  # (the close reached the client's socket)
        async with s.post(url, data=b"x", ssl=False) as r:
            assert await r.read() == b"ok"
    assert tls.connections == 2
