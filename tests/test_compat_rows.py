"""Rows of docs/COMPATIBILITY.md that no other test covered: loop= parameters,
connector attributes, aiohttp.request()'s connector, request cookies on
redirects, Connection.close(), ResolveResult, ws_connect's parameters and the
WebSocket's frame-sending methods.  Every test runs on both targets
(``AIOXIDE_TEST_TARGET=aiohttp``); where aioxide differs, the test checks each
one's own behaviour and the row says "differs"."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import socket
import ssl
import typing
import warnings
from typing import Any, AsyncIterator

import pytest
import trustme
from aiohttp import web
from yarl import URL

from conftest import TARGET, read_request_head, resolved

WS_KEY = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def is_aiohttp(client: Any) -> bool:
    return bool(client.__name__ == "aiohttp")


# -- loop= ---------------------------------------------------------------------


def test_loop_params_outside_a_running_loop(aiohttp: Any, unused_port: int) -> None:
    # Outside a running loop only the loop= given makes these usable.
    loop = asyncio.new_event_loop()
    url = f"http://127.0.0.1:{unused_port}/"
    try:
        with pytest.raises(RuntimeError):
            aiohttp.ClientSession()
        with pytest.raises(RuntimeError):
            aiohttp.TCPConnector()
        session = aiohttp.ClientSession(loop=loop)
        connector = aiohttp.TCPConnector(loop=loop)
        on_connector = aiohttp.ClientSession(connector=connector)
        one = aiohttp.request("GET", url, loop=loop)

        async def main() -> list[str]:
            async def hello(request: web.Request) -> web.Response:
                return web.Response(text="hi")

            app = web.Application()
            app.router.add_get("/", hello)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", unused_port).start()
            got = []
            try:
                for s in (session, on_connector):
                    with pytest.warns(DeprecationWarning, match="loop property"):
                        assert s.loop is loop
                    async with s:
                        async with s.get(url) as resp:
                            got.append(await resp.text())
                async with one as resp:
                    got.append(await resp.text())
            finally:
                await runner.cleanup()
            return got

        assert loop.run_until_complete(asyncio.wait_for(main(), 5)) == ["hi"] * 3
    finally:
        loop.close()


async def test_session_and_connector_on_other_loops(aiohttp: Any) -> None:
    other = asyncio.new_event_loop()
    try:
        connector = aiohttp.TCPConnector(loop=other)
        loop = asyncio.get_running_loop()
        with pytest.raises(RuntimeError, match="same event loop"):
            aiohttp.ClientSession(loop=loop, connector=connector)
        await connector.close()
    finally:
        other.close()


# -- connectors ------------------------------------------------------------------


async def test_force_close_attribute(aiohttp: Any) -> None:
    for kw, expected in (({}, False), ({"force_close": True}, True)):
        connector = aiohttp.TCPConnector(**kw)
        try:
            assert connector.force_close is expected
        finally:
            await connector.close()


class OneNameResolver:
    """A user resolver: ``compat.test`` is 127.0.0.1; records its calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[Any]:
        self.calls.append(host)
        if host != "compat.test":
            raise OSError(-2, "Name or service not known")
        return [resolved(host, port)]

    async def close(self) -> None:
        pass


async def test_module_request_uses_the_connector_given(aiohttp: Any, serve: Any) -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi " + request.host)

    app = web.Application()
    app.router.add_get("/", hello)
    port = int((await serve(app)).rsplit(":", 1)[1])
    url = f"http://compat.test:{port}/"

    class Resolver(OneNameResolver, aiohttp.abc.AbstractResolver):  # type: ignore[misc]
        pass

    resolver = Resolver()
    connector = aiohttp.TCPConnector(resolver=resolver)
    try:
        async with aiohttp.request("GET", url, connector=connector) as resp:
            assert await resp.text() == f"hi compat.test:{port}"
        assert resolver.calls == ["compat.test"]
        # Not the request's own: left open.
        assert connector.closed is False
    finally:
        await connector.close()


@pytest.mark.aiohttp_reference
def test_resolve_result_is_aiohttps_typed_dict(aiohttp: Any) -> None:
    import aiohttp.abc as reference

    ours = aiohttp.abc.ResolveResult
    assert typing.is_typeddict(ours)
    assert set(typing.get_type_hints(ours)) == {
        "hostname",
        "host",
        "port",
        "family",
        "proto",
        "flags",
    }
    assert typing.get_type_hints(ours) == typing.get_type_hints(reference.ResolveResult)
    assert ours.__required_keys__ == reference.ResolveResult.__required_keys__


