"""HTTP/2: ``TCPConnector(http2=True | "prior_knowledge")`` (aioxide's
addition; aiohttp has no HTTP/2 client, so these skip against it).

Real servers on loopback: hypercorn serving a small ASGI app over TLS (ALPN
h2, trustme certificates) and over h2c (prior knowledge); a raw server
written with the ``h2`` package for the bad cases (RST_STREAM, GOAWAY, a
cancelled stream).  Connection sharing is proved by counting the distinct
client ports the server saw, never by timing; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import inspect
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import trustme
from aiohttp import web

from conftest import TARGET

pytestmark = pytest.mark.skipif(
    TARGET == "aiohttp",
    reason="aiohttp has no HTTP/2 client: TCPConnector(http2=...) is aioxide's addition",
)

BIG = bytes(range(256)) * 4096  # 1 MiB


@dataclass
class Origin:
    """A hypercorn server: its URL and the client ports it saw (one per
    connection)."""

    url: str
    ports: set[int] = field(default_factory=set)
    # /gather: requests held until this many arrived.
    arrived: int = 0
    target: int = 0
    all_in: asyncio.Event = field(default_factory=asyncio.Event)


async def _body(receive: Any) -> bytes:
    body = b""
    while True:
        m = await receive()
        body += m.get("body", b"")
        if not m.get("more_body"):
            return body


async def _answer(send: Any, status: int, body: bytes, headers: Any = ()) -> None:
    await send({"type": "http.response.start", "status": status, "headers": list(headers)})
    await send({"type": "http.response.body", "body": body})


async def _ws_echo(scope: Any, receive: Any, send: Any) -> None:
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    msg = await receive()
    await send({"type": "websocket.send", "text": f"{scope['http_version']}:{msg.get('text')}"})
    await send({"type": "websocket.close"})


def _app(origin: Origin) -> Callable[..., Awaitable[None]]:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            return await _ws_echo(scope, receive, send)
        if scope["type"] != "http":
            return
        origin.ports.add(scope["client"][1])
        path, query = scope["path"], scope["query_string"].decode()
        body = await _body(receive)
        if path == "/gather":
            origin.arrived += 1
            if origin.arrived >= origin.target:
                origin.all_in.set()
            await asyncio.wait_for(origin.all_in.wait(), 20)
        if path == "/gzip":
            data = gzip.compress(b"hello h2 " * 100)
            return await _answer(send, 200, data, [(b"content-encoding", b"gzip")])
        if path == "/big":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for i in range(0, len(BIG), 65536):
                chunk = {"type": "http.response.body", "body": BIG[i : i + 65536]}
                await send({**chunk, "more_body": True})
            return await send({"type": "http.response.body", "body": b""})
        if path == "/redirect":
            return await _answer(send, 302, b"", [(b"location", query.encode())])
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            return await _answer(send, code, b"" if code in (204, 304) else b"status")
        if path == "/see-other":
            return await _answer(send, 303, b"", [(b"location", b"/echo")])
        if path == "/cookie":
            return await _answer(send, 200, b"set", [(b"set-cookie", b"h2c=yes; Path=/")])
        if path == "/digest" and b"authorization" not in dict(scope["headers"]):
            challenge = b'Digest realm="r", nonce="abc", qop="auth", algorithm=MD5'
            return await _answer(send, 401, b"", [(b"www-authenticate", challenge)])
        if path == "/slow":
            await asyncio.sleep(30)
        echo = {
            "version": scope["http_version"],
            "method": scope["method"],
            "path": path,
            "query": query,
            "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
            "body": body.decode("latin-1"),
            "port": scope["client"][1],
        }
        ctype = [(b"content-type", b"application/json"), (b"X-Mixed-Case", b"1")]
        await _answer(send, 200, json.dumps(echo).encode(), ctype)

    return app


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def client_ssl(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


Start = Callable[..., Awaitable[Origin]]


@pytest.fixture
async def hyper(ca: trustme.CA, tmp_path: Any) -> AsyncIterator[Start]:
    """Start hypercorn on 127.0.0.1: ``await hyper(tls=True, max_streams=None)``."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    cert = ca.issue_cert("127.0.0.1")
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    chain.write_bytes(b"".join(p.bytes() for p in cert.cert_chain_pems))
    key.write_bytes(cert.private_key_pem.bytes())
    stops: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def start(tls: bool = True, max_streams: int | None = None) -> Origin:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        port = sock.getsockname()[1]
        cfg = Config()
        cfg.bind = [f"fd://{sock.detach()}"]
        cfg.accesslog = None
        cfg.errorlog = None
        cfg.graceful_timeout = 1
        if max_streams is not None:
            cfg.h2_max_concurrent_streams = max_streams
        if tls:
            cfg.certfile, cfg.keyfile = str(chain), str(key)
        origin = Origin(f"{'https' if tls else 'http'}://127.0.0.1:{port}")
        stop = asyncio.Event()
        task = asyncio.create_task(serve(_app(origin), cfg, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
        stops.append((stop, task))
        return origin

    yield start
    for stop, task in stops:
        stop.set()
        try:
            await asyncio.wait_for(task, 10)
        except (asyncio.TimeoutError, asyncio.CancelledError, OSError):
            pass


MODES = [pytest.param(True, id="tls-alpn"), pytest.param(False, id="h2c")]


def connector(aiohttp: Any, ctx: ssl.SSLContext, **kw: Any) -> Any:
    """h2 by ALPN over TLS and with prior knowledge over TCP."""
    return aiohttp.TCPConnector(http2="prior_knowledge", ssl=ctx, **kw)


async def test_switch_is_off_by_default_and_checked(
    aiohttp: Any, hyper: Start, client_ssl: Any
) -> None:
    origin = await hyper(tls=True)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_ssl)) as s:
        async with s.get(origin.url + "/echo") as r:
            assert r.version == aiohttp.HttpVersion11
            assert (await r.json())["version"] == "1.1"
    with pytest.raises(ValueError):
        aiohttp.TCPConnector(http2="h3")
    # http2=True: h2 to https:// origins only; http:// stays HTTP/1.1.
    plain = await hyper(tls=False)
    conn = aiohttp.TCPConnector(http2=True, ssl=client_ssl)
    async with aiohttp.ClientSession(connector=conn) as s:
        async with s.get(origin.url + "/echo") as r:
            assert r.version == aiohttp.HttpVersion(2, 0)
        async with s.get(plain.url + "/echo") as r:
            assert r.version == aiohttp.HttpVersion11


async def test_a_server_that_picks_http11_by_alpn_serves_as_before(
    aiohttp: Any, serve: Any, ca: trustme.CA, client_ssl: Any
) -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=f"{request.version.major}.{request.version.minor}")

    app = web.Application()
    app.router.add_get("/", hello)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    url = await serve(app, ssl_context=server_ctx)  # aiohttp's server: no h2 in ALPN
    conn = aiohttp.TCPConnector(http2=True, ssl=client_ssl, limit=4)
    async with aiohttp.ClientSession(connector=conn) as s:

        async def get() -> str:
            async with s.get(url + "/") as r:
                assert r.version == aiohttp.HttpVersion11
                return str(await r.text())

        assert await asyncio.gather(*(get() for _ in range(10))) == ["1.1"] * 10


