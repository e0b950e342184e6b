"""resp.content: the whole StreamReader API of aiohttp's streams reference.

Bodies come from real loopback servers, chunked ones written piece by piece
(with pauses, so that they arrive in several reads) to exercise reads that
span pieces.  Every test must pass against aiohttp 3.14.5 too
(AIOXIDE_TEST_TARGET=aiohttp).
"""

from __future__ import annotations

import asyncio
import gzip
import importlib
import zlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from aiohttp import web

from conftest import TARGET, read_request_head

pytestmark = pytest.mark.timeout(30)

PIECES = [b"ab", b"cd\r", b"\nef\r\n", b"\r\ngh", b"ij\nklm", b"nop"]
BODY = b"".join(PIECES)
PLAIN = b"".join(b"line %04d of the compressed body\n" % i for i in range(400))
GZIPPED = gzip.compress(PLAIN)


def _line_too_long() -> type[BaseException]:
    """The LineTooLong class of the target (aiohttp keeps it in http_exceptions)."""
    for name in ("http_exceptions", "streams"):
        try:
            mod = importlib.import_module(f"{TARGET}.{name}")
        except ImportError:
            continue
        cls = getattr(mod, "LineTooLong", None)
        if cls is not None:
            return cls  # type: ignore[no-any-return]
    raise AssertionError("no LineTooLong")


def _chunked_handler(
    pieces: Sequence[bytes], *, headers: bytes = b"", pause: float = 0.01, release: Any = None
) -> Any:
    """A raw server writing ``pieces`` as HTTP chunks, one write (and pause) each.

    With ``release`` (an asyncio.Event) it stops after the first piece until set.
    """

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" + headers + b"\r\n")
        for i, piece in enumerate(pieces):
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            if i == 0 and release is not None:
                await asyncio.wait_for(release.wait(), 10)
            await asyncio.sleep(pause)
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    return handler


