"""WebSocket client: ``ws_connect`` and ``ClientWebSocketResponse`` against
aiohttp.web's WebSocket server, and raw sockets for servers that misbehave.
Every test runs on both targets (``AIOXIDE_TEST_TARGET=aiohttp``)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import hashlib
import ssl
import warnings
import weakref
from typing import Any

import pytest
import trustme
from aiohttp import web

from conftest import TARGET

WS_KEY = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


async def echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=("chat", "v2"))
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == web.WSMsgType.TEXT:
            if msg.data == "close":
                await ws.close(code=4001, message=b"bye")
            elif msg.data == "ping-me":
                await ws.ping(b"srv")
            elif msg.data == "headers":
                await ws.send_json(
                    {
                        "origin": request.headers.get("Origin"),
                        "x": request.headers.get("X-Custom"),
                        "cookie": request.headers.get("Cookie"),
                    }
                )
            else:
                await ws.send_str("echo:" + msg.data)
        elif msg.type == web.WSMsgType.BINARY:
            await ws.send_bytes(msg.data[::-1])
    return ws


async def burst(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    for i in range(50):
        await ws.send_str(str(i))
    await ws.close()
    return ws


async def not_ws(request: web.Request) -> web.Response:
    return web.Response(text="plain", status=200)


@pytest.fixture(autouse=True, params=["loop", "engine"] if TARGET == "aioxide" else ["loop"])
def ws_mode(request: Any, monkeypatch: Any) -> str:
    """aioxide runs every test twice: the socket watched by the session's
    loop (how a direct connection goes) and driven by the engine's tasks
    (how one through a tunnel goes)."""
    if TARGET == "aioxide":
        import aioxide.client_ws

        monkeypatch.setattr(aioxide.client_ws, "_LOOP_DRIVEN", request.param == "loop")
    return str(request.param)


@pytest.fixture
async def base(serve: Any) -> str:
    app = web.Application()
    app.router.add_get("/ws", echo)
    app.router.add_get("/burst", burst)
    app.router.add_get("/plain", not_ws)
    return str(await serve(app))


@pytest.mark.parametrize("compress", [0, 15, 9])
async def test_echo_text_binary_json(aiohttp: Any, base: str, compress: int) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(base + "/ws", compress=compress) as ws:
            assert isinstance(ws, aiohttp.ClientWebSocketResponse)
            await ws.send_str("hi")
            msg = await ws.receive()
            assert msg.type is aiohttp.WSMsgType.TEXT
            assert (msg.data, msg.extra) == ("echo:hi", "")
            await ws.send_bytes(b"abc")
            assert await ws.receive_bytes() == b"cba"
            # A bytearray and a memoryview, as aiohttp's.
            for data in (bytearray(b"def"), memoryview(b"xghix")[1:4]):
                await ws.send_bytes(data)
                assert await ws.receive_bytes() == bytes(data)[::-1]
            await ws.send_json({"a": 1})
            assert await ws.receive_str() == 'echo:{"a": 1}'
            big = "x" * 200_000
            await ws.send_str(big)
            assert await ws.receive_str() == "echo:" + big
            # (The server's answer names no client window: 15, on both.)
            assert ws.compress == (15 if compress else 0)
        assert ws.closed
        assert ws.close_code == aiohttp.WSCloseCode.OK


async def test_protocol_negotiation_and_handshake_headers(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession(cookies={"k": "v"}) as s:
        async with s.ws_connect(
            base + "/ws",
            protocols=("v9", "v2"),
            origin="http://example.com",
            headers={"X-Custom": "1"},
        ) as ws:
            assert ws.protocol == "v2"
            await ws.send_str("headers")
            got = await ws.receive_json()
            assert got == {"origin": "http://example.com", "x": "1", "cookie": "k=v"}
        async with s.ws_connect(base + "/ws") as ws:
            assert ws.protocol is None


async def test_server_close_ends_iteration_with_its_code(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(base + "/ws")
        await ws.send_str("close")
        msg = await ws.receive()
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert (msg.data, msg.extra) == (4001, "bye")
        assert ws.closed and ws.close_code == 4001
        assert (await ws.receive()).type is aiohttp.WSMsgType.CLOSED
        assert await ws.close() is False


async def test_iteration_takes_messages_that_came_together(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(base + "/burst") as ws:
            got = [msg.data async for msg in ws]
    assert got == [str(i) for i in range(50)]


async def test_autoping_answers_pings(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(base + "/ws") as ws:
            await ws.send_str("ping-me")
            await ws.send_str("after")
            # The ping is answered and not returned; the next message is.
            assert await ws.receive_str() == "echo:after"
        async with s.ws_connect(base + "/ws", autoping=False) as ws:
            await ws.send_str("ping-me")
            msg = await ws.receive()
            assert (msg.type, msg.data) == (aiohttp.WSMsgType.PING, b"srv")


async def test_client_close_with_code(aiohttp: Any, serve: Any) -> None:
    seen: list[Any] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for _ in ws:
            pass
        seen.append((ws.close_code, ws.closed))
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    url = str(await serve(app))
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(url + "/")
        assert await ws.close(code=4002, message=b"done") is True
        assert ws.closed
        assert ws.close_code == 4002 or ws.close_code == aiohttp.WSCloseCode.OK
    for _ in range(100):
        if seen:
            break
        await asyncio.sleep(0.01)
    assert seen == [(4002, True)]


async def test_not_a_websocket_is_handshake_error(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as ei:
            await s.ws_connect(base + "/plain")
    assert ei.value.status == 200
    assert ei.value.message == "Invalid response status"
    assert ei.value.request_info.url.path == "/plain"


def _raw_ws(answer: Any, after: bytes = b"", hold: float = 0.0) -> Any:
    """A raw server: reads the upgrade request, answers ``answer(key)``, then
    writes ``after`` and keeps the connection ``hold`` seconds, or until the
    client closes it (what it sends is read and never answered).  (Ending at
    the client's close matters on 3.12+, where the fixture's
    ``Server.wait_closed()`` waits for every handler: four tests' teardowns
    waited out a 30 s hold.)"""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        head = await r.readuntil(b"\r\n\r\n")
        key = b""
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"sec-websocket-key:"):
                key = line.split(b":", 1)[1].strip()
        w.write(answer(key) + after)  # (one write: ``after`` comes with the head)
        await w.drain()
        if hold:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(_until_eof(r), hold)

    return handler


async def _until_eof(r: asyncio.StreamReader) -> None:
    for _ in range(1_000_000):  # bounded: the client's close ends it
        if not await r.read(65536):
            return


def _accept(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + WS_KEY).digest())


def _ok(key: bytes) -> bytes:
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + _accept(key) + b"\r\n\r\n"
    )


@pytest.mark.parametrize(
    "answer,message",
    [
        (lambda k: _ok(k).replace(_accept(k), b"AAAA"), "Invalid challenge response"),
        (
            lambda k: _ok(k).replace(b"Upgrade: websocket", b"Upgrade: h2c"),
            "Invalid upgrade header",
        ),
        (
            lambda k: _ok(k).replace(b"Connection: Upgrade", b"Connection: close"),
            "Invalid connection header",
        ),
    ],
)
async def test_bad_handshakes(aiohttp: Any, raw_server: Any, answer: Any, message: str) -> None:
    url = await raw_server(_raw_ws(answer))
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as ei:
            await s.ws_connect(url)
    assert ei.value.message == message
    assert ei.value.status == 101


async def test_a_refused_101_closes_its_connection_at_once(aiohttp: Any, raw_server: Any) -> None:
    """A 101 the client refuses (a wrong Sec-WebSocket-Accept): its
    connection is closed as the exception is raised, with the session still
    open, not when the garbage collector finds the response."""
    closed = asyncio.Event()

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await _raw_ws(lambda k: _ok(k).replace(_accept(k), b"AAAA"))(r, w)
        await _until_eof(r)
        closed.set()

    url = await raw_server(handler)
    gc.disable()
    try:
        async with aiohttp.ClientSession() as s:
            with pytest.raises(aiohttp.WSServerHandshakeError):
                # (In a task, as wait_for runs it: the task, its exception
                # and the exception's frames make a cycle.)
                await asyncio.wait_for(s.ws_connect(url), 5)
            await asyncio.wait_for(closed.wait(), 3)
    finally:
        gc.enable()


async def test_frames_right_after_the_101_are_read(aiohttp: Any, raw_server: Any) -> None:
    # Two text frames in the same write as the 101 head.
    frames = b"\x81\x05hello\x81\x05world"
    # (The server then stays silent: nothing else makes the socket readable.)
    url = await raw_server(_raw_ws(_ok, frames, hold=30.0))
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=0.1)) as ws:
            async with asyncio.timeout(5):
                assert await ws.receive_str() == "hello"
                assert await ws.receive_str() == "world"


async def test_a_bad_frame_right_after_a_message_is_not_held_back(
    aiohttp: Any, raw_server: Any
) -> None:
    # A message and a frame with RSV bits in one write, then silence: the
    # error must come without waiting for more bytes (Autobahn 3.*, 4.*).
    url = await raw_server(_raw_ws(_ok, b"\x81\x02hi\xc1\x02hi", hold=30.0))
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=0.1)) as ws:
            async with asyncio.timeout(5):
                assert await ws.receive_str() == "hi"
                msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.ERROR
            assert ws.close_code == 1002


async def test_masked_or_bad_frames_are_protocol_errors(aiohttp: Any, raw_server: Any) -> None:
    # A reserved opcode (0x3): a protocol error, closed with 1002.
    url = await raw_server(_raw_ws(_ok, b"\x83\x00", hold=1.0))
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=0.5))
        msg = await ws.receive()
        assert msg.type is aiohttp.WSMsgType.ERROR
        assert isinstance(msg.data, aiohttp.WebSocketError)
        assert ws.close_code == aiohttp.WSCloseCode.PROTOCOL_ERROR


async def test_invalid_utf8_closes_with_1007(aiohttp: Any, raw_server: Any) -> None:
    url = await raw_server(_raw_ws(_ok, b"\x81\x02\xc3\x28", hold=1.0))
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=0.5))
        msg = await ws.receive()
        assert msg.type is aiohttp.WSMsgType.ERROR
        assert ws.close_code == aiohttp.WSCloseCode.INVALID_TEXT


async def test_message_over_max_msg_size_closes_with_1009(aiohttp: Any, raw_server: Any) -> None:
    frame = b"\x82\x7e\x01\x00" + b"x" * 256
    url = await raw_server(_raw_ws(_ok, frame, hold=1.0))
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(
            url, max_msg_size=100, timeout=aiohttp.ClientWSTimeout(ws_close=0.5)
        )
        msg = await ws.receive()
        assert msg.type is aiohttp.WSMsgType.ERROR
        assert ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG


async def test_peer_dropping_the_connection_is_closed_not_a_hang(
    aiohttp: Any, raw_server: Any
) -> None:
    url = await raw_server(_raw_ws(_ok))
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(url)
        msg = await asyncio.wait_for(ws.receive(), 5)
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE)
        assert ws.closed
        # As aiohttp: the connection's end without a close frame is the
        # exception (it was None).
        assert ws.close_code == aiohttp.WSCloseCode.ABNORMAL_CLOSURE
        assert isinstance(ws.exception(), aiohttp.ClientConnectionResetError)


async def test_receive_timeout(aiohttp: Any, raw_server: Any) -> None:
    url = await raw_server(_raw_ws(_ok, hold=2.0))
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_receive=0.1, ws_close=0.2))
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive()
        assert ws.close_code == aiohttp.WSCloseCode.ABNORMAL_CLOSURE
        await ws.close()


async def test_close_waits_at_most_ws_close(aiohttp: Any, raw_server: Any) -> None:
    """A server that never answers the close: close() gives up after ws_close
    (a TimeoutError; waiting for the server's own end would be another error)."""
    url = await raw_server(_raw_ws(_ok, hold=3.0))
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=0.2))
        assert await ws.close() is True
        assert ws.close_code == aiohttp.WSCloseCode.ABNORMAL_CLOSURE
        assert isinstance(ws.exception(), asyncio.TimeoutError)