@pytest.mark.parametrize("tls", MODES)
async def test_get_and_post_bodies(
    aiohttp: Any, hyper: Start, client_ssl: Any, tls: bool, session_kw: dict[str, Any]
) -> None:
    origin = await hyper(tls=tls)
    conn = connector(aiohttp, client_ssl)
    async with aiohttp.ClientSession(connector=conn, **session_kw) as s:
        hdrs = {"X-Custom": "Yes", "Connection": "keep-alive", "Keep-Alive": "5"}
        async with s.get(origin.url + "/echo", params={"q": "1"}, headers=hdrs) as r:
            assert r.status == 200
            assert r.version == aiohttp.HttpVersion(2, 0)
            assert r.headers["Content-Type"] == "application/json"
            assert r.headers["x-mixed-case"] == "1"
            assert all(k == k.lower() for k, _ in r.raw_headers)
            got = await r.json()
        assert got["version"] == "2" and got["query"] == "q=1"
        names = [k for k, _ in got["headers"]]
        assert "x-custom" in names
        assert not {"connection", "keep-alive", "transfer-encoding"} & set(names)

        async with s.post(origin.url + "/echo", data=b"abc" * 1000) as r:
            assert (await r.json())["body"] == "abc" * 1000

        async def stream() -> AsyncIterator[bytes]:
            for i in range(20):
                yield b"%d," % i

        async with s.post(origin.url + "/echo", data=stream()) as r:
            assert (await r.json())["body"] == "".join(f"{i}," for i in range(20))

        form = aiohttp.FormData()
        form.add_field("a", "1")
        form.add_field("f", b"xyz", filename="f.bin")
        async with s.post(origin.url + "/echo", data=form) as r:
            got = await r.json()
            assert 'name="f"; filename="f.bin"' in got["body"] and "xyz" in got["body"]


@pytest.mark.parametrize("tls", MODES)
async def test_large_and_compressed_uploads(
    aiohttp: Any, hyper: Start, client_ssl: Any, tls: bool
) -> None:
    origin = await hyper(tls=tls)
    big = BIG * 3  # past the stream and connection windows: flow control
    async with aiohttp.ClientSession(connector=connector(aiohttp, client_ssl)) as s:

        async def pieces() -> AsyncIterator[bytes]:
            for i in range(0, len(big), 100_000):
                yield big[i : i + 100_000]

        for data in (big, pieces()):
            async with s.post(origin.url + "/echo", data=data) as r:
                assert (await r.json())["body"] == big.decode("latin-1")
        async with s.post(origin.url + "/echo", data=b"z" * 5000, compress="deflate") as r:
            got = await r.json()
        assert dict(got["headers"])["content-encoding"] == "deflate"
        assert zlib.decompress(got["body"].encode("latin-1")) == b"z" * 5000


@pytest.mark.parametrize("tls", MODES)
async def test_reading_and_decompression(
    aiohttp: Any, hyper: Start, client_ssl: Any, tls: bool
) -> None:
    origin = await hyper(tls=tls)
    async with aiohttp.ClientSession(connector=connector(aiohttp, client_ssl)) as s:
        async with s.get(origin.url + "/big") as r:
            # The body is still arriving: its connection is there.
            assert r.connection is not None
            peer = r.connection.transport.get_extra_info("peername")
            assert peer[1] == int(origin.url.rsplit(":", 1)[1])
            got = b"".join([c async for c in r.content.iter_chunked(10000)])
            assert got == BIG
        async with s.get(origin.url + "/big") as r:
            assert await r.read() == BIG
        # read_until_eof=False: an HTTP/2 body without Content-Length is still read.
        async with s.get(origin.url + "/big", read_until_eof=False) as r:
            assert "Content-Length" not in r.headers
            assert await r.read() == BIG
        async with s.get(origin.url + "/gzip") as r:
            assert r.headers["Content-Encoding"] == "gzip"
            assert await r.text() == "hello h2 " * 100
        # Everything above went on one connection.
        assert len(origin.ports) == 1


async def test_redirects_between_h1_and_h2_origins(
    aiohttp: Any, hyper: Start, serve: Any, client_ssl: Any, session_kw: dict[str, Any]
) -> None:
    origin = await hyper(tls=True)

    async def go(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"{origin.url}/redirect?{request.url.origin()}/done")

    async def done(request: web.Request) -> web.Response:
        return web.Response(text=f"h1 {request.version.major}.{request.version.minor}")

    app = web.Application()
    app.router.add_get("/go", go)
    app.router.add_get("/done", done)
    h1 = await serve(app)
    conn = aiohttp.TCPConnector(http2=True, ssl=client_ssl)
    async with aiohttp.ClientSession(connector=conn, **session_kw) as s:
        async with s.get(h1 + "/go") as r:
            assert await r.text() == "h1 1.1"
            assert r.version == aiohttp.HttpVersion11
            assert [h.version for h in r.history] == [
                aiohttp.HttpVersion11,
                aiohttp.HttpVersion(2, 0),
            ]
            assert [h.status for h in r.history] == [302, 302]


async def test_cookies_and_raise_for_status(
    aiohttp: Any, hyper: Start, client_ssl: Any, session_kw: dict[str, Any]
) -> None:
    origin = await hyper(tls=True)
    conn = connector(aiohttp, client_ssl)
    jar = aiohttp.CookieJar(unsafe=True)  # 127.0.0.1 is an IP address
    kw = {"raise_for_status": True, "cookie_jar": jar, **session_kw}
    async with aiohttp.ClientSession(connector=conn, **kw) as s:
        async with s.get(origin.url + "/cookie") as r:
            assert r.cookies["h2c"].value == "yes"
        async with s.get(origin.url + "/echo", cookies={"own": "1"}) as r:
            cookie = dict((await r.json())["headers"])["cookie"]
            assert "h2c=yes" in cookie and "own=1" in cookie
        with pytest.raises(aiohttp.ClientResponseError) as e:
            await s.get(origin.url + "/status/418")
        # HTTP/2 has no reason phrase: the status' canonical one stands in.
        assert (e.value.status, e.value.message) == (418, "I'm a teapot")


