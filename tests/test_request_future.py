"""The future a request waits on: tasks woken with their own context, cancel
messages, an exception escaping a woken task, and (aioxide) the wake-up
without ``loop.call_soon``.

aioxide's request future (``_aioxide.EngineFuture``) wakes its task from the
bridge's own loop callback once the batch of answers is set; these tests pin
what a user could see of that against aiohttp.
"""

from __future__ import annotations

import asyncio
import contextvars
import http.server
import sys
import threading
from typing import Any

import pytest
from aiohttp import web

from conftest import TARGET, start_app

N = 20


def _app(release: asyncio.Event | None = None) -> web.Application:
    app = web.Application()

    async def ok(request: web.Request) -> web.Response:
        return web.Response(body=b"ok")

    async def slow(request: web.Request) -> web.Response:
        assert release is not None
        await asyncio.wait_for(release.wait(), 30)
        return web.Response(body=b"late")

    app.router.add_get("/", ok)
    app.router.add_get("/slow", slow)
    return app


async def test_each_woken_task_runs_in_its_own_context(aiohttp: Any, serve: Any) -> None:
    url = await serve(_app())
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    seen: list[tuple[str, str]] = []

    async def worker(name: str) -> None:
        var.set(name)
        for _ in range(N):
            async with s.get(url + "/") as r:
                assert await r.read() == b"ok"
            seen.append((name, var.get()))

    async with aiohttp.ClientSession() as s:
        async with asyncio.timeout(30):
            await asyncio.gather(*(worker(f"task{i}") for i in range(4)))
    assert len(seen) == 4 * N
    assert all(name == value for name, value in seen)


async def test_a_cancel_message_reaches_the_awaiting_code(aiohttp: Any, serve: Any) -> None:
    release = asyncio.Event()
    url = await serve(_app(release))
    try:
        async with aiohttp.ClientSession() as s:
            task = asyncio.ensure_future(s.get(url + "/slow"))
            await asyncio.sleep(0.2)
            task.cancel("stop now")
            with pytest.raises(asyncio.CancelledError) as info:
                async with asyncio.timeout(10):
                    await task
            if sys.version_info >= (3, 11):  # (3.9's and 3.10's tasks drop it)
                assert info.value.args == ("stop now",)
            async with asyncio.timeout(10), s.get(url + "/") as r:
                assert await r.read() == b"ok"
    finally:
        release.set()


@pytest.mark.skipif(TARGET != "aioxide", reason="the repr of aioxide's request future")
async def test_a_task_waiting_for_its_answer_shows_what_it_waits_for(
    aiohttp: Any, serve: Any
) -> None:
    release = asyncio.Event()
    url = await serve(_app(release))
    try:
        async with aiohttp.ClientSession() as s:
            task = asyncio.ensure_future(s.get(url + "/slow"))
            async with asyncio.timeout(10):
                while "wait_for=<EngineFuture pending request=" not in repr(task):
                    await asyncio.sleep(0.01)
            release.set()
            async with asyncio.timeout(10):
                resp = await task
            resp.release()
    finally:
        release.set()


def test_an_interrupt_in_one_woken_task_leaves_the_others_answered(aiohttp: Any) -> None:
    """KeyboardInterrupt raised by a task right after its answer leaves the
    loop as in asyncio, and the answers delivered beside it are not lost."""
    loop = asyncio.new_event_loop()
    runner, url = loop.run_until_complete(start_app(_app()))

    async def session() -> Any:
        return aiohttp.ClientSession()

    s = loop.run_until_complete(session())

    async def fetch(i: int) -> bytes:
        async with s.get(url + "/") as r:
            body: bytes = await r.read()
        if i == 0:
            raise KeyboardInterrupt
        return body

    try:
        tasks = [loop.create_task(fetch(i)) for i in range(8)]
        # (Awaited by no other task: each would raise it again.)
        with pytest.raises(KeyboardInterrupt):
            loop.run_until_complete(tasks[0])
        assert isinstance(tasks[0].exception(), KeyboardInterrupt)
        rest = loop.run_until_complete(asyncio.wait_for(asyncio.gather(*tasks[1:]), 10))
        assert rest == [b"ok"] * 7
    finally:
        loop.run_until_complete(s.close())
        loop.run_until_complete(runner.cleanup())
        loop.close()


class _Ok(http.server.BaseHTTPRequestHandler):
    """200 "ok", head and body in one write (read with the head)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.skipif(TARGET != "aioxide", reason="how aioxide wakes a request's task")
async def test_answers_wake_their_tasks_without_call_soon(aiohttp: Any) -> None:
    """An asyncio future schedules its task's wake-up with ``loop.call_soon``
    (a Handle and four Python calls on the default loop); a request's future
    wakes it from the bridge's callback.  (The server is a thread, so that
    only the client's calls are counted.)"""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    loop = asyncio.get_running_loop()
    woken_by_future: list[Any] = []
    real = loop.call_soon

    def counting(callback: Any, *args: Any, **kwargs: Any) -> Any:
        if args and type(args[0]) is asyncio.Future:
            woken_by_future.append(callback)
        return real(callback, *args, **kwargs)

    async def one() -> None:
        async with s.get(url + "/") as r:
            assert await r.read() == b"ok"

    try:
        async with aiohttp.ClientSession() as s:
            await one()
            loop.call_soon = counting  # type: ignore[method-assign]
            try:
                async with asyncio.timeout(30):
                    for _ in range(N):  # (driven on the loop's thread)
                        await one()
                    await asyncio.gather(*(one() for _ in range(N)))  # (the engine's)
            finally:
                del loop.call_soon
    finally:
        server.shutdown()
        server.server_close()
    # With an asyncio future per request: 2 N wake-ups.
    assert woken_by_future == []
