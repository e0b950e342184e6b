"""UploadTracker (aiohttp 3.14): attempts, bytes_written and upload_complete
through the fast path, redirects, middlewares, failures and cancellation.
Every test runs on both targets (``AIOXIDE_TEST_TARGET=aiohttp``) and, in
the h2 suite, over HTTP/2."""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any, AsyncIterator

import pytest
from aiohttp import web

BIG = 300_000
CHUNK = 16 * 1024


async def count_body(request: web.Request) -> web.Response:
    n = 0
    async for chunk in request.content.iter_any():
        n += len(chunk)
    return web.Response(text=str(n))


async def get_ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def app_with(**routes: Any) -> web.Application:
    app = web.Application()
    app.router.add_post("/up", count_body)
    app.router.add_get("/get", get_ok)
    for path, handler in routes.items():
        app.router.add_route("*", "/" + path, handler)
    return app


async def completes(
    aiohttp: Any, s: Any, method: str, url: str, text: str, counts: tuple[int, int], **kw: Any
) -> None:
    """Send with a new tracker: the answer is ``text``, the tracker ends
    with (attempts, bytes_written) == ``counts`` and the body sent whole."""
    t = aiohttp.UploadTracker()
    async with s.request(method, url, upload_tracker=t, **kw) as r:
        assert await r.text() == text
    assert (t.attempts, t.bytes_written) == counts
    assert await t.upload_complete is None


async def until(check: Any, what: str) -> None:
    """Wait (5 s at most) for ``check()`` to hold."""

    async def poll() -> None:
        while not check():
            await asyncio.sleep(0.005)

    try:
        await asyncio.wait_for(poll(), 5)
    except asyncio.TimeoutError:
        pytest.fail(f"never: {what}")


async def test_a_bytes_body_is_counted_and_complete(aiohttp: Any, serve: Any) -> None:
    url = await serve(app_with())
    async with aiohttp.ClientSession() as s:
        t = aiohttp.UploadTracker()
        assert (t.attempts, t.bytes_written, t.upload_complete.done()) == (0, 0, False)
        async with s.post(url + "/up", data=b"x" * BIG, upload_tracker=t) as r:
            assert await r.text() == str(BIG)
            assert (t.attempts, t.bytes_written) == (1, BIG)
            # Sent whole before the answer: settled with the request.
            assert t.upload_complete.done()
        assert await t.upload_complete is None
    assert aiohttp.client.UploadTracker is aiohttp.UploadTracker


async def test_progress_is_counted_while_the_body_goes(aiohttp: Any, serve: Any) -> None:
    url = await serve(app_with())
    t = None
    seen = []

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(8):
            yield b"y" * CHUNK
            # What went before is counted before the source is asked again
            # (at most one chunk ahead of the connection).
            sent = (i + 1) * CHUNK
            await until(lambda n=sent: t is not None and t.bytes_written >= n, "counted")
            seen.append(t.bytes_written)  # type: ignore[union-attr]

    async with aiohttp.ClientSession() as s:
        t = aiohttp.UploadTracker()
        async with s.post(url + "/up", data=chunks(), upload_tracker=t) as r:
            assert await r.text() == str(8 * CHUNK)
        assert await t.upload_complete is None
    assert seen == [(i + 1) * CHUNK for i in range(8)]
    assert (t.attempts, t.bytes_written) == (1, 8 * CHUNK)


async def test_a_redirect_that_resends_the_body_is_a_second_attempt(
    aiohttp: Any, serve: Any
) -> None:
    async def moved(request: web.Request) -> web.Response:
        await request.read()
        raise web.HTTPTemporaryRedirect("/up")

    url = await serve(app_with(moved=moved))
    async with aiohttp.ClientSession() as s:
        await completes(aiohttp, s, "POST", url + "/moved", "1000", (2, 1000), data=b"z" * 1000)


async def test_a_request_without_a_body_completes_with_nothing_written(
    aiohttp: Any, serve: Any
) -> None:
    url = await serve(app_with())
    async with aiohttp.ClientSession() as s:
        await completes(aiohttp, s, "GET", url + "/get", "ok", (1, 0))


async def test_a_tracker_observes_one_request(aiohttp: Any, serve: Any) -> None:
    url = await serve(app_with())
    async with aiohttp.ClientSession() as s:
        t = aiohttp.UploadTracker()
        async with s.post(url + "/up", data=b"a", upload_tracker=t):
            pass
        with pytest.raises(RuntimeError, match="already bound"):
            await s.post(url + "/up", data=b"bb", upload_tracker=t)
        assert (t.attempts, t.bytes_written) == (1, 1)
        assert await t.upload_complete is None
    with pytest.raises(RuntimeError):
        await asyncio.to_thread(aiohttp.UploadTracker)  # outside a running loop


async def test_each_call_of_the_handler_by_a_middleware_is_an_attempt(
    aiohttp: Any, serve: Any
) -> None:
    url = await serve(app_with())

    async def twice(req: Any, handler: Any) -> Any:
        first = await handler(req)
        first.release()
        return await handler(req)

    async with aiohttp.ClientSession(middlewares=(twice,)) as s:
        await completes(aiohttp, s, "POST", url + "/up", "500", (2, 500), data=b"m" * 500)