async def _features(aiohttp: Any, s: Any, url: str) -> list[Any]:
    """What a series of request features gives back (compared across protocols)."""
    out: list[Any] = []
    async with s.get(url + "/echo", params={"a": "1", "b": "x y"}) as r:
        out.append(((await r.json())["query"], r.status))
    async with s.post(url + "/echo", json={"k": [1, 2]}) as r:
        got = await r.json()
        out.append((got["body"], dict(got["headers"])["content-type"]))
    async with s.head(url + "/echo") as r:
        out.append((r.status, await r.read(), r.headers["Content-Type"]))
    async with s.post(url + "/see-other", data=b"x") as r:
        got = await r.json()
        out.append((got["method"], got["body"], [h.status for h in r.history], str(r.url)[-5:]))
    async with s.get(url + "/redirect?/echo", allow_redirects=False) as r:
        out.append((r.status, r.headers["Location"]))
    with pytest.raises(aiohttp.TooManyRedirects) as e:
        await s.get(url + "/redirect?/redirect%3F/echo", max_redirects=1)
    out.append(len(e.value.history))
    async with s.get(url + "/gzip", auto_decompress=False) as r:
        out.append(gzip.decompress(await r.read()))
    async with s.get(url + "/big") as r:
        first = await r.content.read(1000)
        out.append((first, len(await r.content.readany()) > 0, r.content.at_eof()))
    async with s.get(url + "/status/204") as r:
        out.append((r.status, await r.read()))
    async with s.get(url + "/status/503") as r:
        out.append((r.status, r.ok, await r.text()))
    return out


async def test_the_same_answers_over_http11_and_http2(
    aiohttp: Any, hyper: Start, client_ssl: Any, session_kw: dict[str, Any]
) -> None:
    origin = await hyper(tls=True)
    got = {}
    for http2 in (False, True):
        conn = aiohttp.TCPConnector(http2=http2, ssl=client_ssl)
        async with aiohttp.ClientSession(connector=conn, **session_kw) as s:
            got[http2] = await _features(aiohttp, s, origin.url)
            async with s.get(origin.url + "/echo") as r:
                assert r.version == (aiohttp.HttpVersion(2, 0) if http2 else aiohttp.HttpVersion11)
    assert got[True] == got[False]


async def test_basic_and_digest_auth(aiohttp: Any, hyper: Start, client_ssl: Any) -> None:
    origin = await hyper(tls=True)
    conn = connector(aiohttp, client_ssl)
    async with aiohttp.ClientSession(connector=conn) as s:
        with pytest.warns(DeprecationWarning):  # aiohttp 3.14 deprecates auth=
            r = await s.get(origin.url + "/echo", auth=aiohttp.BasicAuth("u", "p"))
        async with r:
            assert dict((await r.json())["headers"])["authorization"] == "Basic dTpw"
    digest = aiohttp.DigestAuthMiddleware("u", "p")
    conn = connector(aiohttp, client_ssl)
    async with aiohttp.ClientSession(connector=conn, middlewares=(digest,)) as s:
        async with s.get(origin.url + "/digest") as r:
            assert r.status == 200 and r.version == aiohttp.HttpVersion(2, 0)
            sent = dict((await r.json())["headers"])["authorization"]
            assert sent.startswith("Digest ") and 'realm="r"' in sent


async def test_trace_signals_and_middleware_see_h2(
    aiohttp: Any, hyper: Start, client_ssl: Any
) -> None:
    origin = await hyper(tls=True)
    seen: list[str] = []
    tc = aiohttp.TraceConfig()

    async def on_create(*_: Any) -> None:
        seen.append("create")

    async def on_reuse(*_: Any) -> None:
        seen.append("reuse")

    tc.on_connection_create_end.append(on_create)
    tc.on_connection_reuseconn.append(on_reuse)
    versions: list[Any] = []

    async def mw(req: Any, handler: Any) -> Any:
        resp = await handler(req)
        versions.append(resp.version)
        return resp

    conn = connector(aiohttp, client_ssl)
    async with aiohttp.ClientSession(connector=conn, trace_configs=[tc], middlewares=(mw,)) as s:
        for _ in range(3):
            async with s.get(origin.url + "/echo") as r:
                await r.read()
    assert seen == ["create", "reuse", "reuse"]
    assert versions == [aiohttp.HttpVersion(2, 0)] * 3


async def test_websockets_stay_on_http11(aiohttp: Any, hyper: Start, client_ssl: Any) -> None:
    origin = await hyper(tls=True)
    async with aiohttp.ClientSession(connector=connector(aiohttp, client_ssl)) as s:
        async with s.get(origin.url + "/echo") as r:
            assert r.version == aiohttp.HttpVersion(2, 0)
        async with s.ws_connect(origin.url.replace("https", "wss") + "/ws") as ws:
            await ws.send_str("hi")
            assert await ws.receive_str() == "1.1:hi"


async def test_h2_through_a_connect_tunnel_and_h1_to_a_forward_proxy(
    aiohttp: Any, hyper: Start, client_ssl: Any
) -> None:
    from test_proxy import HttpProxy

    tls, plain = await hyper(tls=True), await hyper(tls=False)
    proxy = HttpProxy()
    url = await proxy.start()
    try:
        async with aiohttp.ClientSession(connector=connector(aiohttp, client_ssl)) as s:
            for _ in range(2):
                async with s.get(tls.url + "/echo", proxy=url) as r:
                    assert r.version == aiohttp.HttpVersion(2, 0)
                    assert (await r.json())["version"] == "2"
            # One tunnel, one HTTP/2 connection through it.
            assert [h.split(b" ", 1)[0] for h in proxy.heads] == [b"CONNECT"]
            # A forward proxy gets HTTP/1.1 requests in absolute-form, h2c or not.
            async with s.get(plain.url + "/echo", proxy=url) as r:
                assert (await r.json())["version"] == "1.1"
    finally:
        proxy.close()


async def test_version_10_sessions_stay_on_http1(
    aiohttp: Any, hyper: Start, client_ssl: Any
) -> None:
    origin = await hyper(tls=True)
    conn = connector(aiohttp, client_ssl)
    async with aiohttp.ClientSession(connector=conn, version=aiohttp.HttpVersion10) as s:
        async with s.get(origin.url + "/echo") as r:
            assert (await r.json())["version"] == "1.0"


async def test_force_close_opens_a_connection_per_request(
    aiohttp: Any, hyper: Start, client_ssl: Any
) -> None:
    origin = await hyper(tls=False)
    conn = connector(aiohttp, client_ssl, force_close=True)
    async with aiohttp.ClientSession(connector=conn) as s:
        for _ in range(3):
            async with s.get(origin.url + "/echo") as r:
                assert r.version == aiohttp.HttpVersion(2, 0)
                await r.read()
    assert len(origin.ports) == 3


@pytest.mark.parametrize("tls", MODES)
async def test_a_read_timeout_ends_only_its_stream(
    aiohttp: Any, hyper: Start, client_ssl: Any, tls: bool
) -> None:
    origin = await hyper(tls=tls)
    async with aiohttp.ClientSession(connector=connector(aiohttp, client_ssl)) as s:
        async with s.get(origin.url + "/echo") as r:
            first = (await r.json())["port"]
        with pytest.raises(aiohttp.ServerTimeoutError):
            await s.get(origin.url + "/slow", timeout=aiohttp.ClientTimeout(sock_read=0.2))
        with pytest.raises(asyncio.TimeoutError):
            await s.get(origin.url + "/slow", timeout=aiohttp.ClientTimeout(total=0.2))
        async with s.get(origin.url + "/echo") as r:
            assert (await r.json())["port"] == first


