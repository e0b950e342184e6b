"""Cancellation, connection cleanup and resource release.

* Cancelling a request (task.cancel(), asyncio.wait_for timeout) raises promptly, closes
  that connection (the server sees EOF/RST) and leaves the session usable.
* Leaving ``async with session.get() as resp`` without reading the body closes the
  connection instead of returning it to the pool.
* After the session and the event loop are closed, the process has the same number of
  open file descriptors and threads as before (no engine runtime left behind).
* Exiting the interpreter with a session still open is clean (exit status 0, no crash).
* The same round-trips work under uvloop.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Awaitable, Iterator
from typing import Any, Callable

import pytest

from conftest import TARGET, answers, read_request_head

PROMPT = 10.0
BIG = 16 * 1024 * 1024  # larger than any loopback socket buffering


# ---------------------------------------------------------------------------
# a raw test server usable from any event loop (pytest-asyncio's or uvloop's)
# ---------------------------------------------------------------------------


class Tracker:
    """Per-server bookkeeping: one 'closed' event per accepted connection."""

    def __init__(self) -> None:
        self.conns: list[asyncio.Event] = []
        self.stall_heads = asyncio.Event()

    @property
    def connections(self) -> int:
        return len(self.conns)

    async def all_closed(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in self.conns)), timeout)


def make_handler(
    t: Tracker,
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """Paths: /stall (never answers), /stall-body (head + partial body, then nothing),
    /big (16 MiB body), anything else: 200 "good" with keep-alive."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        closed = asyncio.Event()
        t.conns.append(closed)
        try:
            while True:
                try:
                    head = await read_request_head(reader)
                except asyncio.IncompleteReadError:
                    return
                path = head.split(b" ", 2)[1]
                if path in (b"/stall", b"/stall-body"):
                    if path == b"/stall-body":
                        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc")
                        await writer.drain()
                    t.stall_heads.set()
                    await reader.read()  # until the client closes
                    return
                if path == b"/big":
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % BIG)
                    piece = b"z" * 65536
                    for _ in range(BIG // len(piece)):
                        writer.write(piece)
                        await writer.drain()
                    continue
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            closed.set()
            writer.close()

    return handler


async def start_server(t: Tracker) -> tuple[asyncio.AbstractServer, str]:
    srv = await asyncio.start_server(make_handler(t), "127.0.0.1", 0)
    return srv, f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}"


async def _good(s: Any, base: str) -> None:
    async with s.get(base + "/good") as resp:
        assert resp.status == 200
        assert await resp.read() == b"good"


# ---------------------------------------------------------------------------
# scenarios (shared by the default-loop tests and the uvloop tests)
# ---------------------------------------------------------------------------


async def scenario_cancel_waiting_for_headers(aiohttp: Any) -> None:
    t = Tracker()
    srv, base = await start_server(t)
    try:
        async with aiohttp.ClientSession() as s:
            task = asyncio.ensure_future(s.get(base + "/stall"))
            await asyncio.wait_for(t.stall_heads.wait(), 5)
            t0 = time.monotonic()
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=PROMPT)
            assert task in done, "cancellation was not honoured promptly"
            assert task.cancelled()
            assert time.monotonic() - t0 < PROMPT
            # The server sees that connection go away.
            await asyncio.wait_for(t.conns[0].wait(), 5)
            # And the session keeps working.
            await _good(s, base)
            assert t.connections == 2
    finally:
        srv.close()


async def scenario_plain_get(aiohttp: Any) -> None:
    t = Tracker()
    srv, base = await start_server(t)
    try:
        async with aiohttp.ClientSession() as s:
            for _ in range(3):
                await _good(s, base)
        assert t.connections == 1  # keep-alive reuse
        await t.all_closed()  # closing the session closes the pooled connection
    finally:
        srv.close()


# ---------------------------------------------------------------------------
# default event loop
# ---------------------------------------------------------------------------


async def test_cancel_while_waiting_for_headers(aiohttp: Any) -> None:
    await scenario_cancel_waiting_for_headers(aiohttp)