# -- cookies ---------------------------------------------------------------------


async def test_request_cookies_on_redirect_hops(aiohttp: Any, serve: Any) -> None:
    async def show(request: web.Request) -> web.Response:
        return web.json_response({"cookie": request.headers.get("Cookie")})

    other = web.Application()
    other.router.add_get("/show", show)
    other_url = await serve(other)

    async def same(request: web.Request) -> web.Response:
        raise web.HTTPFound("/show")

    async def away(request: web.Request) -> web.Response:
        raise web.HTTPFound(other_url + "/show")

    app = web.Application()
    app.router.add_get("/same", same)
    app.router.add_get("/away", away)
    app.router.add_get("/show", show)
    url = await serve(app)
    async with aiohttp.ClientSession() as s:
        async with s.get(url + "/same", cookies={"r": "1"}) as resp:
            assert len(resp.history) == 1
            assert await resp.json() == {"cookie": "r=1"}
        async with s.get(url + "/away", cookies={"r": "1"}) as resp:
            assert resp.url.port != resp.history[0].url.port
            assert await resp.json() == {"cookie": None}


async def test_jar_cookies_and_host_only_cookies(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    jar.update_cookies({"a": "1"}, URL("http://example.com/p/x"))
    cookies = jar.cookies
    assert [(k, m.value) for k, m in cookies[("example.com", "/p")].items()] == [("a", "1")]
    assert jar.host_only_cookies == frozenset({("example.com", "/p", "a")})
    jar.update_cookies({"b": "2"}, URL("http://example.com/p/x"))
    assert {k for k in jar.cookies[("example.com", "/p")]} == {"a", "b"}
    if is_aiohttp(aiohttp):
        # A live view of the jar.
        assert "b" in cookies[("example.com", "/p")]
    else:
        # aioxide: a snapshot taken at each access (COMPATIBILITY.md: differs).
        assert "b" not in cookies[("example.com", "/p")]


# -- Connection ----------------------------------------------------------


def half_body(closed: asyncio.Event) -> Any:
    """A raw_server handler: half of a body, then waits (5 s at most) for the
    client to close the connection, and sets ``closed`` when it does."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request_head(r)
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
        await w.drain()
        with contextlib.suppress(ConnectionError, asyncio.TimeoutError):
            if await asyncio.wait_for(r.read(), 5) == b"":
                closed.set()

    return handler


async def test_connection_close_closes_it_for_the_server(aiohttp: Any, raw_server: Any) -> None:
    closed = asyncio.Event()
    url = await raw_server(half_body(closed))
    async with aiohttp.ClientSession() as s:
        async with s.get(url) as resp:
            assert await resp.content.readexactly(5) == b"hello"
            conn = resp.connection
            assert conn is not None and conn.closed is False
            conn.close()
            assert conn.closed is True
            await asyncio.wait_for(closed.wait(), 5)


async def test_connection_loop(aiohttp: Any, raw_server: Any) -> None:
    url = await raw_server(half_body(asyncio.Event()))
    async with aiohttp.ClientSession() as s:
        async with s.get(url) as resp:
            conn = resp.connection
            assert conn is not None
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                assert conn.loop is asyncio.get_running_loop()
            resp.close()
    deprecations = [str(w.message) for w in caught if w.category is DeprecationWarning]
    assert deprecations == ["connector.loop property is deprecated"]


# -- ws_connect ------------------------------------------------------------------


@pytest.fixture(params=["loop", "engine"] if TARGET == "aioxide" else ["loop"])
def ws_mode(request: Any, monkeypatch: Any) -> str:
    """aioxide: the socket watched by the session's loop, or driven by the
    engine's tasks (as tests/test_websocket.py runs them)."""
    if TARGET == "aioxide":
        import aioxide.client_ws

        monkeypatch.setattr(aioxide.client_ws, "_LOOP_DRIVEN", request.param == "loop")
    return str(request.param)


async def reporter(request: web.Request) -> web.WebSocketResponse:
    """Tells what the upgrade request carried, then reports each message
    (pings and pongs too) as ``[type, data]``."""
    ws = web.WebSocketResponse(autoping=False)
    await ws.prepare(request)
    await ws.send_json(
        {
            "query": request.rel_url.raw_query_string,
            "authorization": request.headers.get("Authorization"),
        }
    )
    async for msg in ws:
        if msg.type == web.WSMsgType.CLOSE:
            await ws.close()
            break
        data = msg.data if isinstance(msg.data, str) else msg.data.decode()
        await ws.send_json([msg.type.name, data])
    return ws


@pytest.fixture
async def ws_url(serve: Any) -> str:
    app = web.Application()
    app.router.add_get("/ws", reporter)
    return str(await serve(app)) + "/ws"


async def test_ws_connect_params(aiohttp: Any, ws_url: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(ws_url, params={"a": "1", "b": "x y"}) as ws:
            info = await asyncio.wait_for(ws.receive_json(), 5)
    assert info["query"] == "a=1&b=x+y"


async def test_ws_connect_auth_warns_and_is_sent(aiohttp: Any, ws_url: str) -> None:
    with pytest.warns(DeprecationWarning):
        auth = aiohttp.BasicAuth("user", "pass")
    async with aiohttp.ClientSession() as s:
        with pytest.warns(DeprecationWarning, match="'auth' parameter is deprecated"):
            ws = await s.ws_connect(ws_url, auth=auth)
        async with ws:
            info = await asyncio.wait_for(ws.receive_json(), 5)
    assert info["authorization"] == "Basic " + base64.b64encode(b"user:pass").decode()


async def test_ping_pong_with_a_message(aiohttp: Any, ws_url: str, ws_mode: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(ws_url) as ws:
            async with asyncio.timeout(5):
                await ws.receive_json()
                await ws.ping(b"are you there")
                assert await ws.receive_json() == ["PING", "are you there"]
                await ws.pong(b"unasked")
                assert await ws.receive_json() == ["PONG", "unasked"]
                await ws.ping()
                assert await ws.receive_json() == ["PING", ""]


async def test_send_frame_and_send_json_bytes(aiohttp: Any, ws_url: str, ws_mode: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(ws_url, compress=15) as ws:
            async with asyncio.timeout(5):
                await ws.receive_json()
                await ws.send_frame(b"text", aiohttp.WSMsgType.TEXT)
                assert await ws.receive_json() == ["TEXT", "text"]
                await ws.send_frame(b"bin" * 100, aiohttp.WSMsgType.BINARY, compress=15)
                assert await ws.receive_json() == ["BINARY", "bin" * 100]
                await ws.send_json_bytes({"a": [1, 2]}, dumps=lambda d: json.dumps(d).encode())
                assert await ws.receive_json() == ["BINARY", '{"a": [1, 2]}']


def _accept(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + WS_KEY).digest())


def raw_ws(heads: list[bytes], extra: bytes = b"") -> Any:
    """A raw WebSocket server: records the upgrade request's head, answers
    101 (with ``extra`` header lines), then answers the client's close."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        head = await read_request_head(r)
        heads.append(head)
        key = b""
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"sec-websocket-key:"):
                key = line.split(b":", 1)[1].strip()
        w.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + _accept(key) + b"\r\n" + extra
        )
        w.write(b"\r\n")
        await w.drain()
        # The client's close frame (whatever it sends first) is answered with one.
        with contextlib.suppress(asyncio.TimeoutError):
            if await asyncio.wait_for(r.read(65536), 5):
                w.write(b"\x88\x02\x03\xe8")
                await w.drain()

    return handler


async def test_ws_connect_method(aiohttp: Any, raw_server: Any) -> None:
    heads: list[bytes] = []
    url = await raw_server(raw_ws(heads))
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(url + "/m", method="PUT")
        await ws.close()
    assert heads[0].startswith(b"PUT /m HTTP/1.1\r\n")


async def test_ws_connect_receive_timeout(aiohttp: Any, raw_server: Any) -> None:
    url = await raw_server(raw_ws([]))
    async with aiohttp.ClientSession() as s:
        with pytest.warns(DeprecationWarning, match="receive_timeout"):
            ws = await s.ws_connect(
                url, receive_timeout=0.1, timeout=aiohttp.ClientWSTimeout(ws_close=0.2)
            )
        # (Without receive_timeout the receive would wait for the server's
        # close, 5 s on: not done in time, or done with no error.)
        receive = asyncio.ensure_future(ws.receive())
        done, _ = await asyncio.wait({receive}, timeout=4)
        assert receive in done
        assert isinstance(receive.exception(), asyncio.TimeoutError)
        assert ws.close_code == aiohttp.WSCloseCode.ABNORMAL_CLOSURE
        await ws.close()


@pytest.mark.parametrize("taken", [True, False])
async def test_client_notakeover(aiohttp: Any, raw_server: Any, taken: bool) -> None:
    ext = b"permessage-deflate" + (b"; client_no_context_takeover" if taken else b"")
    heads: list[bytes] = []
    url = await raw_server(raw_ws(heads, b"Sec-WebSocket-Extensions: " + ext + b"\r\n"))
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(url, compress=15)
        assert (ws.compress, ws.client_notakeover) == (15, taken)
        await ws.close()
    assert b"permessage-deflate" in heads[0]


# -- ws_connect over TLS -----------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def der_of(cert: trustme.LeafCert) -> bytes:
    return ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())


async def wss_server(serve: Any, cert: trustme.LeafCert, names: list[str | None]) -> str:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    ctx.sni_callback = lambda sock, name, c: names.append(name)
    app = web.Application()
    app.router.add_get("/ws", reporter)
    return str(await serve(app, ssl_context=ctx)).replace("https:", "wss:") + "/ws"


async def greeted(ws: Any) -> bool:
    info = await asyncio.wait_for(ws.receive_json(), 5)
    await ws.close()
    return "query" in info


async def test_ws_connect_deprecated_tls_forms(aiohttp: Any, serve: Any, ca: trustme.CA) -> None:
    cert = ca.issue_cert("127.0.0.1")
    url = await wss_server(serve, cert, [])
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    async with aiohttp.ClientSession() as s:
        # The CA is not trusted by default: the forms below are what lets it in.
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await s.ws_connect(url)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert await greeted(await s.ws_connect(url, verify_ssl=False))
            assert await greeted(await s.ws_connect(url, ssl_context=trusting))
            digest = hashlib.sha256(der_of(cert)).digest()
            assert await greeted(await s.ws_connect(url, fingerprint=digest))
            with pytest.raises(aiohttp.ServerFingerprintMismatch):
                await s.ws_connect(url, fingerprint=hashlib.sha256(b"other").digest())
    deprecations = [str(w.message) for w in caught if w.category is DeprecationWarning]
    expected = [
        "verify_ssl is deprecated, use ssl=False instead",
        "ssl_context is deprecated, use ssl=context instead",
        "fingerprint is deprecated, use ssl=Fingerprint(fingerprint) instead",
        "fingerprint is deprecated, use ssl=Fingerprint(fingerprint) instead",
    ]
    assert deprecations == expected


async def test_ws_connect_server_hostname(aiohttp: Any, serve: Any, ca: trustme.CA) -> None:
    names: list[str | None] = []
    url = await wss_server(serve, ca.issue_cert("svc.example"), names)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(url, ssl=trusting, server_hostname="svc.example")
        assert await greeted(ws)
        # Without it the certificate's name does not match 127.0.0.1.
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await s.ws_connect(url, ssl=trusting)
    assert names[0] == "svc.example"


# -- ws_connect through a proxy ------------------------------------------------------


class Proxy:
    """A forward proxy for WebSockets: a CONNECT opens a tunnel, an
    absolute-form upgrade is relayed; records each request head."""

    def __init__(self) -> None:
        self.heads: list[bytes] = []
        self.tasks: set[asyncio.Task[Any]] = set()

    async def handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)  # (3.9's start_server keeps no reference to it)
        try:
            head = await asyncio.wait_for(read_request_head(r), 5)
            self.heads.append(head)
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            if method == "CONNECT":
                host, port = target.rsplit(":", 1)
                ur, uw = await asyncio.open_connection(host, int(port))
                w.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                hostport, _, path = target.split("://", 1)[1].partition("/")
                host, port = hostport.rsplit(":", 1)
                ur, uw = await asyncio.open_connection(host, int(port))
                kept = [x for x in lines[1:] if x and not x.lower().startswith("proxy-")]
                out = "\r\n".join([f"{method} /{path} HTTP/1.1", *kept]) + "\r\n\r\n"
                uw.write(out.encode("latin-1"))
            await asyncio.wait_for(asyncio.gather(pipe(r, uw), pipe(ur, w)), 5)
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, OSError):
            pass
        finally:
            w.close()
            self.tasks.discard(task)


async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    try:
        while data := await r.read(65536):
            w.write(data)
            await w.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(Exception):
            w.close()


@pytest.fixture
async def proxy() -> AsyncIterator[tuple[Proxy, str]]:
    p = Proxy()
    server = await asyncio.start_server(p.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield p, f"http://127.0.0.1:{port}"
    server.close()


def proxy_authorization(head: bytes) -> str | None:
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "proxy-authorization":
            return value.strip()
    return None


BASIC = "Basic " + base64.b64encode(b"u:pw").decode()


async def test_ws_connect_proxy_auth(aiohttp: Any, ws_url: str, proxy: tuple[Proxy, str]) -> None:
    p, purl = proxy
    with pytest.warns(DeprecationWarning):
        auth = aiohttp.BasicAuth("u", "pw")
    async with aiohttp.ClientSession() as s:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ws = await s.ws_connect(ws_url, proxy=purl, proxy_auth=auth)
        assert await greeted(ws)
    assert p.heads[0].startswith(f"GET {ws_url} HTTP/1.1\r\n".encode())
    assert proxy_authorization(p.heads[0]) == BASIC
    deprecations = [str(w.message) for w in caught if w.category is DeprecationWarning]
    # (aiohttp warns twice: by ws_connect and by the request it makes.)
    assert deprecations and all("'proxy_auth' parameter is deprecated" in d for d in deprecations)


async def test_ws_connect_proxy_headers(
    aiohttp: Any, serve: Any, ca: trustme.CA, ws_url: str, proxy: tuple[Proxy, str]
) -> None:
    p, purl = proxy
    wss_url = await wss_server(serve, ca.issue_cert("127.0.0.1"), [])
    headers = {"Proxy-Authorization": BASIC}
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(wss_url, proxy=purl, proxy_headers=headers, ssl=False)
        assert await greeted(ws)
        ws = await s.ws_connect(ws_url, proxy=purl, proxy_headers=headers)
        assert await greeted(ws)
    host = wss_url.split("://", 1)[1].split("/", 1)[0]
    assert p.heads[0].startswith(f"CONNECT {host} HTTP/1.1\r\n".encode())
    assert proxy_authorization(p.heads[0]) == BASIC
    # A ws:// target goes to the proxy in absolute-form: aiohttp leaves
    # proxy_headers out there, aioxide sends them (as for requests).
    assert p.heads[1].startswith(f"GET {ws_url} HTTP/1.1\r\n".encode())
    assert proxy_authorization(p.heads[1]) == (None if is_aiohttp(aiohttp) else BASIC)


def test_submodules_export_aiohttps_names(aiohttp: Any) -> None:
    """``from aiohttp.client import ClientResponseError`` and the like: every
    name of aiohttp.client's ``__all__`` (and Fingerprint in client_reqrep,
    NamedPipeConnector in connector) is there, the same object as the
    package's."""
    import importlib

    import aiohttp as real

    for sub, names in (
        ("client", real.client.__all__),
        ("client_reqrep", ("Fingerprint", "RequestInfo", "ClientResponse")),
        ("connector", ("NamedPipeConnector", "UnixConnector", "TCPConnector")),
    ):
        mod = importlib.import_module(f"{aiohttp.__name__}.{sub}")
        for name in names:
            assert getattr(mod, name) is getattr(aiohttp, name), (sub, name)
    assert set(importlib.import_module(f"{aiohttp.__name__}.client").__all__) >= set(
        real.client.__all__
    )


async def test_named_pipe_connector_needs_the_proactor_loop(aiohttp: Any) -> None:
    """Off Windows there is no proactor loop: aiohttp fails looking for
    asyncio.ProactorEventLoop (AttributeError); aioxide says why."""
    expected = RuntimeError if TARGET == "aioxide" else AttributeError
    with pytest.raises(expected, match="Named Pipes only available|ProactorEventLoop"):
        aiohttp.NamedPipeConnector("\\\\.\\pipe\\x")