@pytest.mark.parametrize("tls", MODES)
async def test_64_concurrent_requests_share_one_connection(
    aiohttp: Any, hyper: Start, client_ssl: Any, tls: bool
) -> None:
    origin = await hyper(tls=tls)
    origin.target = 64
    async with aiohttp.ClientSession(connector=connector(aiohttp, client_ssl)) as s:

        async def one() -> int:
            async with s.get(origin.url + "/gather") as r:
                return int((await r.json())["port"])

        ports = await asyncio.gather(*(one() for _ in range(64)))
    # All 64 were in the server at once (the gather), on one connection.
    assert len(set(ports)) == 1 and origin.ports == set(ports)


async def test_max_concurrent_streams_opens_more_connections(
    aiohttp: Any, hyper: Start, client_ssl: Any
) -> None:
    origin = await hyper(tls=True, max_streams=10)
    origin.target = 64
    async with aiohttp.ClientSession(connector=connector(aiohttp, client_ssl)) as s:
        rs = await asyncio.gather(*(s.get(origin.url + "/gather") for _ in range(64)))
        for r in rs:
            await r.read()
    assert len(origin.ports) == 7  # 64 streams, 10 per connection


async def test_limit_counts_connections_not_streams(
    aiohttp: Any, hyper: Start, client_ssl: Any
) -> None:
    origin = await hyper(tls=True, max_streams=10)
    origin.target = 20
    conn = connector(aiohttp, client_ssl, limit=2)
    async with aiohttp.ClientSession(connector=conn) as s:
        rs = await asyncio.gather(*(s.get(origin.url + "/gather") for _ in range(30)))
        for r in rs:
            assert r.status == 200
            await r.read()
    # Two connections of 10 streams; the other 10 requests waited for a stream.
    assert len(origin.ports) == 2


# -- a raw HTTP/2 server (the h2 package) for the bad cases ------------------


@dataclass
class Raw:
    """What the raw server saw: connections opened and closed, streams
    reset by the client, requests per path."""

    url: str = ""
    opened: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    resets: list[int] = field(default_factory=list)
    reset_seen: asyncio.Event = field(default_factory=asyncio.Event)
    paths: list[str] = field(default_factory=list)
    hold_seen: asyncio.Event = field(default_factory=asyncio.Event)
    # SETTINGS_INITIAL_WINDOW_SIZE the server announces (0: no upload moves).
    window: int | None = None
    # Open with a SETTINGS frame no client may accept.
    bad_settings: bool = False
    # PINGs the server received (it answers them unless muted).
    pings: int = 0
    pinged: asyncio.Event = field(default_factory=asyncio.Event)


class RawConn:
    """One server connection: answers by path (see ``on_request``)."""

    def __init__(self, raw: Raw, first: bool) -> None:
        import h2.config
        import h2.connection

        self.raw, self.first = raw, first
        cfg = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self.h2 = h2.connection.H2Connection(config=cfg)
        self.goaway_waiting: list[int] = []
        self.goaway: int | None = None
        # Muted: the server reads on but processes nothing more (no PING
        # answered), as a peer gone without a FIN looks from the client.
        self.muted = False
        # Close the socket after this write (streams left open).
        self.hangup = False
        self.writer: asyncio.StreamWriter | None = None

    def ok(self, sid: int, body: bytes = b"ok") -> None:
        self.h2.send_headers(sid, [(":status", "200"), ("content-length", str(len(body)))])
        self.h2.send_data(sid, body, end_stream=True)

    def on_request(self, sid: int, path: str) -> None:
        from h2.errors import ErrorCodes

        self.raw.paths.append(path)
        if path == "/rst-head":
            self.h2.reset_stream(sid, ErrorCodes.INTERNAL_ERROR)
        elif path == "/refuse" and self.raw.paths.count(path) == 1:
            self.h2.reset_stream(sid, ErrorCodes.REFUSED_STREAM)
        elif path == "/rst-body":
            self.h2.send_headers(sid, [(":status", "200"), ("content-length", "100")])
            self.h2.send_data(sid, b"x" * 10)
            self.h2.reset_stream(sid, ErrorCodes.INTERNAL_ERROR)
        elif path == "/partial":
            self.h2.send_headers(sid, [(":status", "200"), ("content-length", "100")])
            self.h2.send_data(sid, b"x" * 10)
        elif path in ("/hold", "/upload"):
            self.raw.hold_seen.set()
        elif path == "/mute":
            self.muted = True
        elif path == "/mute-body":
            self.h2.send_headers(sid, [(":status", "200"), ("content-length", "100")])
            self.h2.send_data(sid, b"x" * 10)
            self.muted = True
        elif path == "/slow":
            asyncio.get_running_loop().call_later(1.0, self.answer_late, sid)
        elif path == "/bye":
            # The answer and a GOAWAY in one write; the connection stays open.
            self.ok(sid, b"bye")
            self.h2.close_connection(last_stream_id=sid)
        elif path == "/hangup":
            self.hangup = True
        elif path == "/goaway-mute" and self.first:
            # hypercorn at keep_alive_max_requests: a GOAWAY that covers
            # this stream, then nothing; the socket stays open.
            self.h2.close_connection(last_stream_id=sid)
            self.muted = True
        elif path == "/goaway" and self.first:
            # Two requests arrive; the second is left out by GOAWAY.
            self.goaway_waiting.append(sid)
            if len(self.goaway_waiting) == 2:
                low = min(self.goaway_waiting)
                self.goaway = low
        else:
            self.ok(sid)

    def answer_late(self, sid: int) -> None:
        if self.writer is not None and not self.writer.is_closing():
            self.ok(sid, b"slow")
            self.writer.write(self.h2.data_to_send())

    def write(self, writer: asyncio.StreamWriter) -> None:
        """What h2 has to send; a pending GOAWAY first (written by hand: h2
        sends nothing more after its own), then the stream below it."""
        from hyperframe.frame import GoAwayFrame

        writer.write(self.h2.data_to_send())
        if self.goaway is not None:
            writer.write(GoAwayFrame(0, last_stream_id=self.goaway).serialize())
            self.ok(self.goaway, b"before goaway")
            self.goaway = None
            writer.write(self.h2.data_to_send())

    async def run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import h2.events
        import h2.settings

        if self.raw.bad_settings:
            from hyperframe.frame import SettingsFrame

            # SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1: a FLOW_CONTROL_ERROR.
            writer.write(SettingsFrame(0, settings={0x4: 2**31}).serialize())
            await reader.read()
            return
        if self.raw.window is not None:
            values = {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: self.raw.window}
            self.h2.local_settings = h2.settings.Settings(client=False, initial_values=values)
        self.h2.initiate_connection()
        self.writer = writer
        writer.write(self.h2.data_to_send())
        while data := await reader.read(65536):
            if self.muted:
                continue
            for ev in self.h2.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    self.on_request(ev.stream_id, dict(ev.headers)[":path"])
                elif isinstance(ev, h2.events.StreamReset):
                    self.raw.resets.append(ev.stream_id)
                    self.raw.reset_seen.set()
                elif isinstance(ev, h2.events.PingReceived):
                    self.raw.pings += 1
                    self.raw.pinged.set()
            self.write(writer)
            await writer.drain()
            if self.hangup:
                return


