"""The security rules of issue 13 that no other file tests.

Tested elsewhere: CR/LF in a header name or value
(test_request_options.py::test_crlf_in_header_is_value_error_and_nothing_sent),
Authorization and Cookie dropped on a cross-origin redirect
(test_redirects.py::test_cross_origin_redirect_drops_authorization), Secure
cookies only over https (test_cookiejar.py::test_secure_cookies), no cookie for
a public suffix (test_cookiejar.py::test_public_suffix_domain_refused), a
context asking for TLS below 1.2 (test_tls_modes.py::test_versions_below_tls12_only).
Here: NUL and CR/LF in the method, the request target and headers; every
credential header on a cross-origin and an https -> http (same host and port)
redirect; a server that speaks only TLS 1.0/1.1; a gzip bomb streamed with
bounded pieces and bounded memory.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import ssl
import warnings
from typing import Any, Optional

import pytest
import trustme
from yarl import URL

from conftest import read_request_head

# -- CR, LF or NUL: refused before anything is sent ----------------------------


class Bytes:
    """A raw server that records every connection and byte it is sent."""

    def __init__(self) -> None:
        self.received = b""
        self.connections = 0

    async def __call__(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.connections += 1
        while data := await r.read(65536):
            self.received += data


def _target(port: int, path: str) -> URL:
    # encoded=True: the path goes out as given (yarl would otherwise quote or drop it).
    return URL.build(scheme="http", host="127.0.0.1", port=port, path=path, encoded=True)


@pytest.mark.parametrize(
    "what",
    [
        "method-crlf",
        "method-lf",
        "method-nul",
        "target-crlf",
        "target-nul",
        "header-value-nul",
        "header-name-nul",
        "header-value-cr",
    ],
)
async def test_control_characters_are_refused_before_sending(
    aiohttp: Any, raw_server: Any, what: str
) -> None:
    rec = Bytes()
    base = await raw_server(rec)
    port = URL(base).port
    assert port is not None
    kw: dict[str, Any] = {"method": "GET", "url": base + "/"}
    if what.startswith("method"):
        kw["method"] = {"crlf": "GET\r\nX: y", "lf": "GET\nX", "nul": "GE\x00T"}[what[7:]]
    elif what == "target-crlf":
        kw["url"] = _target(port, "/a\r\nX-Injected: 1")
    elif what == "target-nul":
        kw["url"] = _target(port, "/a\x00b")
    elif what == "header-value-nul":
        kw["headers"] = {"X-Evil": "a\x00b"}
    elif what == "header-name-nul":
        kw["headers"] = {"X-Ev\x00il": "a"}
    else:
        kw["headers"] = {"X-Evil": "a\rInjected: yes"}
    async with aiohttp.ClientSession() as s:
        with pytest.raises(ValueError):
            async with asyncio.timeout(5):
                await s.request(**kw)
    # The session is closed: any connection made was closed with it.
    await asyncio.sleep(0)
    assert rec.received == b""
    if what.startswith("method"):
        # Refused before a connection was sought (a bad target or header
        # aiohttp only refuses when it writes the head, on its connection).
        assert rec.connections == 0


# -- credentials and redirects ---------------------------------------------------

CREDENTIALS = {
    "Authorization": "Bearer secret",
    "Cookie": "sid=1",
    "Proxy-Authorization": "Basic cHJveHk6c2VjcmV0",
}


class Echo:
    """A raw server: /go redirects to ``location``; anything else echoes the
    request's header names and values as JSON."""

    def __init__(self) -> None:
        self.location = ""

    async def __call__(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await read_request_head(r)
            except asyncio.IncompleteReadError:
                return
            if head.startswith(b"GET /go "):
                w.write(
                    b"HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n"
                    % self.location.encode()
                )
            else:
                lines = head.decode("latin-1").split("\r\n")[1:]
                fields = [line.split(": ", 1) for line in lines if ": " in line]
                body = json.dumps(fields).encode()
                w.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
            await w.drain()


def _credentials_seen(fields: list[list[str]]) -> list[str]:
    return sorted(k for k, _ in fields if k.lower() in {c.lower() for c in CREDENTIALS})


async def test_credentials_not_carried_to_another_origin(aiohttp: Any, raw_server: Any) -> None:
    first, other = Echo(), Echo()
    url = await raw_server(first)
    other_url = await raw_server(other)
    first.location = other_url + "/landing"
    async with aiohttp.ClientSession() as s:
        async with s.get(url + "/go", headers=CREDENTIALS) as resp:
            assert resp.url == URL(other_url + "/landing")
            assert _credentials_seen(await resp.json()) == []
        # Same origin: they are kept.
        first.location = "/landing"
        async with s.get(url + "/go", headers=CREDENTIALS) as resp:
            assert _credentials_seen(await resp.json()) == sorted(CREDENTIALS)


class SchemeSniffer:
    """One port that speaks TLS or plain HTTP, by the first byte it gets."""

    def __init__(self, ctx: ssl.SSLContext, handler: Any) -> None:
        self.ctx = ctx
        self.handler = handler
        self.sock: Optional[socket.socket] = None
        self.task: Optional[asyncio.Task[None]] = None
        self.conns: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.setblocking(False)
        self.task = asyncio.ensure_future(self._accept())
        return int(self.sock.getsockname()[1])

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        assert self.sock is not None
        while True:
            conn, _ = await loop.sock_accept(self.sock)
            t = asyncio.ensure_future(self._serve(conn))
            self.conns.add(t)
            t.add_done_callback(self.conns.discard)

    async def _serve(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        readable = loop.create_future()
        loop.add_reader(conn.fileno(), lambda: readable.done() or readable.set_result(None))
        try:
            await readable
        finally:
            loop.remove_reader(conn.fileno())
        tls = conn.recv(1, socket.MSG_PEEK) == b"\x16"
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_accepted_socket(
            lambda: asyncio.StreamReaderProtocol(reader),
            conn,
            ssl=self.ctx if tls else None,
        )
        writer = asyncio.StreamWriter(transport, transport.get_protocol(), reader, loop)  # type: ignore[arg-type]
        try:
            await self.handler(reader, writer)
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        assert self.task is not None and self.sock is not None
        self.task.cancel()
        for t in list(self.conns):
            t.cancel()
        await asyncio.gather(self.task, *self.conns, return_exceptions=True)
        self.sock.close()


async def test_credentials_not_carried_from_https_to_http(aiohttp: Any) -> None:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    echo = Echo()
    srv = SchemeSniffer(server_ctx, echo)
    port = await srv.start()
    try:
        # The same host and port, only the scheme changes: another origin.
        echo.location = f"http://127.0.0.1:{port}/landing"
        async with aiohttp.ClientSession() as s, asyncio.timeout(10):
            url = f"https://127.0.0.1:{port}/go"
            async with s.get(url, headers=CREDENTIALS, ssl=client_ctx) as resp:
                assert resp.url == URL(echo.location)
                assert _credentials_seen(await resp.json()) == []
            echo.location = f"https://127.0.0.1:{port}/landing"
            async with s.get(url, headers=CREDENTIALS, ssl=client_ctx) as resp:
                assert _credentials_seen(await resp.json()) == sorted(CREDENTIALS)
    finally:
        await srv.close()


# -- TLS below 1.2 ------------------------------------------------------------------


async def test_server_speaking_only_tls11_is_refused(aiohttp: Any, serve: Any) -> None:
    from aiohttp import web

    ca = trustme.CA()
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            server_ctx.minimum_version = ssl.TLSVersion.TLSv1
            server_ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            server_ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        except (ValueError, ssl.SSLError):
            pytest.skip("this OpenSSL cannot serve TLS 1.1")
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="insecure")

    app = web.Application()
    app.router.add_get("/", hello)
    base = await serve(app, ssl_context=server_ctx)
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientConnectorError):
            async with asyncio.timeout(5):
                await s.get(base + "/", ssl=client_ctx)


