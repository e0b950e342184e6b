"""ClientResponse: status line, headers, URLs, request_info, body access
(read/text/json), release/close, raise_for_status, and the resp.content stream API.

Every test here must pass against aiohttp 3.14.5 (AIOXIDE_TEST_TARGET=aiohttp).
"""

from __future__ import annotations

import asyncio
import codecs
import hashlib
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from conftest import H2, http_version

LINES_BODY = b"line1\nline2\r\n\nlast-without-newline"
STREAM_BODY = bytes(range(256)) * 40  # 10240 bytes, sent in several writes
BIG_SIZE = 20 * 1024 * 1024


def _peer_port(request: web.Request) -> int:
    assert request.transport is not None
    return int(request.transport.get_extra_info("peername")[1])


class _Server:
    def __init__(self) -> None:
        self.base = ""
        self.big_sha256 = ""
        self.big_len = 0
        self.released = asyncio.Event()
        self.held_port = 0

    async def body(self, request: web.Request) -> web.Response:
        """/body?ct=<Content-Type>&text=<body text, utf-8>"""
        text = request.query.get("text", "hello")
        return web.Response(
            body=text.encode("utf-8"), headers={"Content-Type": request.query.get("ct", "")}
        )

    async def cp1251(self, request: web.Request) -> web.Response:
        return web.Response(
            body="Привет, мир".encode("cp1251"),
            headers={"Content-Type": "text/plain; charset=windows-1251"},
        )

    async def mislabelled(self, request: web.Request) -> web.Response:
        return web.Response(
            body="naïve café".encode(),
            headers={"Content-Type": "text/plain; charset=iso-8859-1"},
        )

    async def invalid_utf8(self, request: web.Request) -> web.Response:
        return web.Response(
            body=b"ok \xff\xfe end", headers={"Content-Type": "text/plain; charset=utf-8"}
        )

    async def dup(self, request: web.Request) -> web.Response:
        h: CIMultiDict[str] = CIMultiDict()
        h.add("X-Dup", "a")
        h.add("X-Dup", "b")
        h.add("X-Single", "one")
        return web.Response(text="dup", headers=h)

    async def status(self, request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="status body")

    async def echo(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"method": request.method, "raw_path": request.raw_path},
            headers={"X-Method": request.method},
        )

    async def lines(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        for piece in (b"line1\nli", b"ne2\r", b"\n\nlast-", b"without-newline"):
            await resp.write(piece)
        await resp.write_eof()
        return resp

    async def stream(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        for i in range(0, len(STREAM_BODY), 1000):
            await resp.write(STREAM_BODY[i : i + 1000])
        await resp.write_eof()
        return resp

    async def big(self, request: web.Request) -> web.StreamResponse:
        data = random.Random(20240601).randbytes(BIG_SIZE)
        resp = web.StreamResponse()
        if request.query.get("mode") == "length":
            resp.content_length = len(data)
        # else: chunked transfer encoding
        await resp.prepare(request)
        h = hashlib.sha256()
        sent = 0
        sizes = [1, 4096, 65535, 65536, 65537, 300_000, 1 << 20]
        i = 0
        while sent < len(data):  # bounded: every iteration sends >= 1 byte
            piece = data[sent : sent + sizes[i % len(sizes)]]
            i += 1
            h.update(piece)
            sent += len(piece)
            await resp.write(piece)
        await resp.write_eof()
        self.big_sha256 = h.hexdigest()
        self.big_len = sent
        return resp

    async def held(self, request: web.Request) -> web.StreamResponse:
        """Sends the first 64 KiB of a 4 MiB body, the rest only after `released`."""
        self.held_port = _peer_port(request)
        chunk = b"h" * 65536
        resp = web.StreamResponse()
        resp.content_length = 64 * len(chunk)
        await resp.prepare(request)
        await resp.write(chunk)
        try:
            await asyncio.wait_for(self.released.wait(), 10)
            for _ in range(63):
                await resp.write(chunk)
        except (ConnectionError, asyncio.TimeoutError):
            pass
        return resp

    async def port(self, request: web.Request) -> web.Response:
        return web.Response(text=str(_peer_port(request)))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/body", self.body)
        app.router.add_get("/cp1251", self.cp1251)
        app.router.add_get("/mislabelled", self.mislabelled)
        app.router.add_get("/invalid-utf8", self.invalid_utf8)
        app.router.add_get("/dup", self.dup)
        app.router.add_route("*", "/status/{code}", self.status)
        app.router.add_get("/lines", self.lines)
        app.router.add_get("/stream", self.stream)
        app.router.add_get("/big", self.big)
        app.router.add_get("/held", self.held)
        app.router.add_get("/port", self.port)
        app.router.add_route("*", "/{tail:.*}", self.echo)
        return app


@pytest.fixture
async def server(serve: Any) -> AsyncIterator[_Server]:
    srv = _Server()
    srv.base = await serve(srv.app())
    yield srv
    srv.released.set()


@pytest.fixture
async def session(aiohttp: Any) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession() as s:
        yield s


def _raw_responder(response: bytes) -> Any:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(response)
        await writer.drain()

    return handler


# --------------------------------------------------------------------------- status line


async def test_version_status_reason_ok(aiohttp: Any, server: Any, session: Any) -> None:
    async with session.get(server.base + "/echo") as resp:
        major, minor = (2, 0) if H2 else (1, 1)
        assert resp.version == (major, minor)
        assert resp.version == http_version()
        assert isinstance(resp.version, aiohttp.HttpVersion)
        assert resp.version.major == major
        assert resp.version.minor == minor
        assert resp.status == 200
        assert resp.reason == "OK"
        assert resp.ok is True


async def test_custom_reason_phrase(raw_server: Any, session: Any) -> None:
    base = await raw_server(
        _raw_responder(b"HTTP/1.1 200 Fine Thanks\r\nContent-Length: 2\r\nX-Raw: 1\r\n\r\nok")
    )
    async with session.get(base + "/") as resp:
        assert resp.status == 200
        assert resp.reason == "Fine Thanks"
        assert resp.headers["X-Raw"] == "1"
        assert await resp.text() == "ok"


async def test_http10_response_read_until_close(
    aiohttp: Any, raw_server: Any, session: Any
) -> None:
    # no Content-Length, no chunking: the body runs until the server closes
    base = await raw_server(_raw_responder(b"HTTP/1.0 200 OK\r\nX-V: 0\r\n\r\nold school body"))
    async with session.get(base + "/") as resp:
        assert resp.version == (1, 0)
        assert resp.version == aiohttp.HttpVersion10
        assert resp.status == 200
        assert await resp.read() == b"old school body"


@pytest.mark.parametrize(
    ("code", "reason", "ok"),
    [
        (200, "OK", True),
        (201, "Created", True),
        (204, "No Content", True),
        (302, "Found", True),
        (399, "", True),
        (400, "Bad Request", False),
        (404, "Not Found", False),
        (500, "Internal Server Error", False),
    ],
)
async def test_status_reason_and_ok(
    server: Any, session: Any, code: int, reason: str, ok: bool
) -> None:
    async with session.get(server.base + f"/status/{code}", allow_redirects=False) as resp:
        assert resp.status == code
        assert resp.reason == reason
        assert resp.ok is ok


async def test_method(server: Any, session: Any) -> None:
    async with session.post(server.base + "/echo", data=b"x") as resp:
        assert resp.method == "POST"
        assert resp.headers["X-Method"] == "POST"
    async with session.delete(server.base + "/echo") as resp:
        assert resp.method == "DELETE"


# --------------------------------------------------------------------------- URLs / request_info


async def test_url_and_real_url(server: Any, session: Any) -> None:
    async with session.get(server.base + "/echo?x=1") as resp:
        assert isinstance(resp.url, URL)
        assert isinstance(resp.real_url, URL)
        assert resp.url == URL(server.base + "/echo?x=1")
        assert resp.real_url == resp.url
    async with session.get(server.base + "/echo?x=1#frag") as resp:
        # the fragment is never sent; url drops it, real_url keeps it
        assert resp.url == URL(server.base + "/echo?x=1")
        assert resp.real_url == URL(server.base + "/echo?x=1#frag")
        assert (await resp.json())["raw_path"] == "/echo?x=1"


async def test_history_empty_without_redirects(server: Any, session: Any) -> None:
    async with session.get(server.base + "/echo") as resp:
        assert resp.history == ()


async def test_request_info(aiohttp: Any, server: Any, session: Any) -> None:
    url = server.base + "/echo?a=b#frag"
    async with session.put(url, headers={"X-Req": "mine"}, data=b"abc") as resp:
        info = resp.request_info
        assert isinstance(info, aiohttp.RequestInfo)
        assert info.url == URL(server.base + "/echo?a=b")
        assert info.real_url == URL(url)
        assert info.method == "PUT"
        assert info.headers["X-Req"] == "mine"
        assert info.headers["Host"] == URL(server.base).authority
        assert info.headers["x-req"] == "mine"  # case-insensitive


# --------------------------------------------------------------------------- headers


async def test_headers_multidict(server: Any, session: Any) -> None:
    async with session.get(server.base + "/dup") as resp:
        assert isinstance(resp.headers, CIMultiDictProxy)
        assert resp.headers["content-type"] == resp.headers["Content-Type"]
        assert resp.headers["CONTENT-TYPE"] == "text/plain; charset=utf-8"
        assert resp.headers.getall("x-dup") == ["a", "b"]
        assert resp.headers["X-Dup"] == "a"  # first value
        assert resp.headers.get("x-single") == "one"
        assert "X-Missing" not in resp.headers
        with pytest.raises(TypeError):
            resp.headers["X-New"] = "v"  # read-only proxy


async def test_raw_headers(server: Any, session: Any) -> None:
    async with session.get(server.base + "/dup") as resp:
        raw = resp.raw_headers
        assert isinstance(raw, tuple)
        for pair in raw:
            assert isinstance(pair, tuple)
            assert len(pair) == 2
            assert isinstance(pair[0], bytes) and isinstance(pair[1], bytes)
        lowered = [(k.lower(), v) for k, v in raw]
        assert [v for k, v in lowered if k == b"x-dup"] == [b"a", b"b"]
        assert (b"x-single", b"one") in lowered
        assert (b"content-length", b"3") in lowered
        assert len(raw) == sum(len(resp.headers.getall(k)) for k in set(resp.headers.keys()))


@pytest.mark.parametrize(
    ("header", "content_type", "charset"),
    [
        ("text/html; charset=ISO-8859-1", "text/html", "ISO-8859-1"),
        ('Text/HTML; Charset="UTF8"', "text/html", "UTF8"),
        ("application/json", "application/json", None),
        ("application/problem+json; charset=utf-8", "application/problem+json", "utf-8"),
    ],
)
async def test_content_type_and_charset(
    server: Any, session: Any, header: str, content_type: str, charset: Any
) -> None:
    async with session.get(server.base + "/body", params={"ct": header}) as resp:
        assert resp.content_type == content_type
        assert resp.charset == charset


async def test_missing_content_type(raw_server: Any, session: Any) -> None:
    base = await raw_server(
        _raw_responder(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nh\xc3\xa9llo")
    )
    async with session.get(base + "/") as resp:
        assert "Content-Type" not in resp.headers
        assert resp.content_type == "application/octet-stream"
        assert resp.charset is None
        # no charset and no body yet: the fallback cannot be computed
        with pytest.raises(RuntimeError):
            resp.get_encoding()
        assert await resp.text() == "héllo"
        assert resp.get_encoding() == "utf-8"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("text/plain; charset=windows-1251", codecs.lookup("windows-1251").name),
        ("text/plain; charset=UTF8", "utf-8"),
        ("text/html; charset=ISO-8859-1", codecs.lookup("ISO-8859-1").name),
        ("application/json", "utf-8"),  # RFC 7159 default, known before reading
    ],
)
async def test_get_encoding_from_header(
    server: Any, session: Any, header: str, expected: str
) -> None:
    async with session.get(server.base + "/body", params={"ct": header}) as resp:
        assert resp.get_encoding() == expected


async def test_get_encoding_unknown_charset_falls_back_after_read(
    server: Any, session: Any
) -> None:
    async with session.get(
        server.base + "/body", params={"ct": "text/plain; charset=no-such-codec"}
    ) as resp:
        assert resp.charset == "no-such-codec"
        with pytest.raises(RuntimeError):
            resp.get_encoding()
        await resp.read()
        assert resp.get_encoding() == "utf-8"


# --------------------------------------------------------------------------- body


async def test_read_returns_bytes_and_can_be_called_twice(server: Any, session: Any) -> None:
    async with session.get(server.base + "/stream") as resp:
        first = await resp.read()
        second = await resp.read()
        assert isinstance(first, bytes)
        assert first == STREAM_BODY
        assert second == first


async def test_text_uses_charset_from_header(server: Any, session: Any) -> None:
    async with session.get(server.base + "/cp1251") as resp:
        assert await resp.text() == "Привет, мир"


async def test_text_explicit_encoding_overrides_header(server: Any, session: Any) -> None:
    async with session.get(server.base + "/mislabelled") as resp:
        assert await resp.text(encoding="utf-8") == "naïve café"
        # with the header's (wrong) charset the UTF-8 bytes decode as latin-1
        assert await resp.text() == "naïve café".encode().decode("latin-1")


async def test_text_errors_argument(server: Any, session: Any) -> None:
    async with session.get(server.base + "/invalid-utf8") as resp:
        with pytest.raises(UnicodeDecodeError):
            await resp.text()
        assert await resp.text(errors="replace") == "ok \ufffd\ufffd end"


async def test_text_without_charset_defaults_to_utf8(server: Any, session: Any) -> None:
    async with session.get(
        server.base + "/body", params={"ct": "text/plain", "text": "héllo €"}
    ) as resp:
        assert await resp.text() == "héllo €"


async def test_json(server: Any, session: Any) -> None:
    doc = {"a": [1, 2, {"b": None}], "s": "ünï"}
    async with session.get(
        server.base + "/body", params={"ct": "application/json", "text": json.dumps(doc)}
    ) as resp:
        assert await resp.json() == doc


async def test_json_custom_loads(server: Any, session: Any) -> None:
    seen: list[Any] = []

    def loads(s: Any) -> Any:
        seen.append(s)
        return {"custom": json.loads(s)}

    async with session.get(
        server.base + "/body", params={"ct": "application/json", "text": '{"k": "ü"}'}
    ) as resp:
        assert await resp.json(loads=loads) == {"custom": {"k": "ü"}}
    assert seen == ['{"k": "ü"}']  # loads gets the decoded str


async def test_json_accepts_structured_json_subtype(server: Any, session: Any) -> None:
    async with session.get(
        server.base + "/body", params={"ct": "application/problem+json", "text": '{"t": 1}'}
    ) as resp:
        assert await resp.json() == {"t": 1}


async def test_json_wrong_content_type_raises(aiohttp: Any, server: Any, session: Any) -> None:
    async with session.get(
        server.base + "/body", params={"ct": "text/plain", "text": '{"a": 1}'}
    ) as resp:
        with pytest.raises(aiohttp.ContentTypeError) as exc_info:
            await resp.json()
        err = exc_info.value
        assert isinstance(err, aiohttp.ClientResponseError)
        assert err.status == 200
        assert "text/plain" in err.message
        assert err.request_info.url == resp.url
        # content_type=None disables the check; an explicit matching type works too
        assert await resp.json(content_type=None) == {"a": 1}
        assert await resp.json(content_type="text/plain") == {"a": 1}


async def test_json_empty_body_is_none(server: Any, session: Any) -> None:
    async with session.get(
        server.base + "/body", params={"ct": "application/json", "text": "  \n"}
    ) as resp:
        assert await resp.json() is None


# --------------------------------------------------------------------------- release / close


async def test_release_marks_closed(server: Any, session: Any) -> None:
    resp = await session.get(server.base + "/stream")
    assert await resp.read() == STREAM_BODY
    resp.release()
    assert resp.closed is True


async def test_async_with_releases_response(aiohttp: Any, server: Any, session: Any) -> None:
    async with session.get(server.base + "/stream") as resp:
        assert resp.status == 200
    assert resp.closed is True
    # the body was never read and the response is released: it is gone
    with pytest.raises(aiohttp.ClientConnectionError):
        await resp.read()


async def test_body_read_inside_async_with_stays_available(server: Any, session: Any) -> None:
    async with session.get(
        server.base + "/body", params={"ct": "application/json", "text": '{"x": 1}'}
    ) as resp:
        await resp.read()
    assert resp.closed is True
    assert await resp.text() == '{"x": 1}'
    assert await resp.json() == {"x": 1}


async def test_close_before_reading_drops_connection(
    aiohttp: Any, server: Any, session: Any
) -> None:
    resp = await session.get(server.base + "/held")
    assert resp.status == 200
    resp.close()
    assert resp.closed is True
    server.released.set()
    with pytest.raises(aiohttp.ClientConnectionError):
        await resp.read()
    async with session.get(server.base + "/port") as resp2:
        assert resp2.status == 200
        assert int(await resp2.text()) != server.held_port


async def test_raise_for_status(aiohttp: Any, server: Any, session: Any) -> None:
    async with session.get(server.base + "/status/200") as resp:
        assert resp.raise_for_status() is None
    async with session.get(server.base + "/status/404") as resp:
        with pytest.raises(aiohttp.ClientResponseError) as exc_info:
            resp.raise_for_status()
    err = exc_info.value
    assert err.status == 404
    assert err.message == "Not Found"
    assert err.request_info.url == URL(server.base + "/status/404")
    assert err.request_info.method == "GET"
    assert err.headers is not None
    assert err.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert err.history == ()


# --------------------------------------------------------------------------- resp.content


async def test_content_read_n(server: Any, session: Any) -> None:
    async with session.get(server.base + "/stream") as resp:
        parts = []
        for _ in range(len(STREAM_BODY) + 2):  # bounded
            part = await resp.content.read(100)
            assert len(part) <= 100
            if not part:
                break
            parts.append(part)
        assert b"".join(parts) == STREAM_BODY
        assert resp.content.at_eof()
        assert await resp.content.read(100) == b""


async def test_content_read_all(server: Any, session: Any) -> None:
    async with session.get(server.base + "/stream") as resp:
        assert await resp.content.read() == STREAM_BODY
        assert resp.content.at_eof()


async def test_content_readany(server: Any, session: Any) -> None:
    async with session.get(server.base + "/stream") as resp:
        parts = []
        for _ in range(len(STREAM_BODY) + 2):  # bounded
            part = await resp.content.readany()
            if not part:
                break
            parts.append(part)
        assert b"".join(parts) == STREAM_BODY


async def test_content_readline(server: Any, session: Any) -> None:
    async with session.get(server.base + "/lines") as resp:
        assert await resp.content.readline() == b"line1\n"
        assert await resp.content.readline() == b"line2\r\n"
        assert await resp.content.readline() == b"\n"
        assert await resp.content.readline() == b"last-without-newline"
        assert await resp.content.readline() == b""
        assert resp.content.at_eof()


async def test_content_async_iteration_yields_lines(server: Any, session: Any) -> None:
    async with session.get(server.base + "/lines") as resp:
        lines = [line async for line in resp.content]
    assert lines == [b"line1\n", b"line2\r\n", b"\n", b"last-without-newline"]
    assert b"".join(lines) == LINES_BODY


async def test_content_iter_chunked(server: Any, session: Any) -> None:
    async with session.get(server.base + "/stream") as resp:
        chunks = [c async for c in resp.content.iter_chunked(333)]
    assert all(0 < len(c) <= 333 for c in chunks)
    assert b"".join(chunks) == STREAM_BODY


async def test_content_iter_any(server: Any, session: Any) -> None:
    async with session.get(server.base + "/stream") as resp:
        chunks = [c async for c in resp.content.iter_any()]
    assert all(len(c) > 0 for c in chunks)
    assert b"".join(chunks) == STREAM_BODY


@pytest.mark.parametrize("mode", ["chunked", "length"])
async def test_large_streamed_body_iter_chunked(server: Any, session: Any, mode: str) -> None:
    chunk_size = 64 * 1024
    h = hashlib.sha256()
    total = 0
    count = 0
    async with session.get(server.base + "/big", params={"mode": mode}) as resp:
        assert resp.status == 200
        if mode == "length":
            assert resp.headers["Content-Length"] == str(BIG_SIZE)
        else:
            # HTTP/2 has no chunked framing: the body simply has no length.
            assert resp.headers.get("Transfer-Encoding") == (None if H2 else "chunked")
        async for chunk in resp.content.iter_chunked(chunk_size):
            assert 0 < len(chunk) <= chunk_size
            h.update(chunk)
            total += len(chunk)
            count += 1
    assert total == BIG_SIZE == server.big_len
    assert h.hexdigest() == server.big_sha256
    assert count >= BIG_SIZE // chunk_size