@pytest.fixture
async def raw_h2() -> AsyncIterator[Raw]:
    raw = Raw()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raw.opened += 1
        try:
            await RawConn(raw, raw.opened == 1).run(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            raw.closed.set()
            writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    raw.url = f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}"
    yield raw
    srv.close()
    await srv.wait_closed()


def h2c(aiohttp: Any) -> Any:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(http2="prior_knowledge"))


async def test_an_idle_connection_closes_after_keepalive_timeout(aiohttp: Any, raw_h2: Raw) -> None:
    conn = aiohttp.TCPConnector(http2="prior_knowledge", keepalive_timeout=0.05)
    async with aiohttp.ClientSession(connector=conn) as s:
        async with s.get(raw_h2.url + "/ok") as r:
            assert await r.read() == b"ok"
        # The session stays open: the idle connection is closed by the pool.
        await asyncio.wait_for(raw_h2.closed.wait(), 10)


async def test_rst_stream_before_the_answer_is_a_disconnect(aiohttp: Any, raw_h2: Raw) -> None:
    async with h2c(aiohttp) as s:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await s.get(raw_h2.url + "/rst-head")
        # An idempotent request is tried once more on a new connection.
        assert raw_h2.paths == ["/rst-head", "/rst-head"]
        async with s.get(raw_h2.url + "/ok") as r:
            assert await r.read() == b"ok"


async def test_a_refused_stream_is_sent_again_whatever_its_method(
    aiohttp: Any, raw_h2: Raw
) -> None:
    # REFUSED_STREAM: the server did nothing with it (RFC 9113 8.7), so a
    # POST goes again too, once, on a new connection.
    async with h2c(aiohttp) as s:
        async with s.post(raw_h2.url + "/refuse", data=b"x") as r:
            assert r.status == 200 and await r.read() == b"ok"
    assert raw_h2.paths == ["/refuse", "/refuse"] and raw_h2.opened == 2


async def test_a_refused_stream_with_a_body_sent_once_only_fails(aiohttp: Any, raw_h2: Raw) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"x"

    async with h2c(aiohttp) as s:
        # A streamed body cannot be sent twice: the refusal is the answer.
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await s.post(raw_h2.url + "/refuse", data=body())
        # Other errors still retry idempotent methods only.
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await s.post(raw_h2.url + "/rst-head", data=b"x")
    assert raw_h2.paths == ["/refuse", "/rst-head"]


async def test_rst_stream_in_the_body_is_a_payload_error_others_go_on(
    aiohttp: Any, raw_h2: Raw
) -> None:
    async with h2c(aiohttp) as s:
        async with s.get(raw_h2.url + "/ok") as r:
            await r.read()
        async with s.get(raw_h2.url + "/rst-body") as r:
            assert r.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                await r.read()
        async with s.get(raw_h2.url + "/ok") as r:
            assert await r.read() == b"ok"
    assert raw_h2.opened == 1


async def test_goaway_retries_the_unprocessed_request_on_a_new_connection(
    aiohttp: Any, raw_h2: Raw
) -> None:
    async with h2c(aiohttp) as s:

        async def get() -> bytes:
            async with s.get(raw_h2.url + "/goaway") as r:
                return bytes(await r.read())

        got = await asyncio.gather(get(), get())
    assert sorted(got) == [b"before goaway", b"ok"]
    assert raw_h2.opened == 2


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_stream_its_goaway_covers_but_never_answered_ends(
    aiohttp: Any, raw_h2: Raw, method: str
) -> None:
    """A server that sends GOAWAY covering a stream, never answers it and
    keeps the socket open (hypercorn at keep_alive_max_requests) held the
    request, its stream and the socket for good (with no total timeout).
    After http2_ping_timeout of silence the connection ends: a POST fails as
    disconnected, a GET is sent again on a new connection."""
    conn = aiohttp.TCPConnector(http2="prior_knowledge", http2_ping_timeout=0.5)
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as s:
        url = raw_h2.url + "/goaway-mute"
        if method == "POST":
            with pytest.raises(aiohttp.ServerDisconnectedError):
                await asyncio.wait_for(s.post(url, data=b"x"), 10)
            await asyncio.wait_for(raw_h2.closed.wait(), 10)
            async with s.get(raw_h2.url + "/ok") as r:
                assert await r.read() == b"ok"
        else:
            async with await asyncio.wait_for(s.get(url), 10) as r:
                assert await r.read() == b"ok"
    assert raw_h2.opened == 2


async def test_a_server_that_hangs_up_on_an_open_stream_is_a_disconnect(
    aiohttp: Any, raw_h2: Raw
) -> None:
    """The connection closed with a POST's stream open (no GOAWAY, no
    RST_STREAM): ServerDisconnectedError, as over HTTP/1.1 (it was
    ClientOSError "stream closed because of a broken pipe")."""
    async with h2c(aiohttp) as s:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await asyncio.wait_for(s.post(raw_h2.url + "/hangup", data=b"x"), 10)
        async with s.get(raw_h2.url + "/ok") as r:
            assert await r.read() == b"ok"
    assert raw_h2.opened == 2


async def test_after_goaway_new_requests_go_on_a_new_connection(aiohttp: Any, raw_h2: Raw) -> None:
    async with h2c(aiohttp) as s:
        async with s.get(raw_h2.url + "/bye") as r:
            assert await r.read() == b"bye"
        # Not idempotent, so never retried: it must not go on the old connection.
        async with s.post(raw_h2.url + "/ok", data=b"x") as r:
            assert await r.read() == b"ok"
    assert raw_h2.opened == 2 and raw_h2.paths == ["/bye", "/ok"]


async def test_cancelling_one_request_resets_only_its_stream(aiohttp: Any, raw_h2: Raw) -> None:
    async with h2c(aiohttp) as s:
        held = asyncio.ensure_future(s.get(raw_h2.url + "/hold"))
        await asyncio.wait_for(raw_h2.hold_seen.wait(), 10)
        held.cancel()
        with pytest.raises(asyncio.CancelledError):
            await held
        await asyncio.wait_for(raw_h2.reset_seen.wait(), 10)
        assert raw_h2.resets == [1]
        async with s.get(raw_h2.url + "/ok") as r:
            assert await r.read() == b"ok"
        assert raw_h2.opened == 1 and not raw_h2.closed.is_set()
    # Closing the session closes its HTTP/2 connection at once.
    await asyncio.wait_for(raw_h2.closed.wait(), 10)


