"""Request options of aiohttp's reference: compress, chunked rules, expect100,
version (HTTP/1.0), read_until_eof, server_hostname, header injection and
max_headers.  Raw sockets show exactly what goes on the wire.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import ssl
import zlib
from typing import Any

import pytest
import trustme
from aiohttp import web

from conftest import TARGET, DropsItsSecondRequest, answers, read_request_head

AIOXIDE = TARGET == "aioxide"


async def read_body(reader: asyncio.StreamReader, head: bytes) -> bytes:
    """The request body, framed by Content-Length or chunked encoding."""
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        out = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return out
            out += await reader.readexactly(size)
            await reader.readexactly(2)
    for line in lower.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return await reader.readexactly(int(line.split(b":")[1]))
    return b""


def header(head: bytes, name: str) -> str | None:
    for line in head.decode("latin-1").split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Capture:
    """A raw server that records each request head and body, answers 200."""

    def __init__(self) -> None:
        self.heads: list[bytes] = []
        self.bodies: list[bytes] = []
        self.connections = 0

    async def __call__(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.connections += 1
        while True:
            try:
                head = await asyncio.wait_for(read_request_head(r), 5)
            except (asyncio.IncompleteReadError, asyncio.TimeoutError):
                return
            self.heads.append(head)
            self.bodies.append(await read_body(r, head))
            w.write(OK)
            await w.drain()


# -- compress ------------------------------------------------------------


@pytest.mark.parametrize(
    "compress,coding,decode",
    [
        (True, "deflate", zlib.decompress),
        ("deflate", "deflate", zlib.decompress),
        ("gzip", "gzip", gzip.decompress),
    ],
)
async def test_compress_bytes_body(
    aiohttp: Any, raw_server: Any, compress: Any, coding: str, decode: Any
) -> None:
    cap = Capture()
    url = await raw_server(cap)
    data = b"compress me " * 1000
    async with aiohttp.ClientSession() as s:
        async with s.post(url, data=data, compress=compress) as resp:
            assert resp.status == 200
    assert header(cap.heads[0], "Content-Encoding") == coding
    assert decode(cap.bodies[0]) == data
    assert len(cap.bodies[0]) < len(data)


async def test_compress_streamed_file_is_chunked(
    aiohttp: Any, raw_server: Any, tmp_path: Any
) -> None:
    cap = Capture()
    url = await raw_server(cap)
    data = os.urandom(300_000) + b"z" * 300_000
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    async with aiohttp.ClientSession() as s:
        with open(path, "rb") as f:
            async with s.post(url, data=f, compress="gzip") as resp:
                assert resp.status == 200
    head = cap.heads[0]
    assert header(head, "Content-Encoding") == "gzip"
    assert header(head, "Transfer-Encoding") == "chunked"
    assert header(head, "Content-Length") is None
    assert gzip.decompress(cap.bodies[0]) == data


async def test_compress_received_by_aiohttp_web(aiohttp: Any, serve: Any) -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    app = web.Application()
    app.router.add_post("/", echo)
    url = await serve(app)
    async with aiohttp.ClientSession() as s:
        async with s.post(url + "/", data=b"x" * 5000, compress=True) as resp:
            assert await resp.read() == b"x" * 5000


async def test_empty_body_is_not_compressed(aiohttp: Any, raw_server: Any) -> None:
    cap = Capture()
    url = await raw_server(cap)
    async with aiohttp.ClientSession() as s:
        async with s.post(url, data=b"", compress=True) as resp:
            assert resp.status == 200
    assert header(cap.heads[0], "Content-Encoding") is None


async def test_compress_with_content_encoding_header_is_value_error(
    aiohttp: Any, raw_server: Any
) -> None:
    cap = Capture()
    url = await raw_server(cap)
    async with aiohttp.ClientSession() as s:
        with pytest.raises(ValueError, match="compress can not be set"):
            await s.post(url, data=b"abc", compress=True, headers={"Content-Encoding": "br"})
    assert cap.heads == []


async def test_compress_with_content_length_header_is_value_error(
    aiohttp: Any, raw_server: Any
) -> None:
    cap = Capture()
    url = await raw_server(cap)
    async with aiohttp.ClientSession() as s:
        with pytest.raises(ValueError, match="Content-Length"):
            await s.post(url, data=b"abc", compress=True, headers={"Content-Length": "3"})
    assert cap.heads == []


@pytest.mark.skipif(not AIOXIDE, reason="aiohttp labels zlib data with any coding given")
async def test_compress_with_unknown_coding_is_value_error(aiohttp: Any, raw_server: Any) -> None:
    # aiohttp sends zlib data labelled "br"; aioxide refuses to mislabel it.
    cap = Capture()
    url = await raw_server(cap)
    async with aiohttp.ClientSession() as s:
        with pytest.raises(ValueError, match="deflate"):
            await s.post(url, data=b"abc", compress="br")
    assert cap.heads == []


# -- chunked rules ---------------------------------------------------------


async def test_chunked_with_chunked_header_is_value_error(aiohttp: Any, raw_server: Any) -> None:
    cap = Capture()
    url = await raw_server(cap)
    async with aiohttp.ClientSession() as s:
        with pytest.raises(ValueError, match="chunked can not be set"):
            await s.post(url, data=b"abc", chunked=True, headers={"Transfer-Encoding": "chunked"})
    assert cap.heads == []


async def test_chunked_with_content_length_header_is_value_error(
    aiohttp: Any, raw_server: Any
) -> None:
    cap = Capture()
    url = await raw_server(cap)
    async with aiohttp.ClientSession() as s:
        with pytest.raises(ValueError, match="Content-Length"):
            await s.post(url, data=b"abc", chunked=True, headers={"Content-Length": "3"})
    assert cap.heads == []


# -- expect100 -------------------------------------------------------------


async def test_expect100_holds_the_body_until_100_continue(aiohttp: Any, raw_server: Any) -> None:
    seen: dict[str, Any] = {}

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        head = await read_request_head(r)
        seen["expect"] = header(head, "Expect")
        # Nothing of the body may arrive before the 100.
        try:
            early = await asyncio.wait_for(r.read(1), 0.3)
        except asyncio.TimeoutError:
            early = b""
        seen["early"] = early
        w.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await w.drain()
        seen["body"] = early + await r.readexactly(
            int(header(head, "Content-Length") or 0) - len(early)
        )
        w.write(OK)
        await w.drain()

    url = await raw_server(handler)
    async with aiohttp.ClientSession() as s:
        async with s.put(url, data=b"payload", expect100=True) as resp:
            assert resp.status == 200
            assert await resp.read() == b"ok"
    assert seen["expect"] == "100-continue"
    assert seen["early"] == b""
    assert seen["body"] == b"payload"


async def test_expect100_final_answer_without_100(aiohttp: Any, raw_server: Any) -> None:
    final = b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n"
    url = await raw_server(answers(final, hold=0.5))
    async with aiohttp.ClientSession() as s:
        async with s.put(url, data=b"payload", expect100=True) as resp:
            assert resp.status == 417


async def test_expect100_with_aiohttp_web(aiohttp: Any, serve: Any) -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    app = web.Application()
    app.router.add_put("/", echo)
    url = await serve(app)
    async with aiohttp.ClientSession() as s:
        for _ in range(3):
            async with s.put(url + "/", data=b"hello", expect100=True) as resp:
                assert await resp.read() == b"hello"


@pytest.mark.skipif(not AIOXIDE, reason="aiohttp waits for the 100 until a timeout")
async def test_expect100_sends_body_when_server_ignores_expect(
    aiohttp: Any, raw_server: Any
) -> None:
    # A server that ignores Expect and waits for the body: aiohttp hangs until
    # its timeout; aioxide sends the body after a second (as curl does).
    cap = Capture()
    url = await raw_server(cap)
    async with aiohttp.ClientSession() as s:
        async with s.put(url, data=b"abc", expect100=True) as resp:
            assert resp.status == 200
    assert cap.bodies == [b"abc"]


# -- version ---------------------------------------------------------------


async def test_http10_request_line_and_keep_alive(aiohttp: Any, raw_server: Any) -> None:
    cap = Capture()
    url = await raw_server(cap)
    async with aiohttp.ClientSession(version=aiohttp.HttpVersion10) as s:
        async with s.post(url, data=b"abc") as resp:
            assert resp.status == 200
            await resp.read()
    head = cap.heads[0]
    assert head.startswith(b"POST / HTTP/1.0\r\n")
    assert header(head, "Connection") == "keep-alive"
    assert header(head, "Content-Length") == "3"
    assert cap.bodies == [b"abc"]


async def test_module_request_with_http10(aiohttp: Any, raw_server: Any) -> None:
    cap = Capture()
    url = await raw_server(cap)
    async with aiohttp.request("GET", url, version=aiohttp.HttpVersion10) as resp:
        assert resp.status == 200
    assert cap.heads[0].startswith(b"GET / HTTP/1.0\r\n")


@pytest.mark.skipif(not AIOXIDE, reason="aiohttp sends chunked encoding to HTTP/1.0 servers")
async def test_http10_cannot_send_chunked(aiohttp: Any, raw_server: Any) -> None:
    cap = Capture()
    url = await raw_server(cap)

    async def gen() -> Any:
        yield b"abc"

    async with aiohttp.ClientSession(version=aiohttp.HttpVersion10) as s:
        with pytest.raises(ValueError, match="HTTP/1.0"):
            await s.post(url, data=gen())
    assert cap.heads == []


# -- read_until_eof ----------------------------------------------------------


@pytest.mark.parametrize("until_eof,expected", [(True, b"hello"), (False, b"")])
async def test_read_until_eof(
    aiohttp: Any, raw_server: Any, until_eof: bool, expected: bytes
) -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request_head(r)
        w.write(b"HTTP/1.1 200 OK\r\n\r\nhello")
        await w.drain()

    url = await raw_server(handler)
    async with aiohttp.ClientSession() as s:
        async with s.get(url, read_until_eof=until_eof) as resp:
            assert await resp.read() == expected


async def test_read_until_eof_false_keeps_framed_bodies(aiohttp: Any, raw_server: Any) -> None:
    cap = Capture()
    url = await raw_server(cap)
    async with aiohttp.ClientSession() as s:
        async with s.get(url, read_until_eof=False) as resp:
            assert await resp.read() == b"ok"


# -- headers -----------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Evil": "a\r\nInjected: yes"},
        {"X-Evil": "a\nb"},
        {"X-Evil\r\nInjected": "yes"},
        # Every control character but HTAB, as aiohttp 3.14.
        {"X-Evil": "a\x01b"},
        {"X-Evil": "a\x1bb"},
        {"X-Evil": "a\x7fb"},
        {"X-Evil\x08": "b"},
    ],
)
async def test_crlf_in_header_is_value_error_and_nothing_sent(
    aiohttp: Any, raw_server: Any, headers: dict[str, str]
) -> None:
    cap = Capture()
    url = await raw_server(cap)
    async with aiohttp.ClientSession() as s:
        with pytest.raises(ValueError):
            await s.get(url, headers=headers)
        await asyncio.sleep(0.05)
    assert cap.heads == []


async def test_a_tab_in_a_header_value_is_sent(aiohttp: Any, raw_server: Any) -> None:
    cap = Capture()
    url = await raw_server(cap)
    async with aiohttp.ClientSession() as s:
        async with s.get(url, headers={"X-Tab": "a\tb"}) as resp:
            await resp.read()
    assert b"\r\nX-Tab: a\tb\r\n" in cap.heads[0]


# -- max_headers ---------------------------------------------------------------


def many_headers(n: int) -> Any:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request_head(r)
        extra = b"".join(b"X-H%d: v\r\n" % i for i in range(n))
        w.write(b"HTTP/1.1 200 OK\r\n" + extra + b"Content-Length: 2\r\n\r\nok")
        await w.drain()

    return handler


async def test_too_many_headers_is_response_error(aiohttp: Any, raw_server: Any) -> None:
    url = await raw_server(many_headers(140))
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientResponseError) as info:
            await s.get(url)
    assert info.value.status == 400
    assert "Too many headers" in info.value.message


async def test_max_headers_per_request_and_session(aiohttp: Any, raw_server: Any) -> None:
    url = await raw_server(many_headers(250))
    async with aiohttp.ClientSession() as s:
        async with s.get(url, max_headers=300) as resp:
            assert len(resp.headers) == 251
        with pytest.raises(aiohttp.ClientResponseError):
            await s.get(url, max_headers=100)
    async with aiohttp.ClientSession(max_headers=300) as s:
        async with s.get(url) as resp:
            assert await resp.read() == b"ok"


# -- server_hostname ---------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def test_server_hostname_is_sent_as_sni(aiohttp: Any, ca: trustme.CA, serve: Any) -> None:
    names: list[str | None] = []
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("sni.example").configure_cert(ctx)
    ctx.sni_callback = lambda sock, name, c: names.append(name)  # type: ignore[assignment,misc]

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app = web.Application()
    app.router.add_get("/", hello)
    base = await serve(app, ssl_context=ctx)
    async with aiohttp.ClientSession() as s:
        async with s.get(base + "/", ssl=False, server_hostname="sni.example") as resp:
            assert await resp.text() == "hi"
    assert names == ["sni.example"]


# -- the stale-connection retry ------------------------------------------------


@pytest.mark.parametrize("retry", [True, False])
async def test_stale_pooled_connection_retry_switch(
    aiohttp: Any, raw_server: Any, retry: bool
) -> None:
    server = DropsItsSecondRequest()
    url = await raw_server(server)
    async with aiohttp.ClientSession() as s:
        s._retry_connection = retry
        async with s.get(url) as resp:
            assert await resp.read() == b"ok"
        if retry:
            async with s.get(url) as resp:
                assert await resp.read() == b"ok"
            assert server.connections == 2
        else:
            with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
                await s.get(url)
            assert server.connections == 1


# -- 307/308 with a streamed file body -------------------------------------------


@pytest.mark.parametrize("status", [307, 308])
async def test_redirect_resends_a_file_body(
    aiohttp: Any, serve: Any, tmp_path: Any, status: int
) -> None:
    got: list[bytes] = []

    async def first(request: web.Request) -> web.Response:
        await request.read()
        raise (
            web.HTTPTemporaryRedirect("/second")
            if status == 307
            else web.HTTPPermanentRedirect("/second")
        )

    async def second(request: web.Request) -> web.Response:
        got.append(await request.read())
        return web.Response(text="done")

    app = web.Application()
    app.router.add_post("/first", first)
    app.router.add_post("/second", second)
    url = await serve(app)
    data = os.urandom(300_000)
    path = tmp_path / "body.bin"
    path.write_bytes(data)
    async with aiohttp.ClientSession() as s:
        with open(path, "rb") as f:
            async with s.post(url + "/first", data=f) as resp:
                assert resp.status == 200
                assert await resp.text() == "done"
                assert [h.status for h in resp.history] == [status]
    assert got == [data]


@pytest.mark.parametrize(
    ("option", "head"),
    [
        # Name plus value of a header field.
        ("max_field_size", b"HTTP/1.1 200 OK\r\nX-Long: " + b"v" * 300 + b"\r\n"),
        # The status line (a 300-byte reason phrase).
        ("max_line_size", b"HTTP/1.1 200 " + b"O" * 300 + b"\r\n"),
    ],
)
async def test_per_request_head_limits(
    aiohttp: Any, raw_server: Any, option: str, head: bytes
) -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request_head(r)
        w.write(head + b"Content-Length: 2\r\n\r\nok")
        await w.drain()

    url = await raw_server(handler)
    async with aiohttp.ClientSession() as s:
        async with s.get(url) as resp:
            assert await resp.read() == b"ok"
        with pytest.raises(aiohttp.ClientResponseError) as info:
            await s.get(url, **{option: 100})
        assert info.value.status == 400
    async with aiohttp.ClientSession(**{option: 100}) as s:
        with pytest.raises(aiohttp.ClientResponseError):
            await s.get(url)
        async with s.get(url, **{option: 1000}) as resp:
            assert await resp.read() == b"ok"


async def test_a_tiny_read_bufsize_still_reads_in_socket_sized_pieces(
    aiohttp: Any, raw_server: Any
) -> None:
    """``read_bufsize`` bounds what is buffered, not what one read takes:
    with 1, 200 KB come in a few pieces (aiohttp: 2), not 2-byte ones."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request_head(r)
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + b"x" * 200_000)
        await w.drain()

    url = await raw_server(handler)
    async with aiohttp.ClientSession(read_bufsize=1) as s, s.get(url) as resp:
        pieces = [p async for p in resp.content.iter_any()]
    assert sum(map(len, pieces)) == 200_000
    assert len(pieces) < 100


async def test_per_request_read_bufsize(aiohttp: Any, raw_server: Any) -> None:
    cap = Capture()
    url = await raw_server(cap)
    async with aiohttp.ClientSession() as s:
        async with s.get(url, read_bufsize=1000) as resp:
            assert resp.content.get_read_buffer_limits() == (1000, 2000)
            await resp.read()