async def test_close_from_another_task_breaks_receive(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(base + "/ws")
        reader = asyncio.ensure_future(ws.receive())
        for _ in range(10):  # let the reader start waiting
            await asyncio.sleep(0)
        assert await ws.close() is True
        msg = await asyncio.wait_for(reader, 5)
        assert msg.type in (aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)
        assert ws.closed


async def test_cancelled_receive_loses_nothing(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(base + "/ws") as ws:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.receive(), 0.05)
            await ws.send_str("again")
            assert await ws.receive_str() == "echo:again"


async def test_heartbeat_pings_and_survives_a_live_peer(aiohttp: Any, serve: Any) -> None:
    """The client pings every `heartbeat` s; a server that answers each ping
    keeps it open (the server counts the pings it answered)."""
    pings: list[bytes] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == web.WSMsgType.PING:
                pings.append(msg.data)
                await ws.pong(msg.data)
            elif msg.type == web.WSMsgType.TEXT:
                await ws.send_str("echo:" + msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    url = str(await serve(app)) + "/"
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(url, heartbeat=0.05) as ws:
            for _ in range(500):  # bounded: until the third ping was answered
                if len(pings) >= 3:
                    break
                await asyncio.sleep(0.01)
            assert len(pings) >= 3
            assert not ws.closed
            await ws.send_str("still")
            assert await ws.receive_str() == "echo:still"


async def test_heartbeat_counts_a_frame_still_arriving_as_data(aiohttp: Any, serve: Any) -> None:
    """A long frame trickling in for several heartbeat periods: its bytes
    are data from the peer (aiohttp resets the heartbeat on incoming bytes),
    so the client neither pings meanwhile nor closes for want of a PONG
    queued behind the frame."""
    seen: list[str] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        # 4 KiB in 65 pieces 10 ms apart: about 0.65 s, more than a ping
        # and its pong timeout (0.3 + 0.15 s) even on a busy machine, while a
        # gap would have to exceed 0.3 s for a ping to be due.
        frame = bytes((0x82, 126)) + (4096).to_bytes(2, "big") + b"x" * 4096
        transport = request.transport
        assert transport is not None
        for i in range(0, len(frame), 64):
            transport.write(frame[i : i + 64])
            await asyncio.sleep(0.01)
        with contextlib.suppress(asyncio.TimeoutError):
            while True:
                msg = await ws.receive(timeout=1)
                seen.append(msg.type.name)
                if msg.type in (web.WSMsgType.CLOSE, web.WSMsgType.CLOSED):
                    break
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    url = str(await serve(app)) + "/"
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(url, heartbeat=0.3) as ws:
            msg = await asyncio.wait_for(ws.receive(), 5)
            assert (msg.type, len(msg.data)) == (aiohttp.WSMsgType.BINARY, 4096)
            assert not ws.closed
    for _ in range(200):  # bounded: until the server saw the close
        if seen:
            break
        await asyncio.sleep(0.01)
    assert seen == ["CLOSE"]


async def test_heartbeat_without_pong_closes_with_1006(aiohttp: Any, raw_server: Any) -> None:
    url = await raw_server(_raw_ws(_ok, hold=3.0))
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(url, heartbeat=0.1)
        msg = await asyncio.wait_for(ws.receive(), 5)
        assert msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == aiohttp.WSCloseCode.ABNORMAL_CLOSURE
        assert isinstance(ws.exception(), aiohttp.ServerTimeoutError)


async def test_receive_type_errors(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(base + "/ws") as ws:
            await ws.send_bytes(b"ab")
            with pytest.raises(aiohttp.WSMessageTypeError):
                await ws.receive_str()
            await ws.send_str("x")
            with pytest.raises(aiohttp.WSMessageTypeError):
                await ws.receive_bytes()
            with pytest.raises(TypeError):
                await ws.send_str(b"bytes")  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                await ws.send_bytes("text")  # type: ignore[arg-type]


async def test_concurrent_receive_is_refused(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(base + "/ws") as ws:
            first = asyncio.ensure_future(ws.receive())
            for _ in range(10):  # let the first receive start waiting
                await asyncio.sleep(0)
            with pytest.raises(RuntimeError):
                await ws.receive()
            await ws.send_str("x")
            assert (await first).data == "echo:x"


async def test_pool_slot_is_held_until_close(aiohttp: Any, base: str) -> None:
    conn = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=conn) as s:
        ws = await s.ws_connect(base + "/ws")
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(s.get(base + "/plain"), 0.2)
        await ws.close()
        async with s.get(base + "/plain") as r:
            assert await r.text() == "plain"


async def test_ws_through_middleware_and_trace(aiohttp: Any, base: str) -> None:
    seen: list[str] = []

    async def mw(req: Any, handler: Any) -> Any:
        seen.append(req.headers.get("Upgrade"))
        return await handler(req)

    tc = aiohttp.TraceConfig()
    starts: list[Any] = []

    async def on_start(session: Any, ctx: Any, params: Any) -> None:
        starts.append(params.url)

    tc.on_request_start.append(on_start)
    async with aiohttp.ClientSession(middlewares=(mw,), trace_configs=[tc]) as s:
        async with s.ws_connect(base + "/ws") as ws:
            await ws.send_str("m")
            assert await ws.receive_str() == "echo:m"
    assert seen == ["websocket"]
    assert len(starts) == 1


async def test_no_fd_left_after_many_sockets(aiohttp: Any, base: str) -> None:
    import os

    def fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(base + "/ws") as ws:  # warm up (server side too)
            await ws.send_str("w")
            await ws.receive()
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await s.ws_connect(base + "/plain")  # (its connection is pooled)
        await asyncio.sleep(0.05)
        before = fds()
        for i in range(30):
            async with s.ws_connect(base + "/ws") as ws:
                await ws.send_str(str(i))
                assert await ws.receive_str() == f"echo:{i}"
            # An error path too: the handshake refused.
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await s.ws_connect(base + "/plain")
        for _ in range(100):
            if fds() <= before + 1:
                break
            await asyncio.sleep(0.02)
        assert fds() <= before + 1


async def test_ws_response_class(aiohttp: Any, base: str) -> None:
    class MyWS(aiohttp.ClientWebSocketResponse):
        pass

    async with aiohttp.ClientSession(ws_response_class=MyWS) as s:
        async with s.ws_connect(base + "/ws") as ws:
            assert type(ws) is MyWS
            await ws.send_str("k")
            assert await ws.receive_str() == "echo:k"


async def test_ws_scheme_urls(aiohttp: Any, base: str) -> None:
    """ws:// is http:// to aiohttp's connector (wss:// is https://), for
    ws_connect and plain requests; also as a base_url."""
    ws_url = base.replace("http://", "ws://") + "/ws"
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(ws_url) as ws:
            await ws.send_str("s")
            assert await ws.receive_str() == "echo:s"
        async with s.get(base.replace("http://", "ws://") + "/plain") as r:
            assert await r.text() == "plain"
    async with aiohttp.ClientSession(base_url=base.replace("http://", "ws://") + "/") as s:
        async with s.ws_connect("ws") as ws:
            await ws.send_str("b")
            assert await ws.receive_str() == "echo:b"


async def test_bad_compress_is_value_error_at_once(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        for bad in (8, 16, -1):
            with pytest.raises(ValueError):
                await s.ws_connect(base + "/ws", compress=bad)


async def test_users_own_upgrade_headers_win(aiohttp: Any, raw_server: Any) -> None:
    seen: list[bytes] = []

    def answer(key: bytes) -> bytes:
        return _ok(key)

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        head = await r.readuntil(b"\r\n\r\n")
        seen.append(head)
        await _raw_ws(answer)(_Replay(head, r), w)

    url = await raw_server(handler)
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(url, headers={"Connection": "keep-alive, Upgrade"}) as ws:
            assert not ws.closed
    lines = seen[0].lower().split(b"\r\n")
    assert b"connection: keep-alive, upgrade" in lines
    assert b"sec-websocket-version: 13" in lines


class _Replay:
    """A reader that gives back an already read head first."""

    def __init__(self, head: bytes, r: asyncio.StreamReader) -> None:
        self._head = head
        self._r = r

    async def readuntil(self, sep: bytes) -> bytes:
        head, self._head = self._head, b""
        return head if head else await self._r.readuntil(sep)


async def slow_echo(request: web.Request) -> web.WebSocketResponse:
    """Reads nothing for a moment (the client's sends fill the socket and
    wait), then sends every binary message back whole."""
    ws = web.WebSocketResponse(max_msg_size=0)
    await ws.prepare(request)
    await asyncio.sleep(0.3)
    async for msg in ws:
        if msg.type == web.WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


async def test_big_sends_wait_for_the_socket_in_order(aiohttp: Any, serve: Any) -> None:
    app = web.Application()
    app.router.add_get("/slow", slow_echo)
    url = str(await serve(app)) + "/slow"
    blobs = [bytes([i]) * (3 << 20) for i in range(4)]
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(url, max_msg_size=0) as ws:
            async with asyncio.timeout(30):
                await asyncio.gather(*(ws.send_bytes(b) for b in blobs))
                got = [(await ws.receive()).data for _ in blobs]
            assert got == blobs


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def test_wss_echo_big_and_small(aiohttp: Any, serve: Any, ca: trustme.CA) -> None:
    cert = ca.issue_cert("127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    app = web.Application()
    app.router.add_get("/ws", echo)
    url = str(await serve(app, ssl_context=server_ctx)).replace("https:", "wss:") + "/ws"
    blob = bytes(range(256)) * 4096  # 1 MiB
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(url, ssl=client_ctx, max_msg_size=0) as ws:
            assert ws.get_extra_info("peername")[0] == "127.0.0.1"
            assert ws.get_extra_info("sockname")[0] == "127.0.0.1"
            assert ws.get_extra_info("sslcontext") is client_ctx
            assert ("IP Address", "127.0.0.1") in ws.get_extra_info("peercert")["subjectAltName"]
            async with asyncio.timeout(30):
                for i in range(20):
                    await ws.send_str(f"m{i}")
                    assert (await ws.receive()).data == f"echo:m{i}"
                await ws.send_bytes(blob)
                assert (await ws.receive()).data == blob[::-1]
                await ws.send_str("close")
                msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.CLOSE
            assert msg.data == 4001
        # (Closed: the connection is gone, as aiohttp's.)
        assert ws.get_extra_info("peername", "gone") == "gone"


@pytest.mark.skipif(TARGET != "aioxide", reason="who drives the socket is aioxide's")
async def test_a_direct_websocket_needs_no_engine_task(base: str, ws_mode: str) -> None:
    import aioxide
    from aioxide._bridge import bridge_for

    async with aioxide.ClientSession() as s:
        async with s.ws_connect(base + "/ws") as ws:
            bridge = bridge_for(asyncio.get_running_loop()).bridge
            receiving = asyncio.ensure_future(ws.receive())
            await asyncio.sleep(0)
            # The loop watches the socket (no engine task waits on it), or
            # the engine's reading task does.
            assert bridge.outstanding() == (0 if ws_mode == "loop" else 1)
            assert (ws._reader._ws.fileno() is not None) == (ws_mode == "loop")
            await ws.send_str("x")
            async with asyncio.timeout(5):
                assert (await receiving).data == "echo:x"


async def test_closing_the_session_closes_its_websockets(aiohttp: Any, base: str) -> None:
    s = aiohttp.ClientSession()
    ws = await s.ws_connect(base + "/ws")
    # One echo first: the server's handler is then past prepare().  aiohttp
    # 3.13's server (the peer on Python 3.9) misses a FIN that comes while
    # its handler is still in prepare(): the handler waited for a message
    # until the fixture's teardown gave up after 60 s (about 1 run in 30).
    await ws.send_str("x")
    async with asyncio.timeout(5):
        assert (await ws.receive()).data == "echo:x"
    receiving = asyncio.ensure_future(ws.receive())
    await asyncio.sleep(0)
    await s.close()
    async with asyncio.timeout(5):
        msg = await receiving
    assert msg.type == aiohttp.WSMsgType.CLOSED
    assert ws.closed
    assert ws.close_code == 1006
    with pytest.raises(aiohttp.ClientConnectionResetError) as info:
        await ws.send_str("late")
    assert isinstance(info.value, ConnectionResetError)


@pytest.mark.skipif(TARGET != "aioxide", reason="drives aioxide's reader's waiter")
async def test_messages_delivered_as_receive_is_cancelled_are_kept(base: str) -> None:
    # asyncio.timeout (and wait_for on 3.12+) cancel a task whose wait has
    # just been given its messages: they stay for the next receive().
    import aioxide

    loop = asyncio.get_running_loop()
    task: "asyncio.Task[Any] | None" = None

    class Racing(asyncio.Future):  # type: ignore[type-arg]
        def set_result(self, result: Any) -> None:
            super().set_result(result)
            if task is not None:
                task.cancel()

    class RacingLoop:
        def __getattr__(self, name: str) -> Any:
            return getattr(loop, name)

        def create_future(self) -> Racing:
            return Racing(loop=loop)

    async with aioxide.ClientSession() as s:
        async with s.ws_connect(base + "/ws") as ws:
            real, ws._reader._loop = ws._reader._loop, RacingLoop()
            task = asyncio.ensure_future(ws.receive())
            await asyncio.sleep(0)
            await ws.send_str("kept")
            with pytest.raises(asyncio.CancelledError):
                async with asyncio.timeout(5):
                    await task
            ws._reader._loop, task = real, None
            async with asyncio.timeout(5):
                assert (await ws.receive()).data == "echo:kept"


def _closed_by_client() -> tuple[Any, asyncio.Event]:
    """A raw WebSocket server that sets its event when the client's side of
    the connection ends (its close or its FIN)."""
    closed = asyncio.Event()

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await _raw_ws(_ok)(r, w)
        await _until_eof(r)
        closed.set()

    return handler, closed


async def test_a_websocket_dropped_open_closes_its_socket(aiohttp: Any, raw_server: Any) -> None:
    """A WebSocket nobody closes, dropped: its socket closes when it is
    freed, with the garbage collector off (the loop watching the socket
    kept it open for good), and the session's own close is not needed."""
    handler, closed = _closed_by_client()
    url = await raw_server(handler)
    gc.disable()
    try:
        async with aiohttp.ClientSession() as s:
            ws = await s.ws_connect(url)
            del ws
            await asyncio.wait_for(closed.wait(), 3)
    finally:
        gc.enable()


async def test_a_closed_websocket_session_is_freed_without_the_collector(
    aiohttp: Any, base: str
) -> None:
    """No reference cycle keeps a session that opened a WebSocket: freed
    as it is dropped, with what the engine holds for it (a connection's
    cached Connection and a reader's stored error made cycles: 30 such
    sessions held 90 descriptors until a collection)."""
    gc.disable()
    try:
        for who_closes in ("client", "server", "client"):
            async with aiohttp.ClientSession() as s:
                async with s.ws_connect(base + "/ws") as ws:
                    await ws.send_str("x")
                    assert (await ws.receive()).data == "echo:x"
                    assert ws.get_extra_info("peername") is not None  # (resp.connection made)
                    if who_closes == "server":
                        await ws.send_str("close")
                        assert (await ws.receive()).type == aiohttp.WSMsgType.CLOSE
                        await ws.receive()  # (the end of the connection)
            gone = [weakref.ref(s)]
            if TARGET == "aioxide":  # (and the engine's socket behind its reader)
                gone.append(weakref.ref(ws._reader))
            del s, ws
            assert [ref() for ref in gone] == [None] * len(gone)
    finally:
        gc.enable()


@pytest.mark.skipif(TARGET != "aioxide", reason="aiohttp leaves it to the collector")
async def test_a_ws_response_class_that_raises_closes_the_socket(
    aiohttp: Any, raw_server: Any
) -> None:
    """The WebSocket that ws_connect could not build (its class refused its
    arguments) closes its socket as the exception is raised (aiohttp's stays
    open until the collector finds its connection)."""
    handler, closed = _closed_by_client()
    url = await raw_server(handler)

    class Refusing(aiohttp.ClientWebSocketResponse):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise TypeError("refused")

    gc.disable()
    try:
        async with aiohttp.ClientSession(ws_response_class=Refusing) as s:
            with pytest.raises(TypeError, match="refused"):
                await asyncio.wait_for(s.ws_connect(url), 5)
            await asyncio.wait_for(closed.wait(), 3)
    finally:
        gc.enable()


async def test_control_frames_and_close_take_any_bytes_like_payload(
    aiohttp: Any, raw_server: Any
) -> None:
    """ping, pong, send_frame and close(message=) take a bytearray or a
    memoryview, as aiohttp (they raised TypeError)."""
    got: list[bytes] = []
    done = asyncio.Event()

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await _raw_ws(_ok)(r, w)
        for _ in range(6):  # bounded: the six frames the client sends
            head = await r.readexactly(2)
            n = head[1] & 0x7F
            mask = await r.readexactly(4)
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(await r.readexactly(n)))
            got.append(bytes([head[0] & 0x0F]) + data)
        done.set()
        await _until_eof(r)

    url = await raw_server(handler)
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=0.1))
        await ws.ping(bytearray(b"p1"))
        await ws.ping(memoryview(b"p2"))
        await ws.pong(bytearray(b"q"))
        await ws.send_frame(bytearray(b"bin"), aiohttp.WSMsgType.BINARY)
        await ws.send_frame(memoryview(b"txt"), aiohttp.WSMsgType.TEXT)
        await ws.close(message=bytearray(b"bye"))
        await asyncio.wait_for(done.wait(), 3)
    assert got == [
        b"\x09p1",
        b"\x09p2",
        b"\x0aq",
        b"\x02bin",
        b"\x01txt",
        b"\x08\x03\xe8bye",
    ]


async def test_protocols_none_is_none_and_each_must_be_a_str(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(base + "/ws", protocols=None) as ws:
            assert ws.protocol is None
        for bad in ([b"chat"], [1]):
            with pytest.raises(TypeError):
                await s.ws_connect(base + "/ws", protocols=bad)


async def test_a_timeout_that_is_no_number_leaves_no_coroutine_unawaited(
    aiohttp: Any, base: str
) -> None:
    """receive(timeout="1") gives aiohttp's ERROR message (a TypeError), and
    close() with such a ws_close gives up as aiohttp; neither leaves the
    "coroutine ... was never awaited" RuntimeWarning behind."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        async with aiohttp.ClientSession() as s:
            ws = await s.ws_connect(base + "/ws")
            msg = await ws.receive(timeout="1")
            assert msg.type is aiohttp.WSMsgType.ERROR
            assert isinstance(msg.data, TypeError)
            bad = aiohttp.ClientWSTimeout(ws_close="1")  # type: ignore[arg-type]
            ws = await s.ws_connect(base + "/ws", timeout=bad)
            await ws.close()
            assert isinstance(ws.exception(), TypeError)
            gc.collect()
    assert [str(w.message) for w in seen if "never awaited" in str(w.message)] == []