async def test_closing_the_session_closes_a_connection_mid_body(aiohttp: Any, raw_h2: Raw) -> None:
    s = h2c(aiohttp)
    r = await s.get(raw_h2.url + "/partial")
    assert r.status == 200
    await s.close()
    await asyncio.wait_for(raw_h2.closed.wait(), 10)
    # As over HTTP/1.1 (and in aiohttp): reading after the session closed.
    with pytest.raises(RuntimeError):
        await r.read()


async def test_a_stalled_upload_times_out_alone(aiohttp: Any, raw_h2: Raw) -> None:
    raw_h2.window = 0  # the server never lets the body move
    async with h2c(aiohttp) as s:
        with pytest.raises(asyncio.TimeoutError):
            timeout = aiohttp.ClientTimeout(total=0.3)
            await s.post(raw_h2.url + "/upload", data=b"u" * 100_000, timeout=timeout)
        async with s.get(raw_h2.url + "/ok") as r:
            assert await r.read() == b"ok"
    assert raw_h2.opened == 1


def pinging(aiohttp: Any, interval: float | None = 0.2) -> Any:
    """A session whose HTTP/2 connections PING after ``interval`` seconds
    without a frame and give up 2 s later (room for a loaded machine)."""
    conn = aiohttp.TCPConnector(
        http2="prior_knowledge", http2_ping_interval=interval, http2_ping_timeout=2.0
    )
    return aiohttp.ClientSession(connector=conn)


async def test_ping_settings_are_checked(aiohttp: Any, monkeypatch: Any) -> None:
    # A refused connector is collected without an error in its __del__.
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    for bad in (
        {"http2_ping_interval": 0},
        {"http2_ping_interval": -1.0},
        {"http2_ping_timeout": 0},
        {"http2_ping_timeout": float("nan")},
    ):
        with pytest.raises(ValueError, match="http2_ping"):
            aiohttp.TCPConnector(http2=True, **bad)
    gc.collect()
    assert unraisable == []
    # A refused connector with hooks does not keep the loop's bridge open.
    from aioxide._bridge import bridge_for

    class Resolver:
        async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[Any]:
            return []

        async def close(self) -> None:
            pass

    lb = bridge_for(asyncio.get_running_loop())
    users = lb.users
    with pytest.raises(ValueError, match="http2_ping"):
        aiohttp.TCPConnector(resolver=Resolver(), http2_ping_interval=0)
    assert lb.users == users
    # Off by default (its cost: see COMPATIBILITY); 20 s for the answer.
    sig = inspect.signature(aiohttp.TCPConnector)
    assert sig.parameters["http2_ping_interval"].default is None
    assert sig.parameters["http2_ping_timeout"].default == 20.0


async def test_an_unanswered_ping_fails_the_request_and_drops_the_connection(
    aiohttp: Any, raw_h2: Raw
) -> None:
    async with pinging(aiohttp) as s:
        # The server takes the request, then answers nothing, PING neither.
        # (The message is aiohttp's plain "Server disconnected"; the control
        # test below shows that the PING is what ends the request.)
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await asyncio.wait_for(s.post(raw_h2.url + "/mute", data=b"x"), 10)
        await asyncio.wait_for(raw_h2.closed.wait(), 10)
        # The pool dropped it: the next request opens a new connection.
        async with s.get(raw_h2.url + "/ok") as r:
            assert await r.read() == b"ok"
    assert raw_h2.opened == 2 and raw_h2.paths == ["/mute", "/ok"]


async def test_an_unanswered_ping_in_a_body_is_a_payload_error(aiohttp: Any, raw_h2: Raw) -> None:
    async with pinging(aiohttp) as s:
        async with s.get(raw_h2.url + "/mute-body") as r:
            assert r.status == 200
            # Without the PING, this read would wait for the timeout.
            with pytest.raises(aiohttp.ClientPayloadError):
                await asyncio.wait_for(r.read(), 10)


async def test_without_pings_a_mute_server_holds_the_request(aiohttp: Any, raw_h2: Raw) -> None:
    # The control for the test above: what ends it there is the PING.
    async with pinging(aiohttp, interval=None) as s:
        with pytest.raises(asyncio.TimeoutError):
            # (Longer than the PING's 0.2 + 2 s above.)
            await s.post(raw_h2.url + "/mute", data=b"x", timeout=aiohttp.ClientTimeout(total=3))
    assert raw_h2.pings == 0


async def test_answered_pings_keep_slow_and_idle_connections(aiohttp: Any, raw_h2: Raw) -> None:
    async with pinging(aiohttp) as s:
        # Answered 1 s later: the server answers the PINGs sent meanwhile.
        async with s.get(raw_h2.url + "/slow") as r:
            assert await r.read() == b"slow"
        assert raw_h2.pings >= 1
        # Idle in the pool, it is checked too, and stays.
        raw_h2.pinged.clear()
        await asyncio.wait_for(raw_h2.pinged.wait(), 10)
        async with s.get(raw_h2.url + "/ok") as r:
            assert await r.read() == b"ok"
    assert raw_h2.opened == 1


async def test_bad_settings_fail_the_request_clearly(aiohttp: Any, raw_h2: Raw) -> None:
    raw_h2.bad_settings = True
    async with h2c(aiohttp) as s:
        # The connection is gone before any answer (the client sent GOAWAY).
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await s.get(raw_h2.url + "/ok")
        assert raw_h2.opened == 2  # tried once more, on a new connection


# -- nginx (Debian's 1.22: `listen ... ssl http2`), when installed ----------

NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format conns "$connection $server_protocol $status";
    access_log {d}/access.log conns;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    # A connection serves 50 requests, then nginx ends it with GOAWAY.
    keepalive_requests 50;
    server {{
        listen 127.0.0.1:{tls} ssl http2;
        listen 127.0.0.1:{plain} http2;
        ssl_certificate {d}/chain.pem;
        ssl_certificate_key {d}/key.pem;
        root {d}/www;
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def nginx(ca: trustme.CA, tmp_path: Any) -> AsyncIterator[tuple[str, str, Any]]:
    """nginx with HTTP/2 over TLS and h2c: (https URL, http URL, access log path)."""
    exe = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None
    )
    if exe is None:
        pytest.skip("nginx is not installed")
    cert = ca.issue_cert("127.0.0.1")
    (tmp_path / "chain.pem").write_bytes(b"".join(p.bytes() for p in cert.cert_chain_pems))
    (tmp_path / "key.pem").write_bytes(cert.private_key_pem.bytes())
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "small").write_bytes(b"s" * 100)
    (tmp_path / "www" / "1m").write_bytes(BIG)
    tls, plain = _free_port(), _free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(d=tmp_path, tls=tls, plain=plain))
    proc = subprocess.Popen(
        [exe, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)]
    )
    try:
        for _ in range(200):
            try:
                _, w = await asyncio.open_connection("127.0.0.1", plain)
                w.close()
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "error.log").read_text()
                await asyncio.sleep(0.02)
        yield f"https://127.0.0.1:{tls}", f"http://127.0.0.1:{plain}", tmp_path / "access.log"
    finally:
        proc.terminate()
        proc.wait(10)


