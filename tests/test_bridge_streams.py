"""Long-lived streams over the bridge: a wait on a body read that is given up
(a timeout, a cancelled task) loses neither the stream nor a byte.

As in aiohttp, whose StreamReader keeps what arrives while nobody waits:
``asyncio.wait_for(resp.content.readline(), 0.1)``, the server-sent-events
idiom, times out and the next read returns the next line, then the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import types
from collections.abc import AsyncIterator
from typing import Any

import pytest

from conftest import TARGET, read_request_head

# Each piece is sent after the previous one with a pause (server-sent events).
PAUSE = 0.4


def _chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces)


def _sse_handler(
    pieces: list[bytes], served: "asyncio.Queue[bool] | None" = None, requests: int = 1
) -> Any:
    """A chunked body: the first piece at once, each next one after PAUSE;
    keep-alive for ``requests`` requests (``served`` learns each end)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(requests):
            await read_request_head(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            writer.write(_chunked(pieces[0]))
            await writer.drain()
            for p in pieces[1:]:
                await asyncio.sleep(PAUSE)
                writer.write(_chunked(p))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            if served is not None:
                served.put_nowait(True)

    return handler


async def test_readline_timeout_keeps_the_stream(aiohttp: Any, raw_server: Any) -> None:
    url = await raw_server(_sse_handler([b"data: 1\n\n", b"data: 2\n\n", b"tail"]))
    async with aiohttp.ClientSession() as s, s.get(url) as resp:
        assert await asyncio.wait_for(resp.content.readline(), 5) == b"data: 1\n"
        assert await asyncio.wait_for(resp.content.readline(), 5) == b"\n"
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(resp.content.readline(), 0.1)
        # The connection lives on: the next event, then the rest of the body.
        assert await asyncio.wait_for(resp.content.readline(), 5) == b"data: 2\n"
        assert await asyncio.wait_for(resp.content.readline(), 5) == b"\n"
        assert await asyncio.wait_for(resp.read(), 5) == b"tail"


async def test_repeated_timeouts_lose_no_byte(aiohttp: Any, raw_server: Any) -> None:
    pieces = [b"a" * 10, b"b" * 70000, b"c" * 5, b"d" * 300000]
    url = await raw_server(_sse_handler(pieces))
    got = bytearray()
    timeouts = 0
    async with aiohttp.ClientSession() as s, s.get(url) as resp:
        for _ in range(200):  # bounded
            try:
                piece = await asyncio.wait_for(resp.content.readany(), 0.05)
            except asyncio.TimeoutError:
                timeouts += 1
                continue
            if not piece:
                break
            got += piece
    assert bytes(got) == b"".join(pieces)
    assert timeouts > 0  # the waits did time out between the pieces


@pytest.mark.parametrize("how", ["read", "readexactly", "readline", "iter_chunked"])
async def test_cancelled_read_then_read_again(aiohttp: Any, raw_server: Any, how: str) -> None:
    url = await raw_server(_sse_handler([b"x" * 1000, b"y" * 999 + b"\n"]))
    async with aiohttp.ClientSession() as s, s.get(url) as resp:
        content = resp.content
        assert await asyncio.wait_for(content.readexactly(1000), 5) == b"x" * 1000
        if how == "read":
            first = asyncio.ensure_future(content.read())
        elif how == "readexactly":
            first = asyncio.ensure_future(content.readexactly(1000))
        elif how == "readline":
            first = asyncio.ensure_future(content.readline())
        else:

            async def chunks() -> list[bytes]:
                return [c async for c in content.iter_chunked(1000)]

            first = asyncio.ensure_future(chunks())
        await asyncio.sleep(PAUSE / 2)  # waiting: nothing has arrived
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        # What the cancelled wait would have had is still there.
        assert await asyncio.wait_for(content.read(), 5) == b"y" * 999 + b"\n"
        assert content.at_eof()


@pytest.mark.skipif(
    TARGET != "aioxide",
    reason="aiohttp loses what a given-up content.read() had gathered (its local list)",
)
@pytest.mark.parametrize("then", ["read", "readany", "iter_chunked", "at_eof"])
async def test_cancelled_whole_read_of_a_sized_body_loses_nothing(
    aiohttp: Any, raw_server: Any, then: str
) -> None:
    # A Content-Length body: a read of the whole rest fills one bytes object
    # sized from it as the pieces arrive; such a read given up midway leaves
    # every byte for the next reads, whichever they are.  (resp.read() given
    # up closes the response, as in aiohttp: content.read() here.)
    body = bytes(range(256)) * 4096  # 1 MiB

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
        writer.write(body[:300_000])
        await writer.drain()
        await asyncio.sleep(PAUSE)
        writer.write(body[300_000:])
        await writer.drain()

    url = await raw_server(handler)
    async with aiohttp.ClientSession() as s, s.get(url) as resp:
        content = resp.content
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(content.read(), PAUSE / 4)
        if then == "read":
            got = await asyncio.wait_for(resp.read(), 5)
        elif then == "readany":
            got = b""
            for _ in range(1000):  # bounded
                piece = await asyncio.wait_for(content.readany(), 5)
                if not piece:
                    break
                got += piece
        elif then == "iter_chunked":
            got = b"".join([c async for c in content.iter_chunked(65536)])
        else:
            assert not content.at_eof()
            got = await asyncio.wait_for(content.read(), 5)
        assert got == body
        assert content.at_eof()


async def test_whole_reads_of_sized_bodies(aiohttp: Any, raw_server: Any) -> None:
    # read() of Content-Length bodies of every size class, one or many
    # segments; then the connection serves the next request.
    sizes = [1, 100, 65536, 1 << 20, 3 * (1 << 20) + 7]

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for n in sizes:
            await read_request_head(reader)
            data = (b"%d-" % n * (n // 2 + 1))[:n]
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n)
            for at in range(0, n, 100_000):
                writer.write(data[at : at + 100_000])
                await writer.drain()

    url = await raw_server(handler)
    async with aiohttp.ClientSession() as s:
        for n in sizes:
            async with s.get(url) as resp:
                got = await asyncio.wait_for(resp.read(), 5)
                assert got == (b"%d-" % n * (n // 2 + 1))[:n]
                assert type(got) is bytes
                assert resp.content.at_eof()


async def test_concurrent_whole_reads_of_sized_bodies(aiohttp: Any, serve: Any) -> None:
    # One read at a time fills a bytes object sized in advance, the others
    # take pieces: both at once give every body whole.
    from aiohttp import web

    async def sized(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        return web.Response(body=(b"%d." % n) * (n // len(b"%d." % n) + 1))

    app = web.Application()
    app.router.add_get("/{n}", sized)
    url = await serve(app)
    sizes = [700_000 + 13 * i for i in range(12)]

    async def one(s: Any, n: int) -> bytes:
        async with s.get(f"{url}/{n}") as resp:
            return bytes(await resp.read())

    async with aiohttp.ClientSession() as s:
        for _ in range(3):
            got = await asyncio.wait_for(asyncio.gather(*(one(s, n) for n in sizes)), 30)
            for n, body in zip(sizes, got):
                assert body == (b"%d." % n) * (n // len(b"%d." % n) + 1)


async def test_fully_read_stream_returns_its_connection(aiohttp: Any, raw_server: Any) -> None:
    conns = 0
    served: asyncio.Queue[bool] = asyncio.Queue()
    inner = _sse_handler([b"one\n", b"two\n"], served, requests=2)

    async def counting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal conns
        conns += 1
        await inner(reader, writer)

    url = await raw_server(counting)
    async with aiohttp.ClientSession() as s:
        for _ in range(2):
            async with s.get(url) as resp:
                assert await asyncio.wait_for(resp.content.readline(), 5) == b"one\n"
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(resp.content.readline(), 0.01)
                assert await asyncio.wait_for(resp.content.read(), 5) == b"two\n"
            await asyncio.wait_for(served.get(), 5)
    assert conns == 1  # kept alive across a given-up wait


async def test_release_during_stalled_read_fails_the_read(aiohttp: Any, raw_server: Any) -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
        await writer.drain()
        await reader.read()  # until the client closes

    url = await raw_server(stall)
    async with aiohttp.ClientSession() as s:
        resp = await s.get(url)
        assert await asyncio.wait_for(resp.content.readexactly(3), 5) == b"abc"
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(resp.content.read(1), 0.1)
        resp.release()
        with pytest.raises(aiohttp.ClientConnectionError):
            await asyncio.wait_for(resp.content.read(1), 5)


@pytest.mark.parametrize("how", ["release", "close"])
async def test_release_under_a_waiting_read_fails_it(
    aiohttp: Any, raw_server: Any, how: str
) -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
        await writer.drain()
        await reader.read()  # until the client closes

    url = await raw_server(stall)
    async with aiohttp.ClientSession() as s:
        resp = await asyncio.wait_for(s.get(url), 5)
        assert await asyncio.wait_for(resp.content.readexactly(3), 5) == b"abc"
        task = asyncio.ensure_future(resp.content.readany())
        await asyncio.sleep(0.1)
        assert not task.done()
        getattr(resp, how)()
        with pytest.raises(aiohttp.ClientConnectionError):
            await asyncio.wait_for(task, 5)


class _Racing(asyncio.Future):  # type: ignore[type-arg]
    """A waiter whose task is cancelled just as its result lands: what
    ``asyncio.timeout`` (and ``wait_for`` on 3.12+) does when the deadline
    and the data come in one loop turn."""

    victim: "asyncio.Task[Any] | None" = None

    def set_result(self, result: Any) -> None:
        super().set_result(result)
        if self.victim is not None:
            self.victim.cancel()


@pytest.mark.skipif(TARGET != "aioxide", reason="drives aioxide's StreamReader waiter")
@pytest.mark.parametrize("how", ["readany", "read"])
async def test_data_delivered_as_the_read_is_cancelled_is_kept(
    aiohttp: Any, raw_server: Any, how: str, monkeypatch: Any
) -> None:
    pieces = [b"x" * 10, b"y" * 20]
    url = await raw_server(_sse_handler(pieces))
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as s, s.get(url) as resp:
        content = resp.content
        waiters: list[_Racing] = []

        def create_future() -> _Racing:
            waiters.append(_Racing(loop=loop))
            return waiters[-1]

        fake = types.SimpleNamespace(create_future=create_future)
        monkeypatch.setattr(type(content), "_get_loop", lambda self: fake)
        task = asyncio.ensure_future(getattr(content, how)())
        await asyncio.sleep(0)
        waiters[-1].victim = task
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(5):
                await task
        monkeypatch.undo()
        async with asyncio.timeout(5):
            assert await content.read() == b"".join(pieces)


@pytest.mark.skipif(TARGET == "aiohttp", reason="aioxide's reuse of a dropped body's bytes")
async def test_a_dropped_body_is_reused_for_the_next_with_a_fresh_hash(
    aiohttp: Any, serve: Any
) -> None:
    # A large body's bytes object, once Python drops it, is read into again
    # for the next body of its length (no malloc, no page faults); one that
    # is still held never is; closing the session lets go of them.
    import gc
    import sys

    from aiohttp import web

    n = 300_000

    async def fill(request: web.Request) -> web.Response:
        return web.Response(body=bytes([int(request.match_info["i"])]) * n)

    app = web.Application()
    app.router.add_get("/{i}", fill)
    url = await serve(app)

    async with aiohttp.ClientSession() as s:

        async def get(i: int) -> bytes:
            async with s.get(f"{url}/{i}") as resp:
                return await asyncio.wait_for(resp.read(), 5)

        body = await get(1)
        first, stale = id(body), hash(body)
        del body
        gc.collect()
        body = await get(2)
        assert id(body) == first
        assert body == bytes([2]) * n
        # (Its hash was cached for the first content: it is computed anew.)
        assert hash(body) == hash(bytes([2]) * n) != stale
        held = body
        other = await get(3)
        assert id(other) != id(held)
        assert held == bytes([2]) * n and other == bytes([3]) * n
        kept = sys.getrefcount(held)
    assert sys.getrefcount(held) == kept - 1


@contextlib.asynccontextmanager
async def _kept_bodies(serve: Any, n: int, unused_for: float) -> AsyncIterator[str]:
    # A server of n-byte bodies (its URL), with kept bodies let go once
    # unused for `unused_for` seconds; none kept before, the age restored after.
    from aiohttp import web

    from aioxide import _aioxide

    async def fill(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * n)

    app = web.Application()
    app.router.add_get("/", fill)
    url = str(await serve(app))
    assert _aioxide.kept_bytes() == 0, "left by an earlier session"
    before = _aioxide.set_unused_for(unused_for)
    try:
        yield url
    finally:
        _aioxide.set_unused_for(before)


async def _until_kept(size: int) -> None:
    # Loop turns until what is kept came down to `size`, bounded.
    from aioxide import _aioxide

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while _aioxide.kept_bytes() > size and loop.time() < deadline:
        await asyncio.sleep(0.02)
    assert _aioxide.kept_bytes() == size


async def test_a_kept_body_is_let_go_by_the_loops_timer(aiohttp: Any, serve: Any) -> None:
    # Kept for a later body, then let go by a timer on the loop with the
    # session still open: nothing else happens meanwhile.
    from aioxide import _aioxide

    n = 300_000
    async with _kept_bodies(serve, n, 0.2) as url, aiohttp.ClientSession() as s:
        async with s.get(url) as resp:
            body = await asyncio.wait_for(resp.read(), 5)
        assert _aioxide.kept_bytes() == n
        await _until_kept(0)
        assert len(body) == n


async def test_kept_bodies_go_in_turn_never_before_their_time(aiohttp: Any, serve: Any) -> None:
    # On a clock the test moves: the one unused for long enough goes, the
    # one kept later stays, and the timer set again for it lets it go when
    # its own time comes.  (The first timer, 30 s of real time away, is
    # not the one that does it.)
    from aioxide import _aioxide

    n = 300_000
    async with _kept_bodies(serve, n, 30) as url, aiohttp.ClientSession() as s:

        async def get() -> bytes:
            async with s.get(url) as resp:
                return await asyncio.wait_for(resp.read(), 5)

        held = [await get()]
        _aioxide.move_kept_clock(0.5)
        held.append(await get())
        assert _aioxide.kept_bytes() == 2 * n
        # Unused 30.1 and 29.6 of 30 s: the timer's call lets the first go.
        _aioxide.move_kept_clock(29.6)
        _aioxide.let_go_unused()
        assert _aioxide.kept_bytes() == n
        # The timer it set again (due in about 0.4 s) lets the other go.
        await _until_kept(0)
        assert len(held) == 2
