"""One request flow: a request behaves the same whether the engine drives
every hop (no middleware, no tracing) or Python drives them around
middlewares or trace configs.  Each test runs on the three paths (the
``session_kw`` fixture of conftest.py)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from typing import Any

import pytest
from aiohttp import web

from conftest import TARGET


@pytest.fixture
async def base(serve: Any) -> str:
    async def up(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response(
            {"n": len(body), "sha": hashlib.sha256(body).hexdigest(), "path": request.path}
        )

    async def r307(request: web.Request) -> web.Response:
        await request.read()
        raise web.HTTPTemporaryRedirect("/up")

    async def r308(request: web.Request) -> web.Response:
        await request.read()
        raise web.HTTPPermanentRedirect("/r307")

    app = web.Application()
    app.router.add_post("/up", up)
    app.router.add_post("/r307", r307)
    app.router.add_post("/r308", r308)
    return str(await serve(app))


async def test_307_and_308_resend_a_file_body(
    aiohttp: Any, base: str, session_kw: dict[str, Any], tmp_path: Any
) -> None:
    data = bytes(range(256)) * 400
    path = tmp_path / "body.bin"
    path.write_bytes(data)
    async with aiohttp.ClientSession(**session_kw) as s:
        with open(path, "rb") as f:
            async with s.post(base + "/r308", data=f) as resp:
                got = await resp.json()
                assert [r.status for r in resp.history] == [308, 307]
        assert got == {"n": len(data), "sha": hashlib.sha256(data).hexdigest(), "path": "/up"}
        # The request closed the file it was given (in the executor), as aiohttp does.
        for _ in range(100):
            if f.closed:
                break
            await asyncio.sleep(0.01)
        assert f.closed


async def test_307_with_a_consumed_stream_fails_clearly(
    aiohttp: Any, base: str, session_kw: dict[str, Any]
) -> None:
    async def gen() -> Any:
        yield b"x" * 10

    async with aiohttp.ClientSession(**session_kw) as s:
        with pytest.raises(aiohttp.ClientPayloadError):
            await s.post(base + "/r307", data=gen())
        async with s.post(base + "/up", data=b"still usable") as resp:
            assert (await resp.json())["n"] == 12


async def test_failing_body_source_is_the_reported_cause(
    aiohttp: Any, base: str, session_kw: dict[str, Any]
) -> None:
    async def bad() -> Any:
        yield b"x"
        raise ZeroDivisionError

    async with aiohttp.ClientSession(**session_kw) as s:
        with pytest.raises(aiohttp.ClientConnectionError) as info:
            async with s.post(base + "/up", data=bad()):
                pass  # pragma: no cover
        assert isinstance(info.value.__cause__, ZeroDivisionError)


async def _wire_heads(raw_server: Any, n: int) -> tuple[str, list[bytes]]:
    heads: list[bytes] = []

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        heads.append(await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 5))
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await w.drain()

    return await raw_server(handler), heads


def _fields(head: bytes) -> list[tuple[str, str]]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    pairs = [line.split(":", 1) for line in lines if line]
    return sorted((k.strip().lower(), v.strip()) for k, v in pairs)


async def test_same_headers_on_the_wire_on_every_path(
    aiohttp: Any, raw_server: Any, session_kw: dict[str, Any]
) -> None:
    url, heads = await _wire_heads(raw_server, 2)
    kw = {"headers": {"X-Session": "s"}, "skip_auto_headers": ("Accept",)}
    async with aiohttp.ClientSession(**kw) as plain:
        async with plain.post(url, data=b"abc", headers={"X-Req": "r"}) as resp:
            assert await resp.read() == b"ok"
    async with aiohttp.ClientSession(**kw, **session_kw) as s:
        async with s.post(url, data=b"abc", headers={"X-Req": "r"}) as resp:
            assert await resp.read() == b"ok"
    assert len(heads) == 2
    assert _fields(heads[0]) == _fields(heads[1])
    names = [k for k, _ in _fields(heads[1])]
    assert "accept" not in names and "x-session" in names and "x-req" in names


@pytest.mark.h1_only("the request line and Host as HTTP/1.1 sends them")
async def test_host_is_always_sent_once_and_connect_asks_for_the_authority(
    aiohttp: Any, raw_server: Any, session_kw: dict[str, Any]
) -> None:
    """As aiohttp's ClientRequest: skip_auto_headers cannot skip Host, two
    Host fields given send the last one, first; CONNECT's target is
    ``host:port``. (The fast path sent no Host, both Hosts, and the path.)"""
    url, heads = await _wire_heads(raw_server, 3)
    async with aiohttp.ClientSession(**session_kw) as s:
        for kw in (
            {"skip_auto_headers": ("Host",)},
            {"headers": [("Host", "first.test"), ("X-A", "1"), ("Host", "last.test")]},
        ):
            async with s.get(url + "/p", **kw) as resp:
                assert await resp.read() == b"ok"
        async with s.request("CONNECT", url + "/p?q") as resp:
            assert await resp.read() == b"ok"
    port = url.rsplit(":", 1)[1]
    hosts = [[v for k, v in _fields(h) if k == "host"] for h in heads]
    assert hosts == [[f"127.0.0.1:{port}"], ["last.test"], [f"127.0.0.1:{port}"]]
    assert heads[1].split(b"\r\n")[1].lower() == b"host: last.test"
    assert heads[2].split(b"\r\n")[0] == f"CONNECT 127.0.0.1:{port} HTTP/1.1".encode()


async def test_what_a_middleware_deletes_is_not_sent(aiohttp: Any, raw_server: Any) -> None:
    url, heads = await _wire_heads(raw_server, 1)

    async def strip(req: Any, handler: Any) -> Any:
        for name in ("User-Agent", "Accept", "Accept-Encoding"):
            del req.headers[name]
        return await handler(req)

    async with aiohttp.ClientSession(middlewares=(strip,)) as s:
        async with s.get(url) as resp:
            assert await resp.read() == b"ok"
    names = [k for k, _ in _fields(heads[0])]
    assert "user-agent" not in names
    assert "accept" not in names
    assert "accept-encoding" not in names
    assert "host" in names


def _many_headers(n: int) -> Any:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 5)
        extra = b"".join(b"X-H%d: v\r\n" % i for i in range(n))
        w.write(
            b"HTTP/1.1 200 OK\r\n" + extra + b"Content-Length: 2\r\nConnection: close\r\n\r\nok"
        )
        await w.drain()

    return handler


async def test_max_headers_above_128_on_every_path(
    aiohttp: Any, raw_server: Any, session_kw: dict[str, Any]
) -> None:
    url = await raw_server(_many_headers(200))
    async with aiohttp.ClientSession(**session_kw) as s:
        async with s.get(url, max_headers=250) as resp:
            assert len(resp.headers) == 202
            assert await resp.read() == b"ok"
        with pytest.raises(aiohttp.ClientResponseError):
            await s.get(url)
    async with aiohttp.ClientSession(max_headers=250, **session_kw) as s:
        async with s.get(url) as resp:
            assert await resp.read() == b"ok"


def _hang_up_first(conns: list[int]) -> Any:
    """Read the first connection's request and close it unanswered; answer
    on the next ones."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        conns.append(1)
        head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 5)
        if len(conns) == 1:
            return  # closed by the fixture, no answer
        body = b"" if head.startswith(b"HEAD ") else b"ok"
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n" + body)
        await w.drain()

    return handler


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"])
async def test_idempotent_request_retried_once_on_a_fresh_connection(
    aiohttp: Any, raw_server: Any, session_kw: dict[str, Any], method: str
) -> None:
    conns: list[int] = []
    url = await raw_server(_hang_up_first(conns))
    async with aiohttp.ClientSession(**session_kw) as s:
        async with s.request(method, url) as resp:
            assert resp.status == 200
    assert len(conns) == 2