def _log(path: Any) -> list[tuple[str, str, str]]:
    return [tuple(line.split()) for line in path.read_text().splitlines()]  # type: ignore[misc]


@pytest.mark.parametrize("tls", MODES)
async def test_nginx_many_requests_across_goaways(
    aiohttp: Any, nginx: tuple[str, str, Any], client_ssl: Any, tls: bool
) -> None:
    base = nginx[0] if tls else nginx[1]
    async with aiohttp.ClientSession(connector=connector(aiohttp, client_ssl)) as s:

        async def get(path: str) -> int:
            async with s.get(base + path) as r:
                assert r.version == aiohttp.HttpVersion(2, 0)
                return len(await r.read())

        for _ in range(3):  # 3 x 64 requests, 50 per connection
            sizes = await asyncio.gather(*(get("/small") for _ in range(64)))
            assert sizes == [100] * 64
        assert await asyncio.gather(*(get("/1m") for _ in range(8))) == [len(BIG)] * 8
    log = _log(nginx[2])
    assert {(proto, status) for _, proto, status in log} == {("HTTP/2.0", "200")}
    per_conn: dict[str, int] = {}
    for conn, _, _ in log:
        per_conn[conn] = per_conn.get(conn, 0) + 1
    # nginx ended connections after 50 requests; the rest went on new ones.
    assert len(log) == 3 * 64 + 8 and max(per_conn.values()) <= 50
    assert len(per_conn) >= 4


def _sockets_and_threads() -> tuple[set[str], int]:
    """This process's open sockets and its native threads."""
    socks = set()
    for f in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{f}")
        except OSError:  # closed meanwhile (the listing's own fd)
            continue
        if link.startswith("socket:"):
            socks.add(link)
    return socks, len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
async def test_no_socket_or_thread_left_after_the_session_closes(
    aiohttp: Any, nginx: tuple[str, str, Any], raw_h2: Raw, client_ssl: Any
) -> None:
    # (The loop's bridge keeps its eventfd until the loop closes, as over
    # HTTP/1.1: tests/test_cancellation.py checks that.)
    before = _sockets_and_threads()
    async with aiohttp.ClientSession(connector=connector(aiohttp, client_ssl)) as s:
        for base in nginx[:2]:
            rs = await asyncio.gather(*(s.get(base + "/small") for _ in range(70)))
            for r in rs:
                await r.read()
            async with s.get(base + "/1m") as r:  # released unread: its stream is reset
                assert r.status == 200
        with pytest.raises(asyncio.TimeoutError):  # cancelled mid-body
            async with s.get(raw_h2.url + "/partial") as r:
                await asyncio.wait_for(r.read(), 0.05)
        with pytest.raises(aiohttp.ClientConnectionError):  # refused: nothing opened
            await s.get(f"http://127.0.0.1:{_free_port()}/")

    def left() -> tuple[set[str], int]:
        """Sockets and threads more than before (what an earlier test left
        may end meanwhile: only new ones count)."""
        socks, threads = _sockets_and_threads()
        return socks - before[0], max(0, threads - before[1])

    for _ in range(100):  # bounded: the engine thread ends once the session closed
        if left() == (set(), 0):
            break
        await asyncio.sleep(0.05)
    assert left() == (set(), 0)


# --------------------------------------------------------------------------- the suite's h2 front
# tests/h2front.py puts serve() apps behind HTTP/2 when AIOXIDE_TEST_PROTO=h2
# (make test runs H2_SUITE so); these check the front itself in every mode.