async def test_cancel_while_reading_body(aiohttp: Any) -> None:
    t = Tracker()
    srv, base = await start_server(t)
    try:
        async with aiohttp.ClientSession() as s:
            resp = await s.get(base + "/stall-body")
            assert resp.status == 200
            task = asyncio.ensure_future(resp.read())
            await asyncio.sleep(0.1)
            assert not task.done()
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=PROMPT)
            assert task in done and task.cancelled()
            resp.release()
            await asyncio.wait_for(t.conns[0].wait(), 5)
            await _good(s, base)
            assert t.connections == 2
    finally:
        srv.close()


async def test_cancel_inside_async_with_block(aiohttp: Any) -> None:
    t = Tracker()
    srv, base = await start_server(t)
    try:
        async with aiohttp.ClientSession() as s:

            async def fetch() -> None:
                async with s.get(base + "/stall") as resp:
                    await resp.read()

            task = asyncio.ensure_future(fetch())
            await asyncio.wait_for(t.stall_heads.wait(), 5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, PROMPT)
            await asyncio.wait_for(t.conns[0].wait(), 5)
            await _good(s, base)
    finally:
        srv.close()


async def test_wait_for_timeout_on_request(aiohttp: Any) -> None:
    t = Tracker()
    srv, base = await start_server(t)
    try:
        async with aiohttp.ClientSession() as s:
            t0 = time.monotonic()
            with pytest.raises(asyncio.TimeoutError) as ei:
                await asyncio.wait_for(s.get(base + "/stall"), 0.2)
            assert time.monotonic() - t0 < PROMPT
            assert type(ei.value) is asyncio.TimeoutError
            await asyncio.wait_for(t.conns[0].wait(), 5)
            await _good(s, base)
            assert t.connections == 2
    finally:
        srv.close()


async def test_many_cancelled_requests_do_not_exhaust_pool(aiohttp: Any) -> None:
    t = Tracker()
    srv, base = await start_server(t)
    try:
        connector = aiohttp.TCPConnector(limit=2)
        async with aiohttp.ClientSession(connector=connector) as s:
            for _ in range(6):
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(s.get(base + "/stall"), 0.2)
            # With a pool of 2, leaked connections would make this hang.
            await asyncio.wait_for(_good(s, base), PROMPT)
            await asyncio.wait_for(asyncio.gather(*(c.wait() for c in t.conns[:6])), 5)
    finally:
        srv.close()


async def test_fully_read_response_reuses_connection(aiohttp: Any) -> None:
    t = Tracker()
    srv, base = await start_server(t)
    try:
        async with aiohttp.ClientSession() as s:
            await _good(s, base)
            await _good(s, base)
            assert t.connections == 1
            assert not t.conns[0].is_set()
    finally:
        srv.close()


async def test_unread_body_closes_connection_on_exit(aiohttp: Any) -> None:
    t = Tracker()
    srv, base = await start_server(t)
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(base + "/big") as resp:
                assert resp.status == 200
                assert resp.content_length == BIG
                await resp.content.readexactly(10)  # read a little, leave the rest
            # Not returned to the pool: the server sees the connection closed.
            await asyncio.wait_for(t.conns[0].wait(), 5)
            await _good(s, base)
            assert t.connections == 2
    finally:
        srv.close()


async def test_session_close_closes_pooled_connections(aiohttp: Any) -> None:
    t = Tracker()
    srv, base = await start_server(t)
    try:
        s = aiohttp.ClientSession()
        await asyncio.gather(*(_good(s, base) for _ in range(4)))
        assert t.connections >= 1
        assert not any(c.is_set() for c in t.conns)  # kept alive in the pool
        await s.close()
        assert s.closed
        await t.all_closed()
    finally:
        srv.close()


# ---------------------------------------------------------------------------
# resource release after session + loop close (fresh loops, sync tests)
# ---------------------------------------------------------------------------

