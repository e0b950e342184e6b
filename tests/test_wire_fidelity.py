"""What goes on the wire and what comes off it, byte for byte: request header
names as the user wrote them (session, request, middleware), response header
names as the server sent them (``raw_headers``, duplicates in order),
``max_headers`` on a pooled connection, and where HTTP chunks end
(``readchunk()`` / ``iter_chunks()``).  Raw sockets show the bytes; every
test runs on both targets."""

from __future__ import annotations

import asyncio
from typing import Any

from conftest import read_request_head


class Capture:
    """A raw server that records request heads and answers ``answer``."""

    def __init__(self, answer: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") -> None:
        self.heads: list[bytes] = []
        self.answer = answer

    async def __call__(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await asyncio.wait_for(read_request_head(r), 5)
            except (asyncio.IncompleteReadError, asyncio.TimeoutError):
                return
            self.heads.append(head)
            w.write(self.answer)
            await w.drain()

    def names(self, i: int = -1) -> list[str]:
        lines = self.heads[i].decode("latin-1").split("\r\n")[1:]
        return [line.split(":", 1)[0] for line in lines if line]


async def test_request_header_names_go_out_as_written(
    aiohttp: Any, raw_server: Any, session_kw: dict[str, Any]
) -> None:
    cap = Capture()
    url = await raw_server(cap)
    async with aiohttp.ClientSession(headers={"X-Real-IP": "1.2.3.4"}, **session_kw) as s:
        async with s.get(url, headers={"CUSTOM-AUTH": "t", "x-lower": "v"}) as resp:
            assert await resp.read() == b"ok"
            sent = list(resp.request_info.headers.keys())
    names = cap.names()
    for name in ("X-Real-IP", "CUSTOM-AUTH", "x-lower"):
        assert name in names, names
        assert name in sent, sent
    # aiohttp's own headers in its case.
    for name in ("Host", "Accept", "Accept-Encoding", "User-Agent"):
        assert name in names, names


async def test_middleware_header_names_go_out_as_written(aiohttp: Any, raw_server: Any) -> None:
    cap = Capture()
    url = await raw_server(cap)

    async def sign(req: Any, handler: Any) -> Any:
        req.headers["X-Signature-HMAC"] = "abc"
        req.headers["x-amz-date"] = "20261205"
        return await handler(req)

    async with aiohttp.ClientSession(middlewares=(sign,)) as s:
        async with s.get(url) as resp:
            await resp.read()
    assert "X-Signature-HMAC" in cap.names()
    assert "x-amz-date" in cap.names()


async def test_raw_headers_keep_the_servers_case_and_order(
    aiohttp: Any, raw_server: Any, session_kw: dict[str, Any]
) -> None:
    answer = b"HTTP/1.1 200 OK\r\nX-Rep: 1\r\nx-rep: 2\r\nCONTENT-length: 2\r\nX-REP: 3\r\n\r\nok"
    url = await raw_server(Capture(answer))
    async with aiohttp.ClientSession(**session_kw) as s:
        async with s.get(url) as resp:
            assert resp.raw_headers == (
                (b"X-Rep", b"1"),
                (b"x-rep", b"2"),
                (b"CONTENT-length", b"2"),
                (b"X-REP", b"3"),
            )
            assert resp.headers.getall("x-rep") == ["1", "2", "3"]
            assert await resp.read() == b"ok"


def _many(n: int) -> bytes:
    extra = b"".join(b"X-H%d: v\r\n" % i for i in range(n))
    return b"HTTP/1.1 200 OK\r\n" + extra + b"Content-Length: 2\r\n\r\nok"


async def test_max_headers_on_an_already_pooled_connection(aiohttp: Any, raw_server: Any) -> None:
    """The limit is the request's, whatever connection it goes on."""
    small, big = Capture(), Capture(_many(250))
    answers = [small.answer, big.answer, big.answer]
    conns = 0

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        nonlocal conns
        conns += 1
        while answers:
            try:
                await asyncio.wait_for(read_request_head(r), 5)
            except (asyncio.IncompleteReadError, asyncio.TimeoutError):
                return
            w.write(answers.pop(0))
            await w.drain()

    url = await raw_server(handler)
    async with aiohttp.ClientSession() as s:
        async with s.get(url) as resp:
            assert await resp.read() == b"ok"
        async with s.get(url, max_headers=300) as resp:
            assert len(resp.headers) == 251
            assert await resp.read() == b"ok"
        assert conns == 1, "the second request went on the pooled connection"
        # The default limit again on the same connection: refused.
        try:
            await s.get(url)
        except aiohttp.ClientResponseError as e:
            assert "Too many headers" in e.message
        else:
            raise AssertionError("expected ClientResponseError")


def _chunked(*chunks: bytes) -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body


async def test_readchunk_reports_chunk_ends(
    aiohttp: Any, raw_server: Any, session_kw: dict[str, Any]
) -> None:
    url = await raw_server(Capture(_chunked(b"abc", b"de", b"fghi")))
    async with aiohttp.ClientSession(**session_kw) as s:
        async with s.get(url) as resp:
            got = []
            while True:
                data, end = await resp.content.readchunk()
                if not data and not end:
                    break
                got.append((data, end))
    assert got == [(b"abc", True), (b"de", True), (b"fghi", True)]


async def test_iter_chunks_reports_chunk_ends_of_a_slow_body(aiohttp: Any, raw_server: Any) -> None:
    """Chunks sent apart, one of them split across two writes."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request_head(r)
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for part in (b"5\r\nhel", b"lo\r\n", b"6\r\n world\r\n", b"0\r\n\r\n"):
            w.write(part)
            await w.drain()
            await asyncio.sleep(0.05)

    url = await raw_server(handler)
    async with aiohttp.ClientSession() as s:
        async with s.get(url) as resp:
            got = [c async for c in resp.content.iter_chunks()]
    data = b"".join(d for d, _ in got)
    assert data == b"hello world"
    # Where chunks ended, in bytes (aiohttp may report an end twice: once
    # with the data, once as (b"", True) when the data came before its CRLF).
    at, ends = 0, set()
    for d, end in got:
        at += len(d)
        if end:
            ends.add(at)
    assert sorted(ends) == [5, 11]


async def test_readchunk_of_a_content_length_body_has_no_chunk_ends(
    aiohttp: Any, raw_server: Any
) -> None:
    url = await raw_server(Capture())
    async with aiohttp.ClientSession() as s:
        async with s.get(url) as resp:
            assert await resp.content.readchunk() == (b"ok", False)
            assert await resp.content.readchunk() == (b"", False)