def _front_app() -> web.Application:
    async def echo(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"X-Method": request.method})
        resp.set_cookie("a", "1")
        resp.set_cookie("b", "2")
        await resp.prepare(request)
        async for piece in request.content.iter_any():  # streamed back as it comes
            await resp.write(piece)
        return resp

    async def truncated(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Length": "100000"})
        await resp.prepare(request)
        await resp.write(b"x" * 10)
        request.transport.close()  # type: ignore[union-attr]
        return resp

    app = web.Application()
    app.router.add_post("/echo", echo)
    app.router.add_get("/truncated", truncated)
    return app


async def _through_the_front(aiohttp: Any) -> None:
    from h2front import H2Front

    runner = web.AppRunner(_front_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    front = H2Front("127.0.0.1", site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    url = await front.start()
    body = bytes(range(256)) * 12288  # 3 MiB: past every initial window

    async def gen() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 100_000):
            yield body[i : i + 100_000]

    try:
        conn = aiohttp.TCPConnector(http2="prior_knowledge")
        async with aiohttp.ClientSession(connector=conn) as s:
            async with s.post(url + "/echo", data=gen()) as r:
                assert r.version == aiohttp.HttpVersion(2, 0)
                assert await r.read() == body
                assert (b"x-method", b"POST") in r.raw_headers
                assert not {b"transfer-encoding", b"connection"} & {k for k, _ in r.raw_headers}
                assert {c.key for c in r.cookies.values()} == {"a", "b"}
            with pytest.raises(aiohttp.ClientPayloadError):
                async with s.get(url + "/truncated") as r:
                    await r.read()
        assert front.streams_relayed == 2
    finally:
        await front.close()
        await runner.cleanup()


async def test_the_suites_h2_front_relays_streams_both_ways(aiohttp: Any) -> None:
    await asyncio.wait_for(_through_the_front(aiohttp), 30)


def test_the_suites_h2_front_on_uvloop(aiohttp: Any) -> None:
    uvloop = pytest.importorskip("uvloop")
    loop = uvloop.new_event_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(_through_the_front(aiohttp), 30))
    finally:
        loop.close()


@pytest.mark.parametrize("proto", ["h1", "h2"])
async def test_an_upload_answered_before_its_end_is_sent_whole(aiohttp: Any, proto: str) -> None:
    # The server answers at once and streams the upload back as it reads it:
    # the answer's head arrives long before the body's end.  The body was cut
    # short there (ended as if complete: chunked's last chunk, END_STREAM).
    from h2front import H2Front

    seen: dict[str, Any] = {}

    async def echo(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        n = 0
        async for piece in request.content.iter_any():
            n += len(piece)
            await resp.write(piece)
        seen["n"] = n
        return resp

    app = web.Application()
    app.router.add_post("/", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    front = H2Front("127.0.0.1", port)
    url = await front.start() if proto == "h2" else f"http://127.0.0.1:{port}"
    body = os.urandom(2**20) * 16

    async def gen() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 2**16):
            yield body[i : i + 2**16]

    try:
        conn = aiohttp.TCPConnector(http2="prior_knowledge" if proto == "h2" else False)
        async with aiohttp.ClientSession(connector=conn) as s:
            async with s.post(url + "/", data=gen()) as r:
                assert r.version == (aiohttp.HttpVersion(2, 0) if proto == "h2" else (1, 1))
                got = await asyncio.wait_for(r.read(), 30)
        assert len(got) == seen["n"] == len(body)
        assert got == body
    finally:
        await front.close()
        await runner.cleanup()


async def test_answers_gathered_then_read_one_by_one(aiohttp: Any) -> None:
    from h2front import H2Front

    size = 4 * 2**20

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=bytes(size))

    app = web.Application()
    app.router.add_get("/", big)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    front = H2Front("127.0.0.1", site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    url = await front.start()
    try:
        conn = aiohttp.TCPConnector(http2="prior_knowledge")
        async with aiohttp.ClientSession(connector=conn) as s:
            rs = await asyncio.gather(*(s.get(url + "/") for _ in range(5)))
            # aiohttp's users do this; fine on HTTP/1.1. With hyper's 5 MB
            # connection window the first read starved (pool/h2.rs: 1 GiB).
            for r in rs:
                assert len(await asyncio.wait_for(r.read(), 5)) == size
    finally:
        await front.close()
        await runner.cleanup()


# -- bodies read whole while others arrive on the same connection ------------


class Scripted:
    """An h2c server the test drives frame by frame: requests arrive in
    ``requests`` as (stream id, path); ``head`` and ``data`` send at once."""

    def __init__(self) -> None:
        self.requests: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
        self.conn: Any = None
        self.writer: asyncio.StreamWriter | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import h2.config
        import h2.connection
        import h2.events

        cfg = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self.conn, self.writer = h2.connection.H2Connection(config=cfg), writer
        self.conn.initiate_connection()
        writer.write(self.conn.data_to_send())
        try:
            while data := await reader.read(65536):
                for ev in self.conn.receive_data(data):
                    if isinstance(ev, h2.events.RequestReceived):
                        self.requests.put_nowait((ev.stream_id, dict(ev.headers)[":path"]))
                writer.write(self.conn.data_to_send())
        except ConnectionError:
            pass
        finally:
            writer.close()

    def head(self, sid: int, length: int) -> None:
        self.conn.send_headers(sid, [(":status", "200"), ("content-length", str(length))])
        self._flush()

    def data(self, sid: int, data: bytes, end: bool = False) -> None:
        for at in range(0, len(data), 16384):
            self.conn.send_data(sid, data[at : at + 16384])
        if end:
            self.conn.send_data(sid, b"", end_stream=True)
        self._flush()

    def _flush(self) -> None:
        assert self.writer is not None
        self.writer.write(self.conn.data_to_send())


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[Scripted, str]]:
    srv = Scripted()
    server = await asyncio.start_server(srv.handle, "127.0.0.1", 0)
    yield srv, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    server.close()
    await server.wait_closed()


# Two bodies of a known length within the stream's first window.
N = 48_000
A_BODY, B_BODY = os.urandom(N), os.urandom(N)


async def _two_started(aiohttp: Any, s: Any, srv: Scripted, url: str, b_sent: int) -> Any:
    """/a and /b answered on one connection with their first bytes (and
    ``b_sent`` of B's); then read() of A started before B's, so that A's
    reads into the one bytes object sized in advance and B's waits."""
    ta = asyncio.ensure_future(s.get(url + "/a"))
    tb = asyncio.ensure_future(s.get(url + "/b"))
    sid = {}
    for _ in range(2):
        n, path = await asyncio.wait_for(srv.requests.get(), 5)
        sid[path] = n
    srv.head(sid["/a"], N)
    srv.data(sid["/a"], A_BODY[:1000])
    srv.head(sid["/b"], N)
    srv.data(sid["/b"], B_BODY[:b_sent])
    ra, rb = await asyncio.wait_for(asyncio.gather(ta, tb), 5)
    assert ra.version == rb.version == aiohttp.HttpVersion(2, 0)
    return sid, await _started(ra.read()), rb


async def _started(coro: Any) -> Any:
    """``coro`` as a task, run until it waits."""
    task = asyncio.ensure_future(coro)
    for _ in range(5):
        await asyncio.sleep(0)
    return task


async def _a_ends(srv: Scripted, sid: dict[str, int], read_a: Any) -> None:
    """The rest of A: its read is delivered (and the next buffer handed on)."""
    srv.data(sid["/a"], A_BODY[1000:], end=True)
    assert await asyncio.wait_for(read_a, 5) == A_BODY


@pytest.mark.parametrize("sent", [1000, N], ids=["the-rest-after", "only-its-end-after"])
async def test_a_body_waiting_for_a_whole_buffer_takes_the_next_one(
    aiohttp: Any, scripted: tuple[Scripted, str], sent: int
) -> None:
    # HTTP/2 bodies arrive interleaved: the one read whole is handed on,
    # when it is delivered, to the next still arriving, which copies what
    # it holds into it and reads the rest into it (or takes it as it ends,
    # when all of it had come).
    srv, url = scripted
    handed, taken = aiohttp._aioxide.whole_handed_on()
    async with h2c(aiohttp) as s:
        sid, read_a, rb = await _two_started(aiohttp, s, srv, url, sent)
        read_b = await _started(rb.read())
        await _a_ends(srv, sid, read_a)
        assert aiohttp._aioxide.whole_handed_on() == (handed + 1, taken)
        srv.data(sid["/b"], B_BODY[sent:20_000])
        srv.data(sid["/b"], B_BODY[max(sent, 20_000) :], end=True)
        assert await asyncio.wait_for(read_b, 5) == B_BODY
    assert aiohttp._aioxide.whole_handed_on() == (handed + 1, taken + 1)


async def test_a_cancelled_waiting_read_then_read_in_pieces_loses_nothing(
    aiohttp: Any, scripted: tuple[Scripted, str]
) -> None:
    # B's read of the whole rest is cancelled while it waits (none of B
    # has come yet); it is still handed the buffer, but a read of a piece
    # follows: the buffer is not taken, and every byte comes in order.
    srv, url = scripted
    handed, taken = aiohttp._aioxide.whole_handed_on()
    async with h2c(aiohttp) as s:
        sid, read_a, rb = await _two_started(aiohttp, s, srv, url, 0)
        # (content.read(): a cancelled ClientResponse.read() closes it.)
        read_b = await _started(rb.content.read())
        read_b.cancel()
        with pytest.raises(asyncio.CancelledError):
            await read_b
        await _a_ends(srv, sid, read_a)
        assert aiohttp._aioxide.whole_handed_on() == (handed + 1, taken)
        # A read of a piece asks for less before the rest arrives.
        first = await _started(rb.content.read(4096))
        srv.data(sid["/b"], B_BODY, end=True)
        got = await asyncio.wait_for(first, 5)
        for _ in range(N):
            piece = await asyncio.wait_for(rb.content.read(4096), 5)
            if not piece:
                break
            got += piece
        assert got == B_BODY
    assert aiohttp._aioxide.whole_handed_on() == (handed + 1, taken)