# -- a decompression bomb, streamed ------------------------------------------------

BOMB_SIZE = 256 * 1024 * 1024
PIECE = 64 * 1024


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.fixture(scope="module")
def bomb() -> bytes:
    c = gzip.zlib.compressobj(9, gzip.zlib.DEFLATED, 31)  # type: ignore[attr-defined]
    zeros = bytes(1 << 20)
    return b"".join([*(c.compress(zeros) for _ in range(BOMB_SIZE >> 20)), c.flush()])


async def test_gzip_bomb_streams_in_bounded_pieces(
    aiohttp: Any, raw_server: Any, bomb: bytes
) -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request_head(r)
        w.write(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb)
        )
        w.write(bomb)
        await w.drain()

    url = await raw_server(handler)
    start = _rss()
    peak = start
    total = 0
    async with aiohttp.ClientSession(read_bufsize=PIECE) as s, asyncio.timeout(30):
        async with s.get(url) as resp:
            async for piece in resp.content.iter_chunked(PIECE):
                assert len(piece) <= PIECE
                total += len(piece)
                if total % (16 << 20) < PIECE:
                    peak = max(peak, _rss())
            async with s.get(url) as resp2:
                # What the buffer may hold: twice read_bufsize (as aiohttp's),
                # and one step of the decoder past it at most.
                high = resp2.content.get_read_buffer_limits()[1]
                assert high == 2 * PIECE
                async for piece in resp2.content.iter_any():
                    assert len(piece) <= high + 64 * 1024
                    break
    assert total == BOMB_SIZE
    # A quarter of a GiB went through; memory grew by a few pieces' worth at most.
    assert peak - start < 32 * 1024 * 1024
