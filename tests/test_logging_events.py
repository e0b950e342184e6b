"""The engine's connection events on the ``aioxide.client`` logger at DEBUG:
opened (with TLS version, cipher and protocol), reused, closed (and why),
retried on a new connection; nothing queued while the logger is off."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import ssl
from typing import Any

import pytest
import trustme
from aiohttp import web

from conftest import TARGET, DropsItsSecondRequest, start_app

pytestmark = pytest.mark.skipif(TARGET != "aioxide", reason="aioxide's engine events")

LOGGER = "aioxide.client"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def events(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    """(kind, message) of each connection event logged so far."""
    return [
        (r.aioxide_event, r.getMessage())
        for r in caplog.records
        if r.name == LOGGER and hasattr(r, "aioxide_event")
    ]


async def wait_for_event(caplog: pytest.LogCaptureFixture, message: str) -> None:
    """Until ``message`` is logged (bounded: 5 s)."""
    for _ in range(100):
        if any(m == message for _, m in events(caplog)):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{message!r} not logged; got {events(caplog)}")


@pytest.fixture
def debug(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    return caplog


@pytest.fixture
async def base(serve: Any) -> str:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def bye(request: web.Request) -> web.Response:
        return web.Response(text="bye", headers={"Connection": "close"})

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (4 << 20))

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/bye", bye)
    app.router.add_get("/big", big)
    return str(await serve(app))


async def get(s: Any, url: str) -> None:
    async with s.get(url) as resp:
        assert resp.status == 200
        await resp.read()


async def test_open_reuse_and_idle_close(
    aiohttp: Any, debug: pytest.LogCaptureFixture, base: str
) -> None:
    origin = base.removeprefix("http://")
    conn = aiohttp.TCPConnector(keepalive_timeout=1.0)
    async with aiohttp.ClientSession(connector=conn) as s:
        assert conn._engine.logs_events
        await get(s, base + "/ok")
        await get(s, base + "/ok")
        assert events(debug) == [
            ("open", f"connection opened to {origin}"),
            ("reuse", f"connection reused to {origin}"),
        ]
        await wait_for_event(debug, f"connection closed to {origin}: idle timeout")
    assert [k for k, _ in events(debug)] == ["open", "reuse", "close"]
    assert all(r.levelno == logging.DEBUG for r in debug.records if r.name == LOGGER)


async def test_close_reasons(aiohttp: Any, debug: pytest.LogCaptureFixture, base: str) -> None:
    origin = base.removeprefix("http://")
    async with aiohttp.ClientSession() as s:
        await get(s, base + "/bye")
        await wait_for_event(debug, f"connection closed to {origin}: not reusable")
        await get(s, base + "/ok")
        async with s.get(base + "/big") as resp:
            resp.close()  # let go before the end (4 MiB): the connection is dropped
        await wait_for_event(debug, f"connection closed to {origin}: response not read to its end")
        await get(s, base + "/ok")
    # The session closed its idle connection.
    await wait_for_event(debug, f"connection closed to {origin}: connector closed")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as s:
        await get(s, base + "/ok")
        await wait_for_event(debug, f"connection closed to {origin}: force_close")


async def test_name_and_peer(aiohttp: Any, debug: pytest.LogCaptureFixture, base: str) -> None:
    port = base.rsplit(":", 1)[1]
    async with aiohttp.ClientSession() as s:
        await get(s, f"http://localhost:{port}/ok")
    opened = [m for k, m in events(debug) if k == "open"]
    assert opened in (
        [f"connection opened to localhost:{port} at 127.0.0.1:{port}"],
        [f"connection opened to localhost:{port} at [::1]:{port}"],
    )


async def test_tls_version_cipher_and_protocol(
    aiohttp: Any, debug: pytest.LogCaptureFixture, serve: Any
) -> None:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", ok)
    url = await serve(app, ssl_context=server_ctx) + "/"
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    async with aiohttp.ClientSession() as s:
        async with s.get(url, ssl=client_ctx) as resp:
            assert await resp.text() == "ok"
    [(kind, message)] = [e for e in events(debug) if e[0] == "open"]
    origin = url.removeprefix("https://").rstrip("/")
    m = re.fullmatch(rf"connection opened to {re.escape(origin)} \((\S+) (\S+) (\S+)\)", message)
    assert m is not None, message
    assert m.group(1) in ("TLSv1.2", "TLSv1.3")
    assert m.group(2).startswith(("TLS_", "ECDHE-"))
    assert m.group(3) == "http/1.1"


async def test_retry_on_a_new_connection(
    aiohttp: Any, debug: pytest.LogCaptureFixture, raw_server: Any
) -> None:
    server = DropsItsSecondRequest()
    url = await raw_server(server)
    origin = url.removeprefix("http://")
    async with aiohttp.ClientSession() as s:
        await get(s, url)
        await get(s, url)
    assert server.connections == 2
    got = events(debug)
    assert got[:3] == [
        ("open", f"connection opened to {origin}"),
        ("reuse", f"connection reused to {origin}"),
        ("close", f"connection closed to {origin}: request failed"),
    ]
    kind, message = got[3]
    assert kind == "retry" and message.startswith(f"retrying on a new connection to {origin}: ")
    assert got[4] == ("open", f"connection opened to {origin}")


async def test_nothing_queued_when_the_logger_is_off(
    aiohttp: Any, caplog: pytest.LogCaptureFixture, base: str
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    before = aiohttp._aioxide.events_posted()
    conn = aiohttp.TCPConnector(keepalive_timeout=0.1)
    async with aiohttp.ClientSession(connector=conn) as s:
        assert not conn._engine.logs_events
        await get(s, base + "/ok")
        await get(s, base + "/bye")
        await asyncio.sleep(0.3)  # past keepalive_timeout: an idle close too
    assert aiohttp._aioxide.events_posted() == before
    assert [r for r in caplog.records if r.name == LOGGER] == []


async def test_turned_on_and_off_later(
    aiohttp: Any, caplog: pytest.LogCaptureFixture, base: str
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    origin = base.removeprefix("http://")
    async with aiohttp.ClientSession() as s:
        await get(s, base + "/ok")
        caplog.set_level(logging.DEBUG, logger=LOGGER)
        s.connector.log_connection_events()
        assert s.connector._engine.logs_events
        await get(s, base + "/ok")
        assert events(caplog) == [("reuse", f"connection reused to {origin}")]
        s.connector.log_connection_events(False)
        assert not s.connector._engine.logs_events
        before = aiohttp._aioxide.events_posted()
        await get(s, base + "/bye")
        assert aiohttp._aioxide.events_posted() == before
    assert len(events(caplog)) == 1


def test_uvloop_events(aiohttp: Any, debug: pytest.LogCaptureFixture) -> None:
    uvloop = pytest.importorskip("uvloop")

    async def main() -> str:
        async def ok(request: web.Request) -> web.Response:
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_get("/ok", ok)
        runner, base = await start_app(app)
        try:
            async with aiohttp.ClientSession() as s:
                await get(s, base + "/ok")
                await get(s, base + "/ok")
        finally:
            await runner.cleanup()
        return base.removeprefix("http://")

    loop = uvloop.new_event_loop()
    try:
        origin = loop.run_until_complete(asyncio.wait_for(main(), 30))
    finally:
        loop.close()
    assert events(debug) == [
        ("open", f"connection opened to {origin}"),
        ("reuse", f"connection reused to {origin}"),
        ("close", f"connection closed to {origin}: connector closed"),
    ]


async def test_http2_over_tls(aiohttp: Any, debug: pytest.LogCaptureFixture, tmp_path: Any) -> None:
    pytest.importorskip("hypercorn")
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    chain.write_bytes(b"".join(p.bytes() for p in cert.cert_chain_pems))
    key.write_bytes(cert.private_key_pem.bytes())
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    cfg = Config()
    cfg.bind = [f"fd://{sock.detach()}"]
    cfg.accesslog = cfg.errorlog = None
    cfg.graceful_timeout = 1
    cfg.certfile, cfg.keyfile = str(chain), str(key)
    stop = asyncio.Event()
    server = asyncio.create_task(hypercorn_serve(app, cfg, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    try:
        conn = aiohttp.TCPConnector(http2=True, ssl=client_ctx)
        async with aiohttp.ClientSession(connector=conn) as s:
            for _ in range(2):
                async with s.get(f"https://127.0.0.1:{port}/") as resp:
                    assert resp.version == aiohttp.HttpVersion(2, 0)
                    assert await resp.read() == b"ok"
    finally:
        stop.set()
        await asyncio.wait_for(server, 10)
    origin = f"127.0.0.1:{port}"
    got = events(debug)
    assert [k for k, _ in got] == ["open", "reuse", "close"], got
    assert re.fullmatch(rf"connection opened to {origin} \(TLSv1\.3 TLS_\S+ h2\)", got[0][1])
    assert got[1:] == [
        ("reuse", f"connection reused to {origin} (h2 stream)"),
        ("close", f"connection closed to {origin}: connector closed"),
    ]