def _length_handler(body: bytes, *, split: int | None = None, headers: bytes = b"") -> Any:
    """A raw server answering with a Content-Length body (in two writes at ``split``)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n" % (len(body), headers))
        if split is None:
            writer.write(body)
        else:
            writer.write(body[:split])
            await writer.drain()
            await asyncio.sleep(0.02)
            writer.write(body[split:])
        await writer.drain()

    return handler


@pytest.fixture
async def session(aiohttp: Any) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def chunked(raw_server: Any) -> str:
    return str(await raw_server(_chunked_handler(PIECES)))


# --------------------------------------------------------------------------- read / readany


async def test_read_n_returns_at_most_n(session: Any, chunked: str) -> None:
    async with session.get(chunked) as resp:
        assert await resp.content.read(0) == b""
        got = []
        while True:
            part = await resp.content.read(3)
            assert len(part) <= 3
            if not part:
                break
            got.append(part)
        assert b"".join(got) == BODY
        assert resp.content.at_eof()
        assert await resp.content.read(3) == b""
        assert await resp.content.read() == b""


async def test_read_all_after_partial_read(session: Any, chunked: str) -> None:
    async with session.get(chunked) as resp:
        first = await resp.content.read(1)
        assert first == b"a"
        assert await resp.content.read() == BODY[1:]
        assert resp.content.is_eof() and resp.content.at_eof()


async def test_readany(session: Any, chunked: str) -> None:
    async with session.get(chunked) as resp:
        parts = []
        while part := await resp.content.readany():
            parts.append(part)
        assert b"".join(parts) == BODY
        assert await resp.content.readany() == b""


async def test_total_bytes(session: Any, chunked: str) -> None:
    async with session.get(chunked) as resp:
        assert await resp.content.read() == BODY
        assert resp.content.total_bytes == len(BODY)
        assert resp.content.total_raw_bytes == len(BODY)  # nothing to decode


# --------------------------------------------------------------------------- readchunk


async def test_readchunk_chunked(session: Any, chunked: str) -> None:
    async with session.get(chunked) as resp:
        chunks = []
        for _ in range(50):  # bounded
            data, end = await resp.content.readchunk()
            if (data, end) == (b"", False):
                break
            chunks.append((data, end))
        assert b"".join(d for d, _ in chunks) == BODY
        # The end of every HTTP chunk is reported, as aiohttp does.
        assert [d for d, e in chunks if e] != []
        assert chunks[-1][1] is True
        assert await resp.content.readchunk() == (b"", False)


async def test_readchunk_content_length(session: Any, raw_server: Any) -> None:
    url = await raw_server(_length_handler(BODY, split=5))
    async with session.get(url) as resp:
        chunks = []
        async for data, end in resp.content.iter_chunks():
            assert end is False  # not chunked: never the end of an HTTP chunk
            chunks.append(data)
        assert b"".join(chunks) == BODY
        assert await resp.content.readchunk() == (b"", False)


# --------------------------------------------------------------------------- readexactly


async def test_readexactly_across_pieces(session: Any, chunked: str) -> None:
    async with session.get(chunked) as resp:
        assert await resp.content.readexactly(5) == BODY[:5]
        assert await resp.content.readexactly(7) == BODY[5:12]
        rest = len(BODY) - 12
        assert await resp.content.readexactly(rest) == BODY[12:]
        assert await resp.content.readexactly(0) == b""


async def test_readexactly_incomplete(session: Any, chunked: str) -> None:
    async with session.get(chunked) as resp:
        await resp.content.readexactly(4)
        with pytest.raises(asyncio.IncompleteReadError) as ei:
            await resp.content.readexactly(len(BODY))
        assert ei.value.partial == BODY[4:]
        assert ei.value.expected == len(BODY)
        with pytest.raises(asyncio.IncompleteReadError) as ei:
            await resp.content.readexactly(2)
        assert (ei.value.partial, ei.value.expected) == (b"", 2)


# --------------------------------------------------------------------------- readline / readuntil


async def test_readline(session: Any, chunked: str) -> None:
    async with session.get(chunked) as resp:
        lines = []
        for _ in range(20):  # bounded
            line = await resp.content.readline()
            if not line:
                break
            lines.append(line)
        assert lines == [b"abcd\r\n", b"ef\r\n", b"\r\n", b"ghij\n", b"klmnop"]
        assert await resp.content.readline() == b""


async def test_async_for_yields_lines(session: Any, chunked: str) -> None:
    async with session.get(chunked) as resp:
        lines = [line async for line in resp.content]
        assert lines == [b"abcd\r\n", b"ef\r\n", b"\r\n", b"ghij\n", b"klmnop"]


async def test_readuntil_separator_straddles_pieces(session: Any, chunked: str) -> None:
    # b"\r\n\r\n" is split over the pieces b"\nef\r\n" and b"\r\ngh"
    async with session.get(chunked) as resp:
        assert await resp.content.readuntil(b"\r\n\r\n") == b"abcd\r\nef\r\n\r\n"
        assert await resp.content.readuntil(b"j\nk") == b"ghij\nk"
        # no separator before the end: the rest
        assert await resp.content.readuntil(b"zz") == b"lmnop"
        assert await resp.content.readuntil(b"zz") == b""


async def test_readuntil_multibyte_separator_split_one_byte_per_piece(
    session: Any, raw_server: Any
) -> None:
    pieces = [b"xx<", b"-", b"-", b">yy<-", b"->"]
    url = await raw_server(_chunked_handler(pieces))
    async with session.get(url) as resp:
        assert await resp.content.readuntil(b"<-->") == b"xx<-->"
        assert await resp.content.readuntil(b"<-->") == b"yy<-->"
        assert await resp.content.readuntil(b"<-->") == b""


async def test_readuntil_empty_separator(session: Any, chunked: str) -> None:
    async with session.get(chunked) as resp:
        with pytest.raises(ValueError, match="Separator should be at least one-byte string"):
            await resp.content.readuntil(b"")


async def test_readuntil_max_size(session: Any, raw_server: Any) -> None:
    line = b"z" * 300 + b"\n"
    url = await raw_server(_chunked_handler([line[:100], line[100:], b"short\n"]))
    async with session.get(url) as resp:
        with pytest.raises(_line_too_long()) as ei:
            await resp.content.readuntil(b"\n", max_size=150)
        exc = ei.value
        assert exc.args[0] == b"z" * 100 + b"..."
        assert exc.args[1] == 150
        assert "Got more than 150 bytes when reading" in str(exc)
        assert exc.code == 400  # type: ignore[attr-defined]


async def test_readline_max_line_length(session: Any, raw_server: Any) -> None:
    url = await raw_server(_length_handler(b"0123456789\nab\n"))
    async with session.get(url) as resp:
        # the line with its separator (11 bytes) is over 10
        with pytest.raises(_line_too_long()) as ei:
            await resp.content.readline(max_line_length=10)
        assert ei.value.args[:2] == (b"0123456789\n...", 10)


async def test_readline_within_max_line_length(session: Any, raw_server: Any) -> None:
    url = await raw_server(_length_handler(b"0123456789\nab\n"))
    async with session.get(url) as resp:
        assert await resp.content.readline(max_line_length=11) == b"0123456789\n"
        assert await resp.content.readline(max_line_length=3) == b"ab\n"


async def test_line_longer_than_high_water_mark(aiohttp: Any, raw_server: Any) -> None:
    url = await raw_server(_length_handler(b"y" * 5000 + b"\n"))
    async with aiohttp.ClientSession(read_bufsize=1000) as s:
        async with s.get(url) as resp:
            assert resp.content.get_read_buffer_limits() == (1000, 2000)
            with pytest.raises(_line_too_long()) as ei:
                async for _ in resp.content:
                    pass
            assert ei.value.args[1] == 2000


# --------------------------------------------------------------------------- iterators


async def test_iter_chunked(session: Any, chunked: str) -> None:
    async with session.get(chunked) as resp:
        parts = [p async for p in resp.content.iter_chunked(4)]
        assert all(0 < len(p) <= 4 for p in parts)
        assert b"".join(parts) == BODY


async def test_iter_chunked_raises_limits(aiohttp: Any, raw_server: Any) -> None:
    url = await raw_server(_length_handler(b"q" * 3000, split=1000))
    async with aiohttp.ClientSession(read_bufsize=1000) as s:
        async with s.get(url) as resp:
            it = resp.content.iter_chunked(1500)
            assert resp.content.get_read_buffer_limits() == (1500, 3000)
            parts = [p async for p in it]
            assert all(0 < len(p) <= 1500 for p in parts)
            assert b"".join(parts) == b"q" * 3000


async def test_iter_any(session: Any, chunked: str) -> None:
    async with session.get(chunked) as resp:
        parts = [p async for p in resp.content.iter_any()]
        assert all(parts)
        assert b"".join(parts) == BODY


async def test_iter_chunks(session: Any, chunked: str) -> None:
    async with session.get(chunked) as resp:
        items = [item async for item in resp.content.iter_chunks()]
        assert all(isinstance(d, bytes) and isinstance(e, bool) for d, e in items)
        assert b"".join(d for d, _ in items) == BODY


# --------------------------------------------------------------------------- state


async def test_eof_states_with_stalled_body(session: Any, raw_server: Any) -> None:
    release = asyncio.Event()
    url = await raw_server(_chunked_handler([b"first", b"second"], release=release))
    try:
        async with session.get(url) as resp:
            content = resp.content
            assert await content.read(5) == b"first"
            assert content.is_eof() is False
            assert content.at_eof() is False
            assert resp.closed is False
            release.set()
            await asyncio.wait_for(content.wait_eof(), 5)
            # everything received, nothing read yet
            assert content.is_eof() is True
            assert content.at_eof() is False
            assert content.read_nowait() == b"second"
            assert content.at_eof() is True
            assert resp.closed is True
    finally:
        release.set()


async def test_wait_eof_keeps_data_readable(session: Any, chunked: str) -> None:
    async with session.get(chunked) as resp:
        await resp.content.wait_eof()
        assert resp.content.is_eof()
        assert await resp.content.read() == BODY
        await resp.content.wait_eof()  # at EOF: returns at once


async def test_read_nowait(session: Any, chunked: str) -> None:
    async with session.get(chunked) as resp:
        await resp.content.wait_eof()
        assert resp.content.read_nowait(3) == BODY[:3]
        assert resp.content.read_nowait(4) == BODY[3:7]
        assert resp.content.read_nowait() == BODY[7:]
        assert resp.content.read_nowait() == b""


async def test_read_nowait_while_waiting_raises(session: Any, raw_server: Any) -> None:
    release = asyncio.Event()
    url = await raw_server(_chunked_handler([b"one", b"two"], release=release))
    try:
        async with session.get(url) as resp:
            assert await resp.content.read(3) == b"one"
            reader = asyncio.ensure_future(resp.content.read(3))
            await asyncio.sleep(0.05)
            assert not reader.done()
            with pytest.raises(RuntimeError, match="waiting for incoming data"):
                resp.content.read_nowait()
            with pytest.raises(RuntimeError, match="readany\\(\\) called while another coroutine"):
                await resp.content.readany()
            release.set()
            assert await asyncio.wait_for(reader, 5) == b"two"
    finally:
        release.set()


async def test_unread_data_is_deprecated(session: Any, chunked: str) -> None:
    async with session.get(chunked) as resp:
        head = await resp.content.read(2)
        assert head == b"ab"
        with pytest.warns(DeprecationWarning, match="unread_data\\(\\) is deprecated"):
            resp.content.unread_data(head)
        assert await resp.content.read() == BODY


async def test_exception_none_then_set_by_release(aiohttp: Any, session: Any, chunked: str) -> None:
    resp = await session.get(chunked)
    assert resp.content.exception() is None
    resp.release()
    exc = resp.content.exception()
    assert isinstance(exc, aiohttp.ClientConnectionError)
    assert str(exc) == "Connection closed"
    with pytest.raises(aiohttp.ClientConnectionError):
        await resp.content.readuntil(b"x")


async def test_exception_of_truncated_body(aiohttp: Any, session: Any, raw_server: Any) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()
        await asyncio.sleep(0.05)  # then the connection closes

    url = await raw_server(handler)
    async with session.get(url) as resp:
        with pytest.raises(aiohttp.ClientPayloadError):
            for _ in range(10):  # bounded
                await resp.content.readany()
        assert isinstance(resp.content.exception(), aiohttp.ClientPayloadError)
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.content.read()


async def test_on_eof(session: Any, raw_server: Any) -> None:
    release = asyncio.Event()
    url = await raw_server(_chunked_handler([b"one", b"two"], release=release))
    calls: list[str] = []
    try:
        async with session.get(url) as resp:
            resp.content.on_eof(lambda: calls.append("eof"))
            assert await resp.content.read(3) == b"one"
            assert calls == []
            release.set()
            assert await resp.content.read() == b"two"
            assert calls == ["eof"]
            # registered at EOF: called at once
            resp.content.on_eof(lambda: calls.append("late"))
            assert calls == ["eof", "late"]
    finally:
        release.set()


async def test_on_eof_callback_error_is_logged(
    session: Any, chunked: str, caplog: pytest.LogCaptureFixture
) -> None:
    def boom() -> None:
        raise ZeroDivisionError

    async with session.get(chunked) as resp:
        await resp.read()
        resp.content.on_eof(boom)  # at EOF: called, and its error only logged
    assert "Exception in eof callback" in caplog.text


async def test_get_read_buffer_limits(aiohttp: Any, chunked: str) -> None:
    async with aiohttp.ClientSession(read_bufsize=1000) as s:
        async with s.get(chunked) as resp:
            assert resp.content.get_read_buffer_limits() == (1000, 2000)
            await resp.content.read(1)
            assert resp.content.get_read_buffer_limits() == (1000, 2000)
            await resp.content.read(5000)  # a larger read raises the limits
            assert resp.content.get_read_buffer_limits() == (5000, 10000)


async def test_default_read_buffer_limits(aiohttp: Any, session: Any, chunked: str) -> None:
    async with session.get(chunked) as resp:
        assert resp.content.get_read_buffer_limits() == (2**18, 2**19)
        assert repr(resp.content).startswith("<StreamReader")
        assert "low=" not in repr(resp.content)


async def test_stream_repr(aiohttp: Any, raw_server: Any) -> None:
    url = await raw_server(_length_handler(b"hello world"))
    async with aiohttp.ClientSession(read_bufsize=1000) as s:
        async with s.get(url) as resp:
            await resp.content.wait_eof()
            assert repr(resp.content) == "<StreamReader 11 bytes eof low=1000 high=2000>"
            await resp.content.read()
            low, high = resp.content.get_read_buffer_limits()
            assert repr(resp.content) == f"<StreamReader eof low={low} high={high}>"


# --------------------------------------------------------------------------- compressed bodies


async def test_total_raw_bytes_gzip_content_length(session: Any, raw_server: Any) -> None:
    url = await raw_server(
        _length_handler(GZIPPED, split=100, headers=b"Content-Encoding: gzip\r\n")
    )
    async with session.get(url) as resp:
        assert await resp.read() == PLAIN
        assert resp.content.total_bytes == len(PLAIN)
        assert resp.content.total_raw_bytes == len(GZIPPED)


async def test_total_raw_bytes_gzip_chunked_streamed(session: Any, raw_server: Any) -> None:
    pieces = [GZIPPED[i : i + 700] for i in range(0, len(GZIPPED), 700)]
    url = await raw_server(_chunked_handler(pieces, headers=b"Content-Encoding: gzip\r\n"))
    async with session.get(url) as resp:
        got = [p async for p in resp.content.iter_chunked(1000)]
        assert b"".join(got) == PLAIN
        assert resp.content.total_bytes == len(PLAIN)
        assert resp.content.total_raw_bytes == len(GZIPPED)


async def test_total_raw_bytes_gzip_chunked_read(session: Any, raw_server: Any) -> None:
    pieces = [GZIPPED[i : i + 700] for i in range(0, len(GZIPPED), 700)]
    url = await raw_server(_chunked_handler(pieces, headers=b"Content-Encoding: gzip\r\n"))
    async with session.get(url) as resp:
        assert await resp.read() == PLAIN
        assert resp.content.total_raw_bytes == len(GZIPPED)


async def test_total_raw_bytes_deflate_from_aiohttp_server(session: Any, serve: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=zlib.compress(PLAIN), headers={"Content-Encoding": "deflate"})

    app = web.Application()
    app.router.add_get("/", handler)
    base = await serve(app)
    async with session.get(base + "/") as resp:
        assert await resp.read() == PLAIN
        assert resp.content.total_raw_bytes == len(zlib.compress(PLAIN))


async def test_total_raw_bytes_without_decompression(aiohttp: Any, raw_server: Any) -> None:
    url = await raw_server(_length_handler(GZIPPED, headers=b"Content-Encoding: gzip\r\n"))
    async with aiohttp.ClientSession(auto_decompress=False) as s:
        async with s.get(url) as resp:
            assert await resp.read() == GZIPPED
            assert resp.content.total_bytes == len(GZIPPED)
            assert resp.content.total_raw_bytes == len(GZIPPED)


async def test_readline_over_decompressed_body(session: Any, raw_server: Any) -> None:
    pieces = [GZIPPED[i : i + 333] for i in range(0, len(GZIPPED), 333)]
    url = await raw_server(_chunked_handler(pieces, headers=b"Content-Encoding: gzip\r\n"))
    async with session.get(url) as resp:
        lines = [line async for line in resp.content]
        assert lines == PLAIN.splitlines(keepends=True)


# --------------------------------------------------------------------------- empty bodies


async def test_head_response_is_empty_payload(aiohttp: Any, session: Any, serve: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="ignored for HEAD")

    app = web.Application()
    app.router.add_route("HEAD", "/", handler)
    base = await serve(app)
    async with session.head(base + "/") as resp:
        content = resp.content
        assert content is aiohttp.EMPTY_PAYLOAD
        assert repr(content) == "<EmptyStreamReader>"
        assert content.is_eof() and content.at_eof()
        assert await content.read() == b""
        assert await content.readany() == b""
        assert await content.readline() == b""
        assert content.read_nowait() == b""
        assert [x async for x in content.iter_any()] == []
        with pytest.raises(asyncio.IncompleteReadError) as ei:
            await content.readexactly(3)
        assert (ei.value.partial, ei.value.expected) == (b"", 3)
        assert content.exception() is None


async def test_zero_length_body_is_a_stream_at_eof(
    aiohttp: Any, session: Any, raw_server: Any
) -> None:
    url = await raw_server(_length_handler(b""))
    async with session.get(url) as resp:
        content = resp.content
        assert content is not aiohttp.EMPTY_PAYLOAD
        assert isinstance(content, aiohttp.StreamReader)
        assert content.is_eof() and content.at_eof()
        assert await content.readchunk() == (b"", False)
        assert await content.readchunk() == (b"", False)
        assert await content.read() == b""


def _cut_in_a_chunk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Any:
    """A chunked body whose second chunk (5 bytes announced) ends after 2."""

    async def handler() -> None:
        await read_request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.write(b"5\r\nde")
        await writer.drain()

    return handler()


@pytest.mark.parametrize("how", ["readany", "read_n", "iter_any", "readchunk", "readexactly"])
async def test_bytes_received_before_a_body_error_are_handed_out_first(
    session: Any, raw_server: Any, aiohttp: Any, how: str
) -> None:
    """Nothing received is lost: the bytes of a chunk cut short come out
    before the ClientPayloadError, as in aiohttp (they were dropped, in most
    runs, when the engine met the end of the connection in the same read)."""
    url = await raw_server(_cut_in_a_chunk)
    async with session.get(url) as resp:
        got = b""
        with pytest.raises(aiohttp.ClientPayloadError):
            if how == "readexactly":
                got = await resp.content.readexactly(5)
                await resp.content.read()
            for _ in range(10):
                if how == "readany":
                    piece = await resp.content.readany()
                elif how == "read_n":
                    piece = await resp.content.read(100)
                elif how == "readchunk":
                    piece, _ = await resp.content.readchunk()
                else:
                    piece = await resp.content.iter_any().__anext__()
                assert piece, "the end of the body before its error"
                got += piece
        assert got == b"abcde"
        assert resp.content.total_bytes == 5