async def test_a_failing_source_fails_upload_complete_with_the_requests_error(
    aiohttp: Any, serve: Any
) -> None:
    url = await serve(app_with())

    async def failing() -> AsyncIterator[bytes]:
        yield b"f" * 10
        raise ValueError("boom")

    async with aiohttp.ClientSession() as s:
        t = aiohttp.UploadTracker()
        with pytest.raises(aiohttp.ClientConnectionError) as raised:
            async with s.post(url + "/up", data=failing(), upload_tracker=t):
                pass
        with pytest.raises(aiohttp.ClientConnectionError) as settled:
            await t.upload_complete
        assert settled.value is raised.value
        assert (t.attempts, t.bytes_written) == (1, 10)


async def test_a_refused_connection_aborts_the_upload(aiohttp: Any, unused_port: int) -> None:
    async with aiohttp.ClientSession() as s:
        t = aiohttp.UploadTracker()
        with pytest.raises(aiohttp.ClientConnectorError):
            await s.post(f"http://127.0.0.1:{unused_port}/", data=b"abc", upload_tracker=t)
        with pytest.raises(aiohttp.UploadAbortedError, match="not fully sent"):
            await t.upload_complete
        assert (t.attempts, t.bytes_written) == (1, 0)


async def test_a_cancelled_request_aborts_the_upload(aiohttp: Any, serve: Any) -> None:
    url = await serve(app_with())
    gate = asyncio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        yield b"c" * 100
        await gate.wait()
        yield b"never"

    async with aiohttp.ClientSession() as s:
        t = aiohttp.UploadTracker()
        task = asyncio.ensure_future(s.post(url + "/up", data=stalled(), upload_tracker=t))
        await until(lambda: t.bytes_written == 100, "the first chunk counted")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(aiohttp.UploadAbortedError):
            await asyncio.wait_for(t.upload_complete, 5)
        assert t.attempts == 1


async def test_a_body_still_going_after_the_answer_settles_at_its_end(
    aiohttp: Any, serve: Any
) -> None:
    async def early(request: web.Request) -> web.StreamResponse:
        # Answers first, then reads the body to its end.
        resp = web.StreamResponse()
        await resp.prepare(request)
        n = 0
        async for chunk in request.content.iter_any():
            n += len(chunk)
        await resp.write(str(n).encode())
        await resp.write_eof()
        return resp

    url = await serve(app_with(early=early))
    gate = asyncio.Event()

    async def later() -> AsyncIterator[bytes]:
        yield b"e" * 100
        await gate.wait()
        yield b"e" * 200

    async with aiohttp.ClientSession() as s:
        t = aiohttp.UploadTracker()
        async with s.post(url + "/early", data=later(), upload_tracker=t) as r:
            assert r.status == 200
            assert t.bytes_written == 100
            assert not t.upload_complete.done()
            gate.set()
            assert await r.text() == "300"
            assert await asyncio.wait_for(t.upload_complete, 5) is None
        assert (t.attempts, t.bytes_written) == (1, 300)


async def test_a_body_still_going_after_the_answer_goes_on_unread(
    aiohttp: Any, serve: Any, session_kw: dict[str, Any]
) -> None:
    """The answer came first; the rest of the body is written while nobody
    reads the answer (aiohttp's writer goes on on its own): waiting for the
    upload before reading does not hang."""

    async def early(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        await resp.write(b"x")
        got = await request.read()
        await resp.write(str(len(got)).encode())
        return resp

    url = await serve(app_with(early=early))
    gate = asyncio.Event()
    chunk = b"z" * 4096

    async def later() -> AsyncIterator[bytes]:
        yield chunk
        await gate.wait()
        yield chunk

    async with aiohttp.ClientSession(**session_kw) as s:
        t = aiohttp.UploadTracker()
        async with s.post(url + "/early", data=later(), upload_tracker=t) as r:
            assert not t.upload_complete.done()
            gate.set()
            assert await asyncio.wait_for(t.upload_complete, 5) is None
            assert t.bytes_written == 2 * len(chunk)
            assert await r.read() == b"x8192"
        # The connection served its whole exchange: it goes back to the pool.
        async with s.post(url + "/early", data=b"again") as r:
            assert await r.read() == b"x5"


async def test_a_connection_reset_mid_body_aborts_the_upload(aiohttp: Any, raw_server: Any) -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(1000)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    url = await raw_server(reset)
    async with aiohttp.ClientSession() as s:
        t = aiohttp.UploadTracker()
        with pytest.raises(aiohttp.ClientConnectionError):
            await s.post(url + "/", data=b"r" * (8 * 2**20), upload_tracker=t)
        # Cut short by its connection: as aiohttp, not the request's error.
        with pytest.raises(aiohttp.UploadAbortedError):
            await asyncio.wait_for(t.upload_complete, 5)
        assert t.attempts == 1
        # What went before the reset (aiohttp keeps the count it last
        # confirmed from its transport's buffer: here none, 0).
        if aiohttp.__name__ != "aiohttp":
            assert 1000 <= t.bytes_written < 8 * 2**20


async def test_with_compress_the_compressed_bytes_are_counted(aiohttp: Any, serve: Any) -> None:
    url = await serve(app_with())
    data = b"a" * 100_000
    async with aiohttp.ClientSession() as s:
        t = aiohttp.UploadTracker()
        async with s.post(url + "/up", data=data, compress="deflate", upload_tracker=t) as r:
            assert await r.text() == str(len(data))  # (the server inflates it)
        assert await t.upload_complete is None
    if aiohttp.__name__ == "aiohttp":
        assert t.bytes_written == len(data)  # scaled back to the payload's
    else:
        assert 0 < t.bytes_written < len(data) // 10  # what went on the wire
