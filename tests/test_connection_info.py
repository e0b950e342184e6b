"""``resp.connection.transport.get_extra_info(...)`` and reading a body after
its session was closed (issue 9).

Each test passes against aiohttp too (``AIOXIDE_TEST_TARGET=aiohttp``); where
aioxide deliberately differs (there is no Python ``SSLObject``: the engine's
TLS is rustls; the socket is a stand-in) the test says so and checks each side.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest
import trustme
from aiohttp import web

from conftest import read_request_head

Start = Callable[..., Awaitable[str]]


def is_aiohttp(client: Any) -> bool:
    return bool(client.__name__ == "aiohttp")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def held(serve: Any, ca: trustme.CA) -> AsyncIterator[Start]:
    """A server whose answer to ``/`` sends its head and a first piece of the
    body, then waits (the connection stays held by the response).  The head
    carries the server's view of the TLS session (``X-Cipher``,
    ``X-Version``).  ``tls``: HTTPS with a trustme certificate for 127.0.0.1;
    ``max_version``: the highest TLS version the server speaks."""
    gate = asyncio.Event()

    async def start(tls: bool = False, max_version: ssl.TLSVersion | None = None) -> str:
        async def slow(request: web.Request) -> web.StreamResponse:
            resp = web.StreamResponse()
            resp.content_length = 1 << 20
            assert request.transport is not None
            cipher = request.transport.get_extra_info("cipher")
            if cipher is not None:
                resp.headers["X-Cipher"] = cipher[0]
                resp.headers["X-Version"] = cipher[1]
                resp.headers["X-Bits"] = str(cipher[2])
            await resp.prepare(request)
            await resp.write(b"x" * 10)
            await gate.wait()
            return resp

        app = web.Application()
        app.router.add_get("/", slow)
        if not tls:
            return await serve(app)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
        if max_version is not None:
            ctx.maximum_version = max_version
        return await serve(app, ssl_context=ctx)

    yield start
    gate.set()


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


async def test_peername_and_sockname_over_http(aiohttp: Any, held: Start) -> None:
    url = await held()
    port = int(url.rsplit(":", 1)[1])
    async with aiohttp.ClientSession() as s:
        resp = await s.get(url + "/")
        conn = resp.connection
        assert conn is not None
        assert conn.protocol is not None
        t = conn.transport
        assert t is not None
        assert t.is_closing() is False
        peer = t.get_extra_info("peername")
        assert peer == ("127.0.0.1", port)
        local = t.get_extra_info("sockname")
        assert local[0] == "127.0.0.1" and isinstance(local[1], int) and local[1] != port
        sock = t.get_extra_info("socket")
        assert sock.getpeername() == peer
        assert sock.getsockname() == local
        assert sock.family == socket.AF_INET
        assert sock.type == socket.SOCK_STREAM
        # Plain TCP: nothing of TLS, and the default for an unknown name.
        for name in ("sslcontext", "ssl_object", "peercert", "cipher", "compression"):
            assert t.get_extra_info(name) is None
        assert t.get_extra_info("no-such-info", "dflt") == "dflt"
        assert t.get_extra_info("peercert", "dflt") == "dflt"
        if is_aiohttp(aiohttp):
            assert sock.fileno() > 0
        else:
            # aioxide: the engine owns the socket; the stand-in has no descriptor.
            assert sock.fileno() == -1
        resp.release()
        assert resp.connection is None
        assert conn.protocol is None
        assert conn.transport is None


@pytest.mark.parametrize("hooked", [False, True])
async def test_a_requests_own_ssl_context_is_its_sslcontext(
    aiohttp: Any, held: Start, ca: trustme.CA, hooked: bool
) -> None:
    url = await held(tls=True)
    ctx = client_context(ca)

    async def passthrough(req: Any, handler: Any) -> Any:
        return await handler(req)

    kw = {"middlewares": (passthrough,)} if hooked else {}
    async with aiohttp.ClientSession(**kw) as s:
        resp = await s.get(url + "/", ssl=ctx)
        assert resp.connection.transport.get_extra_info("sslcontext") is ctx
        resp.release()


async def test_tls_verified_peer(aiohttp: Any, held: Start, ca: trustme.CA) -> None:
    url = await held(tls=True)
    port = int(url.rsplit(":", 1)[1])
    ctx = client_context(ca)
    conn_ = aiohttp.TCPConnector(ssl=ctx)
    async with aiohttp.ClientSession(connector=conn_) as s:
        resp = await s.get(url + "/")
        t = resp.connection.transport
        assert t.get_extra_info("peername") == ("127.0.0.1", port)
        cipher = t.get_extra_info("cipher")
        assert isinstance(cipher, tuple) and len(cipher) == 3
        assert cipher == (
            resp.headers["X-Cipher"],
            resp.headers["X-Version"],
            int(resp.headers["X-Bits"]),
        )
        assert cipher[1] == "TLSv1.3"
        cert = t.get_extra_info("peercert")
        assert cert["subjectAltName"] == (("IP Address", "127.0.0.1"), ("DNS", "localhost"))
        assert cert["subject"][0][0][0] == "organizationName"
        assert cert["issuer"][0][0][1].startswith("trustme")
        assert cert["version"] == 3
        assert cert["notAfter"] == "Jan  1 00:00:00 3000 GMT"
        assert t.get_extra_info("sslcontext") is ctx
        assert t.get_extra_info("compression") is None
        if is_aiohttp(aiohttp):
            assert isinstance(t.get_extra_info("ssl_object"), ssl.SSLObject)
        else:
            # aioxide: the TLS is rustls; there is no Python SSLObject.
            assert t.get_extra_info("ssl_object") is None
        resp.release()
        assert resp.connection is None


async def test_tls12_cipher_is_openssls_name(aiohttp: Any, held: Start, ca: trustme.CA) -> None:
    url = await held(tls=True, max_version=ssl.TLSVersion.TLSv1_2)
    async with aiohttp.ClientSession() as s:
        resp = await s.get(url + "/", ssl=client_context(ca))
        cipher = resp.connection.transport.get_extra_info("cipher")
        assert cipher == (
            resp.headers["X-Cipher"],
            "TLSv1.2",
            int(resp.headers["X-Bits"]),
        )
        assert "-" in cipher[0]  # OpenSSL's naming, e.g. ECDHE-ECDSA-AES256-GCM-SHA384
        resp.release()


async def test_tls_unverified_peer(aiohttp: Any, held: Start) -> None:
    url = await held(tls=True)
    async with aiohttp.ClientSession() as s:
        resp = await s.get(url + "/", ssl=False)
        t = resp.connection.transport
        # ssl gives the certificate of a verified peer only.
        assert t.get_extra_info("peercert") == {}
        cipher = t.get_extra_info("cipher")
        assert cipher[0] == resp.headers["X-Cipher"] and cipher[1] == "TLSv1.3"
        ctx = t.get_extra_info("sslcontext")
        assert isinstance(ctx, ssl.SSLContext)
        assert ctx.verify_mode == ssl.CERT_NONE
        resp.release()


async def test_protocol_none_once_the_body_arrived(aiohttp: Any, serve: Any) -> None:
    async def small(request: web.Request) -> web.Response:
        return web.Response(body=b"done")

    app = web.Application()
    app.router.add_get("/", small)
    url = await serve(app)
    async with aiohttp.ClientSession() as s:
        resp = await s.get(url + "/")
        assert await resp.read() == b"done"
        # The connection went back to the pool at the body's end.
        assert resp.connection is None


# -- reading a body after its session was closed ------------------------------


PARTIAL = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"a" * 10


@pytest.fixture
async def partial(raw_server: Any) -> AsyncIterator[str]:
    """A server that sends a head and 10 of 100 announced body bytes, then waits."""
    gate = asyncio.Event()

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request_head(r)
        w.write(PARTIAL)
        await w.drain()
        await gate.wait()

    yield await raw_server(handler)
    gate.set()


async def _outcome(coro: Awaitable[Any]) -> Any:
    try:
        return ("ok", await coro)
    except Exception as e:  # noqa: BLE001 - the outcome is what is compared
        return (type(e).__name__, str(e))


async def _iter_chunked(resp: Any) -> list[bytes]:
    return [c async for c in resp.content.iter_chunked(4)]


# What aiohttp 3.14.5 does on the first and second read after session.close()
# while the body is still arriving: what had arrived is handed out by a read
# that does not wait; a read that waits raises RuntimeError("Connection
# closed.") (ClientResponse.read() closes the response then, so its next
# call raises ClientConnectionError).
CLOSED = ("RuntimeError", "Connection closed.")
READS: dict[str, tuple[Callable[[Any], Awaitable[Any]], tuple[Any, Any]]] = {
    "read": (lambda r: r.read(), (CLOSED, ("ClientConnectionError", "Connection closed"))),
    "text": (lambda r: r.text(), (CLOSED, ("ClientConnectionError", "Connection closed"))),
    "content.read": (lambda r: r.content.read(), (CLOSED, CLOSED)),
    "content.readany": (lambda r: r.content.readany(), (("ok", b"a" * 10), CLOSED)),
    "content.read(4)": (lambda r: r.content.read(4), (("ok", b"aaaa"), ("ok", b"aaaa"))),
    "iter_chunked": (_iter_chunked, (CLOSED, CLOSED)),
}


@pytest.mark.parametrize("how", list(READS))
async def test_read_after_session_close_body_still_arriving(
    aiohttp: Any, partial: str, how: str
) -> None:
    read, expected = READS[how]
    s = aiohttp.ClientSession()
    resp = await s.get(partial + "/")
    await asyncio.sleep(0.1)  # the first piece arrives
    await s.close()
    assert resp.connection is not None
    first = await asyncio.wait_for(_outcome(read(resp)), 5)
    second = await asyncio.wait_for(_outcome(read(resp)), 5)
    assert (first, second) == expected


async def test_read_after_closing_one_of_two_sessions(aiohttp: Any, partial: str) -> None:
    # Another session keeps the loop's engine bridge open: closing this one
    # still ends its connection, as aiohttp's connector closes it.
    other = aiohttp.ClientSession()
    try:
        s = aiohttp.ClientSession()
        resp = await s.get(partial + "/")
        await asyncio.sleep(0.1)
        await s.close()
        assert await asyncio.wait_for(resp.content.readany(), 5) == b"a" * 10
        assert await asyncio.wait_for(_outcome(resp.content.readany()), 5) == CLOSED
        resp.release()
    finally:
        await other.close()


async def test_read_after_session_close_body_arrived(aiohttp: Any, raw_server: Any) -> None:
    gate = asyncio.Event()

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request_head(r)
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" + b"b" * 10)
        await w.drain()
        await gate.wait()

    url = await raw_server(handler)
    try:
        for how in ("read", "content.read", "content.readany"):
            s = aiohttp.ClientSession()
            resp = await s.get(url + "/")
            await asyncio.sleep(0.05)
            await s.close()
            if how == "read":
                assert await resp.read() == b"b" * 10
                assert await resp.read() == b"b" * 10
            elif how == "content.read":
                assert await resp.content.read() == b"b" * 10
                assert await resp.content.read() == b""
            else:
                assert await resp.content.readany() == b"b" * 10
                assert await resp.content.readany() == b""
    finally:
        gate.set()