async def test_a_file_body_is_sent_again_on_the_retry(
    aiohttp: Any, raw_server: Any, session_kw: dict[str, Any], tmp_path: Any
) -> None:
    """The retry of an idempotent request starts a file body over (as for a
    307), as aiohttp does; its bytes all arrive on the new connection."""
    conns: list[int] = []
    got: list[bytes] = []

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        conns.append(1)
        head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 5)
        if len(conns) == 1:
            return  # closed by the fixture, no answer
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        got.append(await asyncio.wait_for(r.readexactly(length), 5))
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await w.drain()

    url = await raw_server(handler)
    data = os.urandom(200_000)
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    async with aiohttp.ClientSession(**session_kw) as s:
        with path.open("rb") as f:
            async with s.put(url, data=f) as resp:
                assert resp.status == 200
    assert len(conns) == 2
    assert got == [data]


class _Collect:
    """A payload writer that keeps the chunks; ``after_first`` runs (and is
    awaited) once the first chunk is in."""

    def __init__(self, after_first: Any = None) -> None:
        self.chunks: list[bytes] = []
        self.after_first = after_first

    async def write(self, chunk: bytes, *args: Any, **kwargs: Any) -> None:
        self.chunks.append(bytes(chunk))
        if len(self.chunks) == 1 and self.after_first is not None:
            await self.after_first()


@pytest.mark.skipif(TARGET != "aioxide", reason="aioxide's second pass over a file body")
@pytest.mark.parametrize("kind", ["file", "bytesio"])
async def test_a_second_pass_over_a_file_body_reads_its_own_bytes(
    aiohttp: Any, tmp_path: Any, kind: str
) -> None:
    """A retry (or a 307) sends a file body again while a read of the first
    pass may still be under way: the second pass gets every byte anyway."""
    size = aiohttp.payload.CHUNK_SIZE
    data = os.urandom(3 * size + 100)
    path = tmp_path / "body.bin"
    path.write_bytes(data)
    f: Any = path.open("rb") if kind == "file" else io.BytesIO(data)
    p = aiohttp.payload.get_payload(f)
    second_started = asyncio.Event()
    first_read_again = asyncio.Event()

    async def first_waits() -> None:
        await second_started.wait()

    async def second_lets_first_read() -> None:
        second_started.set()
        await first_read_again.wait()

    w1 = _Collect(first_waits)
    w2 = _Collect(second_lets_first_read)
    try:
        async with asyncio.timeout(10):
            first = asyncio.ensure_future(p.write_with_length(w1, None))
            while not w1.chunks:
                await asyncio.sleep(0)
            second = asyncio.ensure_future(p.write_with_length(w2, None))
            while len(w1.chunks) < 2:  # the first pass read on, past the second's start
                await asyncio.sleep(0)
            first.cancel()
            first_read_again.set()
            await second
    finally:
        f.close()
    assert b"".join(w2.chunks) == data


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_post_and_patch_are_never_retried(
    aiohttp: Any, raw_server: Any, session_kw: dict[str, Any], method: str
) -> None:
    conns: list[int] = []
    url = await raw_server(_hang_up_first(conns))
    async with aiohttp.ClientSession(**session_kw) as s:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await s.request(method, url, data=b"x")
    assert len(conns) == 1


async def test_no_retry_when_the_session_says_so(aiohttp: Any, raw_server: Any) -> None:
    conns: list[int] = []
    url = await raw_server(_hang_up_first(conns))
    async with aiohttp.ClientSession() as s:
        s._retry_connection = False
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await s.get(url)
    assert len(conns) == 1
