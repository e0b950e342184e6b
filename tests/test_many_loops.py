"""Several event loops at once, a session on the wrong loop, and exiting the
interpreter with requests in flight.

* Four threads, each with its own loop (asyncio and uvloop) and two sessions,
  make requests at the same time (some cancelled): all answered, nothing left.
* A session used from a loop other than its own raises RuntimeError before
  anything is sent (aiohttp raises RuntimeError there too), and still works
  on its own loop.
* A process that exits with requests in flight (on its main loop, in
  asyncio.run with sys.exit, on a daemon thread's loop that never stops,
  under uvloop) exits with status 0 and no crash, each run bounded.
  ``AIOXIDE_EXIT_RUNS`` sets the number of runs (``make soak``: 200).

(A forked child making requests: tests/test_fork.py.)
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import textwrap
import threading
from asyncio.subprocess import PIPE
from collections import Counter
from typing import Any, Callable

import pytest
from faults.harness import fd_count, settle_fds

from conftest import TARGET, read_request_head

EXIT_RUNS = int(os.environ.get("AIOXIDE_EXIT_RUNS", "10"))
THREADS = 4
PER_THREAD = 200


class Server:
    """/good: 200 "good" (keep-alive); /stall: never answers; /sink: reads a
    body forever; /drip: a chunked body that never ends.  Counts heads."""

    def __init__(self) -> None:
        self.heads: Counter[bytes] = Counter()

    async def handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await read_request_head(r)
            except asyncio.IncompleteReadError:
                return
            path = head.split(b" ", 2)[1].split(b"?")[0]
            self.heads[path] += 1
            if path == b"/good":
                w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood")
                await w.drain()
            elif path == b"/drip":
                w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                while True:
                    w.write(b"4\r\ndrip\r\n")
                    await w.drain()
                    await asyncio.sleep(0.01)
            else:
                while await r.read(65536):
                    pass
                return


async def steady_fd_count(bound: float = 3.0) -> int:
    """The fd count once it holds still for a few loop turns (what earlier
    tests closed may still be going), or as it is when ``bound`` ran out."""
    gc.collect()  # (earlier tests' garbage may hold descriptors)
    last, same = fd_count(), 0
    try:
        async with asyncio.timeout(bound):
            while same < 5:
                await asyncio.sleep(0.02)
                n = fd_count()
                same, last = (same + 1, n) if n == last else (0, n)
    except TimeoutError:
        pass
    return last


def new_loop(name: str) -> asyncio.AbstractEventLoop:
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run_on_new_loop(name: str, main: Callable[[], Any]) -> Any:
    loop = new_loop(name)
    try:
        return loop.run_until_complete(asyncio.wait_for(main(), 60))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def test_loops_in_threads_at_once(aiohttp: Any, raw_server: Any) -> None:
    pytest.importorskip("uvloop")
    srv = Server()
    base = await raw_server(srv.handle)
    start = threading.Barrier(THREADS)

    async def work(idx: int) -> tuple[int, int]:
        s1 = aiohttp.ClientSession()
        s2 = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=4))
        answered = cancelled = 0
        try:
            # All threads' loops are running now: the requests overlap.
            await asyncio.get_running_loop().run_in_executor(None, start.wait, 30)

            async def one(i: int) -> None:
                nonlocal answered, cancelled
                s = s1 if i % 2 else s2
                if i % 10 == 0:
                    task = asyncio.ensure_future(s.get(base + "/stall"))
                    await asyncio.sleep(0.001 * (i % 7))
                    task.cancel()
                    with pytest.raises(asyncio.CancelledError):
                        await task
                    cancelled += 1
                    return
                async with s.get(f"{base}/good?t={idx}&i={i}") as resp:
                    assert await resp.read() == b"good"
                answered += 1

            await asyncio.gather(*(one(i) for i in range(PER_THREAD)))
            if TARGET == "aioxide":
                from aioxide._bridge import bridge_for

                bridge = bridge_for(asyncio.get_running_loop()).bridge
                assert (bridge.outstanding(), bridge.pending_count()) == (0, 0)
        finally:
            await s1.close()
            await s2.close()
        return answered, cancelled

    def thread(idx: int) -> tuple[int, int]:
        return run_on_new_loop(  # type: ignore[no-any-return]
            "uvloop" if idx % 2 else "asyncio", lambda: work(idx)
        )

    # (uvloop's first loop opens descriptors that live with the process.)
    await asyncio.to_thread(lambda: new_loop("uvloop").close())
    before = await steady_fd_count()
    async with asyncio.timeout(120):
        results = await asyncio.gather(*(asyncio.to_thread(thread, i) for i in range(THREADS)))
    assert results == [(PER_THREAD * 9 // 10, PER_THREAD // 10)] * THREADS
    assert srv.heads[b"/good"] == THREADS * PER_THREAD * 9 // 10
    after = await settle_fds(before, 5.0)
    assert after == before, f"fd leak: {before} open before, {after} after"


async def test_session_used_from_another_loop(aiohttp: Any, raw_server: Any) -> None:
    srv = Server()
    base = await raw_server(srv.handle)
    other = asyncio.new_event_loop()
    try:

        async def make() -> Any:
            return aiohttp.ClientSession()

        async def use(s: Any) -> bytes:
            async with s.get(base + "/good") as resp:
                return bytes(await resp.read())

        s = await asyncio.to_thread(other.run_until_complete, make())
        try:
            with pytest.raises(RuntimeError) as ei:
                async with asyncio.timeout(5):
                    await s.get(base + "/good")
            if TARGET == "aioxide":
                assert "another event loop" in str(ei.value)
            # Refused before anything was sent, and the session still works
            # on its own loop.
            assert srv.heads[b"/good"] == 0
            assert await asyncio.to_thread(other.run_until_complete, use(s)) == b"good"
            assert srv.heads[b"/good"] == 1
            if TARGET == "aioxide":
                from aioxide._bridge import bridge_for

                assert bridge_for(other).bridge.outstanding() == 0
        finally:
            await asyncio.to_thread(other.run_until_complete, s.close())
    finally:
        other.close()


EXIT_SCRIPT = textwrap.dedent(
    """
    import asyncio, importlib, os, sys, threading
    client = importlib.import_module(os.environ["AIOXIDE_TEST_TARGET"])
    base, mode = sys.argv[1], sys.argv[2]

    async def body():
        while True:
            yield b"x" * 65536
            await asyncio.sleep(0)

    async def start(n):
        s = client.ClientSession()
        tasks = [asyncio.ensure_future(s.get(base + "/stall")) for _ in range(n)]
        tasks += [asyncio.ensure_future(s.post(base + "/sink", data=body())) for _ in range(n)]
        async def drip():
            async with s.get(base + "/drip") as r:
                async for _ in r.content.iter_chunked(4):
                    pass
        tasks += [asyncio.ensure_future(drip()) for _ in range(n)]
        await asyncio.sleep(0.2)
        # (Most still in flight; one may have met a loaded server's reset.)
        assert sum(not t.done() for t in tasks) >= 2 * n, [t for t in tasks if t.done()]
        return s, tasks

    KEEP = []
    if mode == "open-loop":
        # The loop is never closed; its requests stay in flight.
        loop = asyncio.new_event_loop()
        KEEP.append(loop.run_until_complete(start(20)))
    elif mode == "sys-exit":
        async def main():
            KEEP.append(await start(20))
            print("done", flush=True)
            sys.exit(0)
        asyncio.run(main())
    elif mode == "thread":
        # A daemon thread's loop runs its requests until the interpreter goes.
        ready = threading.Event()
        def run():
            loop = asyncio.new_event_loop()
            KEEP.append(loop.run_until_complete(start(10)))
            ready.set()
            loop.run_forever()
        threading.Thread(target=run, daemon=True).start()
        assert ready.wait(20)
        loop = asyncio.new_event_loop()
        KEEP.append(loop.run_until_complete(start(10)))
    elif mode == "uvloop":
        import uvloop
        loop = uvloop.new_event_loop()
        KEEP.append(loop.run_until_complete(start(20)))
    print("done", flush=True)
    """
)

EXIT_MODES = ("open-loop", "sys-exit", "thread", "uvloop")


async def test_exit_with_requests_in_flight(raw_server: Any) -> None:
    pytest.importorskip("uvloop")
    srv = Server()
    base = await raw_server(srv.handle)
    env = dict(os.environ, AIOXIDE_TEST_TARGET=TARGET)
    for i in range(EXIT_RUNS):
        mode = EXIT_MODES[i % len(EXIT_MODES)]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", EXIT_SCRIPT, base, mode, stdout=PIPE, stderr=PIPE, env=env
        )
        try:
            async with asyncio.timeout(30):
                out, err = await proc.communicate()
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise AssertionError(f"run {i} ({mode}): no exit within 30 s") from None
        text = err.decode(errors="replace")
        assert proc.returncode == 0, f"run {i} ({mode}): status {proc.returncode}: {text}"
        assert out.decode().strip() == "done", f"run {i} ({mode}): {text}"
        for bad in ("Fatal Python error", "Segmentation fault", "panicked"):
            assert bad not in text, f"run {i} ({mode}): {text}"
