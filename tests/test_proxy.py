"""Proxies: ``proxy=`` / ``proxy_auth=`` / ``proxy_headers=`` on requests and
sessions, HTTP targets in absolute-form, HTTPS targets through CONNECT, the
proxy's errors, ``trust_env=True`` (HTTP_PROXY, NO_PROXY, .netrc), and SOCKS
(aioxide only: aiohttp has none).  The HTTP proxy is a small asyncio one written
here (it records what it gets); SOCKS is pproxy's.  Both targets run every test
aiohttp has the behaviour for."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from typing import Any, AsyncIterator, Callable

import pytest
from aiohttp import web

from conftest import TARGET, self_signed_cert

AIOXIDE = TARGET == "aioxide"


class HttpProxy:
    """A forward proxy: absolute-form requests are relayed to their origin, a
    CONNECT opens a tunnel; ``require`` is the Proxy-Authorization wanted (407
    otherwise).  Records every request head it gets."""

    def __init__(self, require: str | None = None) -> None:
        self.require = require
        self.heads: list[bytes] = []
        self.server: asyncio.AbstractServer | None = None
        self.tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        # Python 3.9's start_server keeps no reference to the task it runs
        # this in (3.10+ keeps it: StreamReaderProtocol._task).  While it
        # waits on the origin's reader, which that connection's protocol holds
        # only weakly, nothing reaches the task: a garbage collection then
        # destroys it mid-request and the client waits for an answer that
        # never comes.  Hold it here.
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            await self._handle(r, w)
        finally:
            self.tasks.discard(task)

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 5)
        except (asyncio.IncompleteReadError, asyncio.TimeoutError):
            w.close()
            return
        self.heads.append(head)
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        fields = {
            k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)
        }
        if self.require is not None and fields.get("proxy-authorization") != self.require:
            w.write(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="p"\r\nContent-Length: 0\r\n\r\n'
            )
            await w.drain()
            w.close()
            return
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            ur, uw = await asyncio.open_connection(host, int(port))
            w.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await w.drain()
            await asyncio.gather(_pipe(r, uw), _pipe(ur, w))
            return
        # Absolute-form: relay this one request on a new connection.
        url = target.split("://", 1)[1]
        hostport, _, path = url.partition("/")
        host, port = hostport.rsplit(":", 1)
        ur, uw = await asyncio.open_connection(host, int(port))
        if "upgrade" in fields:
            # An upgrade (a WebSocket): relay the head as it is, then both ways.
            out = [f"{method} /{path} HTTP/1.1"] + [
                x for x in lines[1:] if x and not x.lower().startswith("proxy-")
            ]
            uw.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
            await asyncio.gather(_pipe(r, uw), _pipe(ur, w))
            return
        out = [f"{method} /{path} HTTP/1.1"] + [
            x for x in lines[1:] if x and not x.lower().startswith(("proxy-", "connection:"))
        ]
        uw.write(("\r\n".join(out) + "\r\nConnection: close\r\n\r\n").encode("latin-1"))
        await uw.drain()
        data = await ur.read()
        w.write(
            data.replace(b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 200 OK\r\nConnection: close\r\n", 1)
        )
        await w.drain()
        w.close()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def _pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    try:
        while data := await r.read(65536):
            w.write(data)
            await w.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            w.close()


@pytest.fixture
async def http_proxy() -> AsyncIterator[Callable[..., Any]]:
    proxies: list[HttpProxy] = []

    async def start(require: str | None = None) -> tuple[HttpProxy, str]:
        p = HttpProxy(require)
        proxies.append(p)
        return p, await p.start()

    yield start
    for p in proxies:
        p.close()


@pytest.fixture
async def origin(serve: Any) -> str:
    async def hello(request: web.Request) -> web.Response:
        seen = request.headers.get("Proxy-Authorization", "-")
        return web.Response(text=f"hello {request.path} {seen}")

    app = web.Application()
    app.router.add_get("/{tail:.*}", hello)
    return str(await serve(app))


@pytest.fixture
async def tls_origin(serve: Any) -> str:
    cert, key = self_signed_cert("127.0.0.1", True)
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        with open(f"{d}/c.pem", "wb") as f:
            f.write(cert + key)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(f"{d}/c.pem")

    async def hello(request: web.Request) -> web.Response:
        seen = request.headers.get("Proxy-Authorization", "-")
        return web.Response(text=f"secure {request.path} {seen}")

    app = web.Application()
    app.router.add_get("/{tail:.*}", hello)
    return str(await serve(app, ssl_context=ctx))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_http_target_goes_in_absolute_form(
    aiohttp: Any, http_proxy: Any, origin: str
) -> None:
    p, purl = await http_proxy(require=basic("u", "pw"))
    async with aiohttp.ClientSession() as s:
        with pytest.warns(DeprecationWarning):
            async with s.get(
                origin + "/x?q=1", proxy=purl, proxy_auth=aiohttp.BasicAuth("u", "pw")
            ) as r:
                assert r.status == 200
                assert await r.text() == "hello /x -"
    assert p.heads[0].startswith(f"GET {origin}/x?q=1 HTTP/1.1\r\n".encode())
    assert b"Proxy-Authorization: " + basic("u", "pw").encode() in p.heads[0]


async def test_credentials_in_the_proxy_url(aiohttp: Any, http_proxy: Any, origin: str) -> None:
    p, purl = await http_proxy(require=basic("user", "p@ss"))
    url = purl.replace("http://", "http://user:p%40ss@")
    async with aiohttp.ClientSession() as s:
        async with s.get(origin + "/c", proxy=url) as r:
            assert await r.text() == "hello /c -"


async def test_https_target_goes_through_connect(
    aiohttp: Any, http_proxy: Any, tls_origin: str
) -> None:
    p, purl = await http_proxy(require=basic("u", "pw"))
    headers = {"Proxy-Authorization": basic("u", "pw")}
    async with aiohttp.ClientSession() as s:
        for path in ("/a", "/b"):
            async with s.get(tls_origin + path, proxy=purl, proxy_headers=headers, ssl=False) as r:
                # The origin never sees the proxy's credentials.
                assert await r.text() == f"secure {path} -"
    host = tls_origin.split("://", 1)[1]
    assert p.heads[0].startswith(f"CONNECT {host} HTTP/1.1\r\n".encode())
    assert len(p.heads) == 1, "the tunnelled connection is reused"


async def test_session_proxy_applies_to_every_request(
    aiohttp: Any, http_proxy: Any, origin: str
) -> None:
    p, purl = await http_proxy()
    async with aiohttp.ClientSession(proxy=purl) as s:
        for path in ("/1", "/2"):
            async with s.get(origin + path) as r:
                assert await r.text() == f"hello {path} -"
    assert len(p.heads) == 2


async def test_proxy_refusing_connect_is_http_proxy_error(
    aiohttp: Any, http_proxy: Any, tls_origin: str
) -> None:
    _, purl = await http_proxy(require="Basic nope")
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientHttpProxyError) as ei:
            await s.get(tls_origin + "/", proxy=purl, ssl=False)
    assert ei.value.status == 407
    assert ei.value.message == "Proxy Authentication Required"
    assert isinstance(ei.value, aiohttp.ClientResponseError)


async def test_unreachable_proxy(aiohttp: Any, unused_port: int, origin: str) -> None:
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientProxyConnectionError) as ei:
            await s.get(origin + "/", proxy=f"http://127.0.0.1:{unused_port}")
    assert isinstance(ei.value, aiohttp.ClientConnectorError)
    assert ei.value.port == unused_port


async def test_bad_proxy_values(aiohttp: Any, origin: str) -> None:
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.InvalidURL):
            await s.get(origin + "/", proxy="http://[bad")
        with pytest.raises(TypeError):
            await s.get(origin + "/", proxy=5)


async def test_trust_env_http_proxy_and_no_proxy(
    aiohttp: Any, http_proxy: Any, origin: str, monkeypatch: Any, tmp_path: Any
) -> None:
    p, purl = await http_proxy()
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    for name in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", purl)
    async with aiohttp.ClientSession(trust_env=True) as s:
        async with s.get(origin + "/env") as r:
            assert await r.text() == "hello /env -"
        assert len(p.heads) == 1
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with s.get(origin + "/direct") as r:
            assert await r.text() == "hello /direct -"
        assert len(p.heads) == 1, "NO_PROXY: straight to the origin"
    async with aiohttp.ClientSession() as s:  # trust_env off: the environment is ignored
        monkeypatch.delenv("NO_PROXY")
        async with s.get(origin + "/off") as r:
            assert await r.text() == "hello /off -"
    assert len(p.heads) == 1


async def test_trust_env_netrc_gives_origin_auth(
    aiohttp: Any, serve: Any, monkeypatch: Any, tmp_path: Any
) -> None:
    async def who(request: web.Request) -> web.Response:
        return web.Response(text=request.headers.get("Authorization", "-"))

    app = web.Application()
    app.router.add_get("/", who)
    base = str(await serve(app))
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login alice password s3cret\n")
    monkeypatch.setenv("NETRC", str(netrc))
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    async with aiohttp.ClientSession(trust_env=True) as s:
        async with s.get(base + "/") as r:
            assert await r.text() == basic("alice", "s3cret")
        with pytest.warns(DeprecationWarning):
            async with s.get(base + "/", auth=aiohttp.BasicAuth("bob", "x")) as r:
                assert await r.text() == basic("bob", "x"), "explicit auth wins"
    async with aiohttp.ClientSession() as s:
        async with s.get(base + "/") as r:
            assert await r.text() == "-"


@pytest.fixture
async def socks_proxy() -> AsyncIterator[Callable[[str], Any]]:
    import pproxy

    servers: list[Any] = []

    async def start(spec: str) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        server = pproxy.Server(spec.format(port=port))
        servers.append(await server.start_server({"rserver": [], "verbose": lambda *a: None}))
        return port

    yield start
    for s in servers:
        s.close()


@pytest.mark.skipif(not AIOXIDE, reason="aiohttp has no SOCKS proxies (aiohttp-socks adds them)")
@pytest.mark.parametrize("scheme", ["socks4", "socks4a", "socks5", "socks5h"])
async def test_socks_proxies(
    aiohttp: Any, socks_proxy: Any, origin: str, tls_origin: str, scheme: str
) -> None:
    port = await socks_proxy("socks4+socks5://127.0.0.1:{port}")
    async with aiohttp.ClientSession() as s:
        async with s.get(origin + "/s", proxy=f"{scheme}://127.0.0.1:{port}") as r:
            assert await r.text() == "hello /s -"
        async with s.get(tls_origin + "/t", proxy=f"{scheme}://127.0.0.1:{port}", ssl=False) as r:
            assert await r.text() == "secure /t -"


@pytest.mark.skipif(not AIOXIDE, reason="aiohttp has no SOCKS proxies (aiohttp-socks adds them)")
async def test_socks5_with_credentials(aiohttp: Any, socks_proxy: Any, origin: str) -> None:
    port = await socks_proxy("socks5://127.0.0.1:{port}#alice:s3cret")
    async with aiohttp.ClientSession() as s:
        # (Refused first: pproxy lets an address in without asking again once
        # it has authenticated.)
        with pytest.raises(aiohttp.ClientProxyConnectionError) as ei:
            await s.get(origin + "/a", proxy=f"socks5://alice:wrong@127.0.0.1:{port}")
        assert "SOCKS" in str(ei.value)
        async with s.get(origin + "/a", proxy=f"socks5://alice:s3cret@127.0.0.1:{port}") as r:
            assert await r.text() == "hello /a -"


@pytest.mark.skipif(not AIOXIDE, reason="aiohttp-socks' ProxyConnector is not aiohttp's")
async def test_aiohttp_socks_proxy_connector_drop_in(
    aiohttp: Any, socks_proxy: Any, origin: str
) -> None:
    port = await socks_proxy("socks5://127.0.0.1:{port}")
    connector = aiohttp.ProxyConnector.from_url(f"socks5://127.0.0.1:{port}", rdns=True)
    assert connector.proxy_url.startswith("socks5h://")
    async with aiohttp.ClientSession(connector=connector) as s:
        async with s.get(origin + "/d") as r:
            assert await r.text() == "hello /d -"


@pytest.fixture
async def https_proxy(http_proxy: Any) -> AsyncIterator[tuple[HttpProxy, str]]:
    """The same proxy, reached over TLS (a self-signed certificate)."""
    import tempfile

    cert, key = self_signed_cert("127.0.0.1", True)
    with tempfile.TemporaryDirectory() as d:
        with open(f"{d}/c.pem", "wb") as f:
            f.write(cert + key)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(f"{d}/c.pem")
    p = HttpProxy()
    p.server = await asyncio.start_server(p.handle, "127.0.0.1", 0, ssl=ctx)
    port = p.server.sockets[0].getsockname()[1]
    yield p, f"https://127.0.0.1:{port}"
    p.close()


async def test_https_proxy_tls_in_tls(
    aiohttp: Any, https_proxy: Any, origin: str, tls_origin: str
) -> None:
    p, purl = https_proxy
    async with aiohttp.ClientSession() as s:
        async with s.get(tls_origin + "/tt", proxy=purl, ssl=False) as r:
            assert await r.text() == "secure /tt -"
        async with s.get(origin + "/fw", proxy=purl, ssl=False) as r:
            assert await r.text() == "hello /fw -"
    assert p.heads[0].startswith(b"CONNECT ")
    assert p.heads[1].startswith(f"GET {origin}/fw ".encode())


async def test_websocket_through_a_proxy(aiohttp: Any, http_proxy: Any, serve: Any) -> None:
    async def ws_echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            await ws.send_str("echo:" + msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/ws", ws_echo)
    base = str(await serve(app))
    p, purl = await http_proxy()
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(base + "/ws", proxy=purl) as ws:
            await ws.send_str("via")
            assert await ws.receive_str() == "echo:via"
    assert p.heads[0].startswith(f"GET {base}/ws HTTP/1.1".encode())


async def test_https_proxy_certificate_is_verified(
    aiohttp: Any, https_proxy: Any, origin: str
) -> None:
    """ssl=True checks the proxy's certificate too: a self-signed one is refused."""
    _, purl = https_proxy
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientConnectorError) as ei:
            await s.get(origin + "/v", proxy=purl)
    assert isinstance(ei.value, (aiohttp.ClientSSLError, aiohttp.ClientConnectorCertificateError))


async def test_trust_env_redirect_picks_its_own_proxy(
    aiohttp: Any, http_proxy: Any, serve: Any, monkeypatch: Any, tmp_path: Any
) -> None:
    """Each hop looks the environment up: a redirect to a NO_PROXY host goes direct."""

    async def hop(request: web.Request) -> web.Response:
        port = request.url.port
        raise web.HTTPFound(f"http://localhost:{port}/end")

    async def end(request: web.Request) -> web.Response:
        return web.Response(text="end")

    app = web.Application()
    app.router.add_get("/start", hop)
    app.router.add_get("/end", end)
    base = str(await serve(app))
    p, purl = await http_proxy()
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    for name in ("http_proxy", "no_proxy", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", purl)
    monkeypatch.setenv("NO_PROXY", "localhost")
    async with aiohttp.ClientSession(trust_env=True) as s:
        async with s.get(base + "/start") as r:
            assert await r.text() == "end"
            assert len(r.history) == 1
    assert len(p.heads) == 1, "the first hop through the proxy, the redirect direct"
    assert p.heads[0].startswith(f"GET {base}/start ".encode())