SERVER_SCRIPT = textwrap.dedent(
    """
    import asyncio
    from aiohttp import web

    BIG = b"y" * (4 * 1024 * 1024)

    async def small(request):
        return web.Response(body=b"x" * 100)

    async def big(request):
        return web.Response(body=BIG)

    async def stall(request):
        await asyncio.sleep(3600)
        return web.Response()

    async def main():
        app = web.Application()
        app.router.add_get("/small", small)
        app.router.add_get("/big", big)
        app.router.add_get("/stall", stall)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(site._server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


@pytest.fixture(scope="module")
def external_server() -> Iterator[str]:
    """An aiohttp.web server in a subprocess, so it adds no fds/threads to this one."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER_SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def _os_thread_count() -> int:
    # Counts native threads too (e.g. a Rust runtime's workers), unlike threading.
    return len(os.listdir("/proc/self/task"))


def _run_in_fresh_loop(main: Callable[[], Awaitable[None]], new_loop: Callable[[], Any]) -> None:
    loop = new_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(main(), 45))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


def _settle(measure: Callable[[], int], expected: int, timeout: float = 5.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        gc.collect()
        n = measure()
        if n == expected or time.monotonic() > deadline:
            return n
        time.sleep(0.05)


def _workload(aiohttp: Any, base: str, refused_port: int) -> Callable[[], Awaitable[None]]:
    async def main() -> None:
        async with aiohttp.ClientSession() as s:
            for _ in range(20):
                async with s.get(base + "/small") as r:
                    assert await r.read() == b"x" * 100

            async def one() -> bytes:
                async with s.get(base + "/small") as r:
                    return await r.read()

            assert await asyncio.gather(*(one() for _ in range(10))) == [b"x" * 100] * 10
            for _ in range(3):  # released unread: these connections get closed
                async with s.get(base + "/big") as r:
                    assert r.status == 200
            with pytest.raises(aiohttp.ClientConnectorError):
                await s.get(f"http://127.0.0.1:{refused_port}/")
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(s.get(base + "/stall"), 0.2)

    return main


@pytest.fixture
def _proc_fs() -> None:
    if not os.path.isdir("/proc/self/fd") or not os.path.isdir("/proc/self/task"):
        pytest.skip("needs /proc")


@pytest.mark.usefixtures("_proc_fs")
def test_fds_released_after_session_and_loop_close(
    aiohttp: Any, external_server: str, unused_port: int
) -> None:
    gc.collect()
    before = _fd_count()
    _run_in_fresh_loop(_workload(aiohttp, external_server, unused_port), asyncio.new_event_loop)
    after = _settle(_fd_count, before)
    assert after == before, f"fd leak: {before} open before, {after} after"


@pytest.mark.usefixtures("_proc_fs")
def test_threads_released_after_session_and_loop_close(
    aiohttp: Any, external_server: str, unused_port: int
) -> None:
    # Trivial for aiohttp (no threads); for aioxide this checks that the engine's
    # runtime threads are shut down once the session and its loop are gone.
    before_py = threading.active_count()
    before_os = _os_thread_count()
    _run_in_fresh_loop(_workload(aiohttp, external_server, unused_port), asyncio.new_event_loop)
    assert _settle(threading.active_count, before_py) == before_py
    after_os = _settle(_os_thread_count, before_os)
    assert after_os == before_os, f"thread leak: {before_os} threads before, {after_os} after"


@pytest.mark.usefixtures("_proc_fs")
def test_repeated_loops_do_not_accumulate_resources(aiohttp: Any, external_server: str) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as s, s.get(external_server + "/small") as r:
            assert await r.read() == b"x" * 100

    gc.collect()
    fds, threads = _fd_count(), _os_thread_count()
    for _ in range(10):
        _run_in_fresh_loop(main, asyncio.new_event_loop)
    assert _settle(_fd_count, fds) == fds
    assert _settle(_os_thread_count, threads) == threads


@pytest.mark.usefixtures("_proc_fs")
async def test_sessions_closed_on_a_live_loop_leave_no_fd(aiohttp: Any, unused_port: int) -> None:
    # A long-lived loop that opens and closes sessions: each closed session's
    # engine bridge (an eventfd) goes with it, not with the loop.
    async def one() -> None:
        async with aiohttp.ClientSession() as s:
            with pytest.raises(aiohttp.ClientConnectorError):
                await s.get(f"http://127.0.0.1:{unused_port}/")

    await one()
    gc.collect()
    before = _fd_count()
    for _ in range(20):
        await one()
    deadline = time.monotonic() + 5
    while _fd_count() > before and time.monotonic() < deadline:
        gc.collect()
        await asyncio.sleep(0.02)
    assert _fd_count() == before


# ---------------------------------------------------------------------------
# interpreter exit with a session still open
# ---------------------------------------------------------------------------

EXIT_PRELUDE = textwrap.dedent(
    """
    import asyncio, importlib, os, sys
    aiohttp = importlib.import_module(os.environ["AIOXIDE_TEST_TARGET"])
    base = sys.argv[1]
    """
)

EXIT_SCRIPTS = {
    # asyncio.run() closes the loop; the session is never closed.
    "open_session_after_asyncio_run": """
        KEEP = []
        async def main():
            s = aiohttp.ClientSession()
            KEEP.append(s)
            async with s.get(base + "/small") as r:
                assert (await r.read()) == b"x" * 100
        asyncio.run(main())
        print("done", flush=True)
    """,
    # The loop is never closed, and a response body is left unread.
    "open_loop_unread_response": """
        loop = asyncio.new_event_loop()
        async def main():
            s = aiohttp.ClientSession()
            r = await s.get(base + "/big")
            assert r.status == 200
            return s, r
        KEEP = loop.run_until_complete(main())
        print("done", flush=True)
    """,
    # A request is still in flight when the interpreter exits.
    "request_in_flight": """
        loop = asyncio.new_event_loop()
        async def main():
            s = aiohttp.ClientSession()
            t = asyncio.ensure_future(s.get(base + "/stall"))
            await asyncio.sleep(0.3)
            assert not t.done()
            return s, t
        KEEP = loop.run_until_complete(main())
        print("done", flush=True)
    """,
    # sys.exit() from inside a coroutine while a request is pending.
    "sys_exit_inside_coroutine": """
        async def main():
            s = aiohttp.ClientSession()
            t = asyncio.ensure_future(s.get(base + "/stall"))
            await asyncio.sleep(0.3)
            print("done", flush=True)
            sys.exit(0)
        asyncio.run(main())
    """,
}


@pytest.mark.parametrize("name", list(EXIT_SCRIPTS))
def test_interpreter_exit_with_open_session(external_server: str, name: str) -> None:
    script = EXIT_PRELUDE + textwrap.dedent(EXIT_SCRIPTS[name])
    env = dict(os.environ, AIOXIDE_TEST_TARGET=TARGET)
    proc = subprocess.run(
        [sys.executable, "-c", script, external_server],
        check=False,
        capture_output=True,
        env=env,
        timeout=30,
    )
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, err
    assert proc.stdout.decode().strip() == "done"
    assert "Fatal Python error" not in err
    assert "Segmentation fault" not in err
    assert "panicked" not in err


# ---------------------------------------------------------------------------
# uvloop
# ---------------------------------------------------------------------------


def _uvloop() -> Any:
    return pytest.importorskip("uvloop")


def test_uvloop_plain_get(aiohttp: Any) -> None:
    uvloop = _uvloop()

    async def main() -> None:
        assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
        await scenario_plain_get(aiohttp)

    _run_in_fresh_loop(main, uvloop.new_event_loop)


def test_uvloop_cancellation(aiohttp: Any) -> None:
    uvloop = _uvloop()

    async def main() -> None:
        assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
        await scenario_cancel_waiting_for_headers(aiohttp)

    _run_in_fresh_loop(main, uvloop.new_event_loop)


def test_uvloop_wait_for_timeout(aiohttp: Any) -> None:
    uvloop = _uvloop()

    async def main() -> None:
        t = Tracker()
        srv, base = await start_server(t)
        try:
            async with aiohttp.ClientSession() as s:
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(s.get(base + "/stall"), 0.2)
                await asyncio.wait_for(t.conns[0].wait(), 5)
                await _good(s, base)
        finally:
            srv.close()

    _run_in_fresh_loop(main, uvloop.new_event_loop)


async def _engine_took_all(bridge: Any) -> None:
    """Until the engine has taken every job submitted (bounded: 5 s)."""
    for _ in range(500):
        if bridge.queued() == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the engine did not take the submitted jobs in 5 s")


def _ok_after(delay: float) -> Any:
    """A raw_server handler: each request answered "ok" after ``delay`` s."""
    return answers(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", after=delay)


@pytest.mark.skipif(TARGET != "aioxide", reason="the bridge's bookkeeping is aioxide's")
async def test_bridge_outstanding_count_returns_to_zero(aiohttp: Any, raw_server: Any) -> None:
    # The engine spins only while at most one request is outstanding: the
    # count must follow completions and cancellations exactly.
    from aioxide._bridge import bridge_for

    url = await raw_server(_ok_after(0.3))
    async with aiohttp.ClientSession() as s:
        bridge = bridge_for(asyncio.get_running_loop()).bridge
        assert bridge.outstanding() == 0
        task = asyncio.ensure_future(s.get(url))
        await asyncio.sleep(0.05)
        assert bridge.outstanding() == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert bridge.outstanding() == 0
        resps = await asyncio.gather(*(s.get(url) for _ in range(3)))
        for r in resps:
            assert await r.read() == b"ok"
        assert bridge.outstanding() == 0


@pytest.mark.skipif(TARGET != "aioxide", reason="the bridge's bookkeeping is aioxide's")
async def test_requests_submitted_together_wake_the_engine_once(
    aiohttp: Any, raw_server: Any
) -> None:
    # A request with nothing else outstanding wakes the engine at once (the
    # sequential caller's latency); requests submitted while others are
    # outstanding wake it once per turn of the loop, however long the turn.
    from aioxide._bridge import bridge_for

    url = await raw_server(_ok_after(0.2))
    async with aiohttp.ClientSession() as s:
        bridge = bridge_for(asyncio.get_running_loop()).bridge
        bridge.driving = False  # (the engine's path: see the test below for the loop's)

        async def get() -> bytes:
            async with s.get(url) as r:
                return bytes(await r.read())

        async def get_after_work() -> bytes:
            time.sleep(0.005)  # long enough for the engine to take a submission
            return await get()

        before = bridge.wakeups()
        first = asyncio.ensure_future(get())
        await asyncio.sleep(0)  # (its task submitted the request in this turn)
        assert bridge.wakeups() == before + 1
        await _engine_took_all(bridge)
        together = [asyncio.ensure_future(get_after_work()) for _ in range(10)]
        assert await asyncio.gather(first, *together) == [b"ok"] * 11
        # (The bodies came with the heads: nothing else went to the engine.)
        assert bridge.wakeups() == before + 2


@pytest.mark.skipif(TARGET != "aioxide", reason="the bridge's bookkeeping is aioxide's")
async def test_a_request_beside_a_read_left_waiting_wakes_the_engine_at_once(
    aiohttp: Any, raw_server: Any
) -> None:
    # A read left waiting (a stream's next piece, a WebSocket's receive) is
    # not a request in flight: a request made beside it is not put off to
    # the loop's next turn.
    from aioxide._bridge import bridge_for

    head_and_a_piece = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n"
    stream_url = await raw_server(answers(head_and_a_piece, hold=5))
    url = await raw_server(_ok_after(0))
    async with aiohttp.ClientSession() as s:
        bridge = bridge_for(asyncio.get_running_loop()).bridge
        bridge.driving = False  # (the engine's path)
        async with s.get(stream_url) as resp:
            assert await resp.content.readexactly(2) == b"ok"
            waiting = asyncio.ensure_future(resp.content.read())
            await asyncio.sleep(0)  # (its task submitted the read in this turn)
            await _engine_took_all(bridge)
            assert bridge.outstanding() == 1  # the read, left waiting
            before = bridge.wakeups()
            task = asyncio.ensure_future(s.get(url))
            await asyncio.sleep(0)  # (the task submitted its request in this turn)
            assert bridge.wakeups() == before + 1
            r2 = await task
            assert await r2.read() == b"ok"
            r2.release()
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting


@pytest.mark.skipif(TARGET != "aioxide", reason="the bridge's bookkeeping is aioxide's")
@pytest.mark.parametrize("driving", [True, False])
async def test_a_lone_request_is_driven_on_the_loops_thread(
    aiohttp: Any, raw_server: Any, driving: bool
) -> None:
    # A request with nothing else in flight is written and read on the
    # loop's thread (its socket waits in the bridge's epoll, which the loop
    # watches: no add_reader / remove_reader per request): the engine
    # thread is never woken for it.  Beside another request it goes to the
    # engine.
    from aioxide._bridge import bridge_for

    url = await raw_server(_ok_after(0.05))
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as s:
        bridge = bridge_for(loop).bridge
        bridge.driving = driving
        before = bridge.wakeups()
        calls: list[str] = []
        watching = ("add_reader", "remove_reader", "add_writer", "remove_writer")
        for name in watching:
            real = getattr(loop, name)
            setattr(loop, name, lambda *a, _n=name, _f=real: calls.append(_n) or _f(*a))
        try:
            for _ in range(5):
                async with s.get(url) as r:
                    assert await r.read() == b"ok"
        finally:
            for name in watching:
                delattr(loop, name)
        assert calls == []
        first = asyncio.ensure_future(s.get(url))
        await asyncio.sleep(0)  # (its task made the request in this turn)
        assert bridge.driven_count() == (1 if driving else 0)
        second = asyncio.ensure_future(s.get(url))
        await asyncio.sleep(0)
        assert bridge.driven_count() == (1 if driving else 0)
        for r in await asyncio.gather(first, second):
            assert await r.read() == b"ok"
        assert bridge.driven_count() == 0
        assert bridge.outstanding() == 0
        if driving:
            # Only the second request of the pair went to the engine.
            assert bridge.wakeups() == before + 1
        else:
            assert bridge.wakeups() >= before + 6


@pytest.mark.skipif(TARGET != "aioxide", reason="the bridge's bookkeeping is aioxide's")
@pytest.mark.parametrize("driving", [True, False])
async def test_a_connection_closed_while_idle_after_a_driven_request_is_not_reused(
    aiohttp: Any, raw_server: Any, driving: bool
) -> None:
    # The GET is driven on the loop's thread, so its connection goes back to
    # the pool out of the engine's reactor.  The server closes it while it
    # is idle; the POST that follows (on the loop's thread, or on the
    # engine's, which takes the socket back) must see that before sending
    # and open a new connection: a POST is never retried.
    from aioxide._bridge import bridge_for

    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    closed = asyncio.Event()
    connections = 0

    async def answer_then_close(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await read_request_head(r)
        w.write(ok)
        await w.drain()
        if connections == 1:
            w.close()
            await w.wait_closed()
            closed.set()
        else:
            await r.read()

    url = await raw_server(answer_then_close)
    async with aiohttp.ClientSession() as s:
        bridge = bridge_for(asyncio.get_running_loop()).bridge
        async with s.get(url) as r:
            assert await r.read() == b"ok"
        await asyncio.wait_for(closed.wait(), 5)
        bridge.driving = driving
        async with s.post(url, data=b"x") as r:
            assert await r.read() == b"ok"
    assert connections == 2


@pytest.mark.skipif(TARGET != "aioxide", reason="the bridge's bookkeeping is aioxide's")
async def test_driven_requests_on_new_sockets_and_full_ones_complete(
    aiohttp: Any, raw_server: Any
) -> None:
    # Every answer closes its connection, so each driven request has a new
    # socket, most often under the number of the one before (registered
    # anew in the bridge's epoll); every other one uploads 8 MiB to a
    # server that waits before reading, so its writes wait for room.
    from aioxide._bridge import bridge_for

    big = 8 << 20

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        head = await read_request_head(r)
        if head.startswith(b"POST"):
            await asyncio.sleep(0.05)
            await r.readexactly(big)
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await w.drain()
        w.close()

    url = await raw_server(handler)
    body = b"u" * big
    async with aiohttp.ClientSession() as s:
        bridge = bridge_for(asyncio.get_running_loop()).bridge
        assert bridge.driving
        for i in range(12):
            if i % 2:
                cm = s.post(url, data=body, timeout=aiohttp.ClientTimeout(total=10))
            else:
                cm = s.get(url, timeout=aiohttp.ClientTimeout(total=10))
            async with cm as r:
                assert await r.read() == b"ok"
        assert bridge.driven_count() == 0
        assert bridge.wakeups() == 0  # (none of them went to the engine)


@pytest.mark.skipif(TARGET != "aioxide", reason="the bridge's bookkeeping is aioxide's")
async def test_a_driven_request_redirected_to_https_goes_to_the_engine(
    aiohttp: Any, raw_server: Any, serve: Any
) -> None:
    # A plain-http request starts on the loop's thread; its redirect to an
    # https:// origin needs a TLS connection, which is the engine's work:
    # the request is handed over before connecting and finishes there.
    import ssl

    import trustme
    from aiohttp import web

    from aioxide._bridge import bridge_for

    ca = trustme.CA()
    arrived, gate = asyncio.Event(), asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        arrived.set()
        await gate.wait()
        return web.Response(text="over tls")

    app = web.Application()
    app.router.add_get("/", slow)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    https_url = await serve(app, ssl_context=server_ctx)
    moved = f"HTTP/1.1 302 Found\r\nLocation: {https_url}/\r\nContent-Length: 0\r\n\r\n"
    url = await raw_server(answers(moved.encode()))
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    async with aiohttp.ClientSession() as s:
        bridge = bridge_for(asyncio.get_running_loop()).bridge
        task = asyncio.ensure_future(s.get(url, ssl=client_ctx))
        await asyncio.sleep(0)
        assert bridge.driven_count() == 1  # (started on the loop's thread)
        await asyncio.wait_for(arrived.wait(), 5)
        assert bridge.driven_count() == 0
        assert bridge.outstanding() == 1
        gate.set()
        r = await task
        assert await r.text() == "over tls"
        assert r.url.scheme == "https"


@pytest.mark.skipif(TARGET != "aioxide", reason="the bridge's bookkeeping is aioxide's")
@pytest.mark.parametrize("size", [4, 2**20])
async def test_the_body_of_a_driven_request_is_read_on_the_loops_thread(
    aiohttp: Any, raw_server: Any, size: int
) -> None:
    # The head comes alone (the server holds the body until the client has
    # the response): the body's reader is driven on the loop's thread too,
    # its socket still out of the engine's reactor; past 64 KiB it goes on
    # on the engine (one wake-up).
    from aioxide._bridge import bridge_for

    release = asyncio.Event()
    body = bytes(range(256)) * (size // 256) or b"body"

    async def head_then_body(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request_head(r)
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
        await w.drain()
        await release.wait()
        w.write(body)
        await w.drain()
        await r.read()

    url = await raw_server(head_then_body)
    async with aiohttp.ClientSession() as s:
        bridge = bridge_for(asyncio.get_running_loop()).bridge
        async with s.get(url) as r:
            assert bridge.driven_count() == 0
            before = bridge.wakeups()
            reading = asyncio.ensure_future(r.read())
            await asyncio.sleep(0)  # (its task started the body's reader)
            assert bridge.driven_count() == 1
            release.set()
            assert await reading == body
            # (read() waits on an engine task: one wake-up; handing a long
            # body's reader to the engine, another, unless both were
            # submitted before the engine took the first: one batch.)
            woken = bridge.wakeups() - before
            assert 1 <= woken <= 1 + (size > 2**16)
        assert bridge.driven_count() == 0
        assert bridge.outstanding() == 0
