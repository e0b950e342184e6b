"""Cancellation storms: many requests in flight, cancelled at random points.

Each request is sent where it will wait at one stage, and is cancelled after a
random delay (a seeded RNG; the seed is printed, and ``AIOXIDE_STORM_SEED``
replays one), so the cancellation lands in that stage or before it:

* ``queued``   a session with ``limit=8`` whose connections all wait for heads
* ``connect``  a listener whose accept queue is full (the SYN goes unanswered)
* ``tls``      a TLS server reached after a random delay (through a relay)
* ``upload``   a streamed body (an endless async generator) the server reads
* ``head``     the server reads the request and never answers
* ``body``     a chunked body dripping forever, read with ``iter_chunked``
* ``read``     a body cut short and stalled, waited for inside ``read()``
* ``any``      a normal request that may well finish first

through ``task.cancel()``, ``asyncio.timeout()``, ``asyncio.wait_for`` and a
TaskGroup one of whose tasks fails (Python 3.11+).  Afterwards: no file
descriptor left open, no engine work left on the bridge (aioxide), every pool
slot free (as many requests as the limit are in flight at once: a server
answers them only when all have arrived), no connection open but the pooled
idle ones, and each session still works.

``AIOXIDE_STORM_SIZE`` sets the number of requests per storm (``make soak``:
10,000); ``make test`` runs 2,000 per loop.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Optional

import pytest
from faults.harness import (
    engine_tasks,
    fd_count,
    run_in_loop,
    settle_count,
    settle_fds,
    tls_contexts,
)

from conftest import TARGET

SIZE = int(os.environ.get("AIOXIDE_STORM_SIZE", "2000"))
WAVE = 100  # requests in flight at once
LIMIT = 8  # the queued stage's session
STAGES = ("queued", "connect", "tls", "upload", "head", "body", "read", "any")
WAYS = ("cancel", "timeout", "wait_for", "taskgroup")
#: Stages whose request never ends by itself: cancellation is the only way out.
ENDLESS = {"queued", "connect", "upload", "head", "body", "read"}
HAS_TASKGROUP = sys.version_info >= (3, 11)
PIECE = b"u" * 16384


# ---------------------------------------------------------------------------
# the servers (on the test's loop)
# ---------------------------------------------------------------------------


class StormServer:
    """An HTTP/1.1 server on 127.0.0.1 (with TLS begun after a random delay
    when given a context) that counts its open connections.

    Paths: /good (200 "good", keep-alive), /slow (8 KiB after 0-5 ms),
    /stall (never answers), /sink (reads a body forever, never answers),
    /drip (a chunked body, a chunk every 2 ms, forever), /partial (3 bytes of
    1000, then nothing), /barrier (answered once ``barrier`` requests wait).
    """

    def __init__(self, rng: random.Random, tls: Any = None) -> None:
        self.rng = rng
        self.tls = tls
        self.open = 0
        self.accepted = 0
        self.heads: Counter[bytes] = Counter()
        self.barrier = 0
        self.waiting: list[asyncio.Future[None]] = []
        self.server: Optional[asyncio.AbstractServer] = None
        self.url = ""

    async def start(self) -> "StormServer":
        self.server = await asyncio.start_server(
            self.handle, "127.0.0.1", 0, backlog=1024, ssl=self.tls
        )
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"{'https' if self.tls else 'http'}://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        self.accepted += 1
        try:
            while await self.answer(reader, writer):
                pass
        except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self.open -= 1
            writer.transport.abort()

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """One request; False when the connection is done."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        path = head.split(b" ", 2)[1]
        self.heads[path] += 1
        if path == b"/good":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood")
        elif path == b"/slow":
            await asyncio.sleep(self.rng.uniform(0, 0.005))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 8192\r\n\r\n" + b"s" * 8192)
        elif path == b"/barrier":
            fut = asyncio.get_running_loop().create_future()
            self.waiting.append(fut)
            if len(self.waiting) >= self.barrier:
                for f in self.waiting:
                    if not f.done():
                        f.set_result(None)
                self.waiting.clear()
            await fut
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood")
        elif path == b"/drip":
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            while True:
                writer.write(b"10\r\n0123456789abcdef\r\n")
                await writer.drain()
                await asyncio.sleep(0.002)
        elif path == b"/partial":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc")
            await writer.drain()
            while await reader.read(65536):
                pass
            return False
        else:  # /stall, /sink: read whatever comes until the client goes
            while await reader.read(65536):
                pass
            return False
        await writer.drain()
        return True


class LateRelay:
    """A TCP relay in front of a TLS server that connects to it after a random
    delay: the client's hello waits, its handshake not begun."""

    def __init__(self, rng: random.Random, backend: StormServer) -> None:
        self.rng = rng
        self.backend = backend
        self.accepted = 0
        self.server: Optional[asyncio.AbstractServer] = None
        self.url = ""

    async def start(self) -> "LateRelay":
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0, backlog=1024)
        self.url = f"https://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        back: Optional[asyncio.StreamWriter] = None
        self.accepted += 1
        try:
            await asyncio.sleep(self.rng.uniform(0, 0.02))
            port = int(self.backend.url.rsplit(":", 1)[1])
            back_reader, back = await asyncio.open_connection("127.0.0.1", port)
            pipes = {
                asyncio.ensure_future(pipe(reader, back)),
                asyncio.ensure_future(pipe(back_reader, writer)),
            }
            try:
                await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in pipes:
                    t.cancel()
                await asyncio.gather(*pipes, return_exceptions=True)
        except OSError:
            pass
        finally:
            writer.transport.abort()
            if back is not None:
                back.transport.abort()


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass


class Blackhole:
    """A listener that never accepts, its accept queue filled: a connect to it
    waits (the SYN is dropped) until it is cancelled."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        # Fill the accept queue (one connection with a backlog of 0).
        self.fillers = []
        for _ in range(2):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            self.fillers.append(c)

    def close(self) -> None:
        for c in self.fillers:
            c.close()
        self.sock.close()


# ---------------------------------------------------------------------------
# the storm
# ---------------------------------------------------------------------------


def fd_names() -> dict[str, str]:
    out = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            out[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            pass
    return out


class Boom(Exception):
    """The failing task of a TaskGroup."""


@dataclass
class Storm:
    aiohttp: Any
    rng: random.Random
    seed: int
    limited: Any = None  # the limit=8 session
    main: Any = None
    plain: Any = None
    tls: Any = None
    relay: Any = None
    hole: Any = None
    client_ctx: Any = None
    #: (stage, way) -> how the request ended
    outcomes: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    uploads_open: int = 0
    #: how many requests reached the stage they wait in (seen by client or server)
    reached: Counter[str] = field(default_factory=Counter)
    queued_now: int = 0

    async def upload_body(self) -> AsyncIterator[bytes]:
        self.uploads_open += 1
        self.reached["upload"] += 1
        try:
            while True:
                yield PIECE
                await asyncio.sleep(0)
        finally:
            self.uploads_open -= 1

    async def request(self, stage: str) -> str:
        """One request of ``stage`` as a user would write it: what it got."""
        plain, s = self.plain.url, self.main
        if stage == "queued":
            # More than the limit waiting: this one waits for a slot.
            self.queued_now += 1
            try:
                if self.queued_now > LIMIT:
                    self.reached["queued"] += 1
                async with self.limited.get(plain + "/stall") as resp:
                    await resp.read()
            finally:
                self.queued_now -= 1
            return "done"
        elif stage == "connect":
            cm = s.get(self.hole.url + "/")
        elif stage == "tls":
            cm = s.get(self.relay.url + "/good", ssl=self.client_ctx)
        elif stage == "upload":
            cm = s.post(plain + "/sink", data=self.upload_body())
        elif stage == "head":
            cm = s.get(plain + "/stall")
        elif stage == "body":
            async with s.get(plain + "/drip") as resp:
                self.reached["body"] += 1
                async for _ in resp.content.iter_chunked(64):
                    pass
            return "done"
        elif stage == "read":
            async with s.get(plain + "/partial") as resp:
                self.reached["read"] += 1
                await resp.read()
            return "done"
        else:
            cm = s.get(plain + "/slow")
        async with cm as resp:
            body = await resp.read()
        assert resp.status == 200 and body in (b"good", b"s" * 8192), (resp.status, body[:20])
        return "done"

    def delay(self) -> float:
        return 0.0 if self.rng.random() < 0.1 else self.rng.uniform(0, 0.1)

    def note(self, stage: str, way: str, how: str) -> None:
        self.outcomes[(stage, way, how)] += 1

    def unexpected(self, stage: str, way: str, e: BaseException) -> None:
        self.note(stage, way, type(e).__name__)
        self.failures.append(f"{stage}/{way}: {type(e).__name__}: {e}")

    async def one(self, stage: str, way: str) -> None:
        """One request cancelled one way; records how it ended."""
        d = self.delay()
        try:
            if way == "cancel":
                task = asyncio.ensure_future(self.request(stage))
                await asyncio.sleep(d)
                task.cancel()
                try:
                    how = await task
                except asyncio.CancelledError:
                    how = "cancelled"
            elif way == "timeout":
                try:
                    async with asyncio.timeout(d):
                        how = await self.request(stage)
                except TimeoutError:
                    how = "timeout"
            else:
                try:
                    how = await asyncio.wait_for(self.request(stage), d)
                except asyncio.TimeoutError:
                    how = "timeout"
        except Exception as e:
            self.unexpected(stage, way, e)
            return
        if how == "done" and stage in ENDLESS:
            self.failures.append(f"{stage}/{way}: an endless request ended")
        self.note(stage, way, how)

    async def group(self, stages: list[str]) -> None:
        """Requests in a TaskGroup whose other task fails after a random delay."""
        d = self.delay()

        async def fail() -> None:
            await asyncio.sleep(d)
            raise Boom()

        tasks = []
        try:
            async with asyncio.TaskGroup() as tg:  # type: ignore[attr-defined]
                tasks = [tg.create_task(self.request(st)) for st in stages]
                tg.create_task(fail())
        except Exception as eg:
            others = [e for e in getattr(eg, "exceptions", [eg]) if not isinstance(e, Boom)]
            for e in others:
                self.failures.append(f"taskgroup: {type(e).__name__}: {e}")
        else:
            self.failures.append("taskgroup: the failing task did not fail")
        for st, t in zip(stages, tasks):
            if t.cancelled():
                self.note(st, "taskgroup", "cancelled")
            elif t.exception() is None:
                self.note(st, "taskgroup", "done")
                if st in ENDLESS:
                    self.failures.append(f"{st}/taskgroup: an endless request ended")
            else:
                self.note(st, "taskgroup", type(t.exception()).__name__)

    async def wave(self, n: int) -> None:
        jobs: list[Awaitable[None]] = []
        ways = WAYS if HAS_TASKGROUP else WAYS[:3]
        while n > 0:
            way = self.rng.choice(ways)
            if way == "taskgroup":
                k = min(n, self.rng.randint(1, 5))
                jobs.append(self.group([self.rng.choice(STAGES) for _ in range(k)]))
                n -= k
            else:
                jobs.append(self.one(self.rng.choice(STAGES), way))
                n -= 1
        await asyncio.gather(*jobs)

    def table(self) -> str:
        by_stage: dict[str, Counter[str]] = {st: Counter() for st in STAGES}
        for (st, _way, how), n in self.outcomes.items():
            by_stage[st][how] += n
        self.reached["connect"] = sum(self.outcomes[k] for k in self.outcomes if k[0] == "connect")
        self.reached["tls"] = self.relay.accepted
        self.reached["head"] = self.plain.heads[b"/stall"]
        return "; ".join(f"{st}: {dict(c)}" for st, c in by_stage.items()) + (
            f"; reached their stage: {dict(self.reached)}"
        )


def idle_and_in_use(aiohttp: Any, session: Any) -> tuple[int, int]:
    """The session's pooled idle connections, and those checked out (the
    engine's leases: requests holding or making a connection)."""
    conn = session.connector
    if TARGET == "aioxide":
        return conn._engine.idle_count(), conn._engine.lease_count()
    return sum(len(v) for v in conn._conns.values()), len(conn._acquired)


async def settle(measure: Callable[[], Any], expected: Any, bound: float = 5.0) -> Any:
    """``measure()`` once it equals ``expected``, or when ``bound`` ran out."""
    try:
        async with asyncio.timeout(bound):
            while measure() != expected:
                await asyncio.sleep(0.01)
    except TimeoutError:
        pass
    return measure()


async def barrier(st: Storm, session: Any, n: int, ctx: Any = None) -> None:
    """``n`` requests at once, answered only when all ``n`` have arrived: every
    pool slot of a session with ``limit=n`` is free."""
    srv = st.plain if ctx is None else st.tls
    url = st.plain.url if ctx is None else st.relay.url
    srv.barrier = n
    arrived = srv.heads[b"/barrier"]

    async def get() -> None:
        kw = {} if ctx is None else {"ssl": ctx}
        async with session.get(url + "/barrier", **kw) as resp:
            assert await resp.read() == b"good"

    try:
        async with asyncio.timeout(10):
            await asyncio.gather(*(get() for _ in range(n)))
    except TimeoutError:
        raise AssertionError(
            f"seed {st.seed}: {n} requests at once never all arrived "
            f"({srv.heads[b'/barrier'] - arrived} did): a pool slot is held by a cancelled request"
        ) from None


async def good(session: Any, url: str) -> None:
    async with session.get(url + "/good") as resp:
        assert await resp.read() == b"good"


async def check_after(st: Storm, size: int, main_limit: int) -> None:
    """What a storm must leave: nothing pending, nothing open but the pool's
    idle connections, every slot free, each session working."""
    seed, aiohttp = st.seed, st.aiohttp
    sessions = (st.limited, st.main)
    assert not st.failures, f"seed {seed}: {st.failures[:10]} ({st.table()})"
    st.table()
    missed = [x for x in STAGES if x != "any" and not st.reached[x]]
    assert not missed or size < 500, f"seed {seed}: no request reached {missed}"
    # The endless upload generators were all closed (not left to the collector).
    left = await settle(lambda: st.uploads_open, 0)
    assert left == 0, f"seed {seed}: {left} upload generators left open"
    if TARGET == "aioxide":
        from aioxide._bridge import bridge_for

        bridge = bridge_for(asyncio.get_running_loop()).bridge
        work = await settle(lambda: (bridge.outstanding(), bridge.pending_count()), (0, 0))
        assert work == (0, 0), f"seed {seed}: engine work left pending: {work}"

    # Nothing checked out; open connections are the pooled idle ones.
    def open_vs_pooled() -> tuple[int, int]:
        pooled = sum(idle_and_in_use(aiohttp, s)[0] for s in sessions)
        return st.plain.open + st.tls.open, pooled

    counts = await settle(lambda: len(set(open_vs_pooled())), 1)
    assert counts == 1, (
        f"seed {seed}: (server open, client pooled) = {open_vs_pooled()}: plain "
        f"{st.plain.open}, tls {st.tls.open}; pooled (limited, main) "
        f"{[idle_and_in_use(aiohttp, s) for s in sessions]}"
    )
    in_use = await settle(lambda: [idle_and_in_use(aiohttp, s)[1] for s in sessions], [0, 0])
    assert in_use == [0, 0], f"seed {seed}: connections still checked out: {in_use}"
    # Every slot free, and each session still works.
    await barrier(st, st.limited, LIMIT)
    await barrier(st, st.main, main_limit // 10)
    await barrier(st, st.main, 4, st.client_ctx)
    async with asyncio.timeout(10):
        await asyncio.gather(*(good(s, st.plain.url) for s in sessions))


async def storm(aiohttp: Any, size: int, seed: int) -> str:
    rng = random.Random(seed)
    server_ctx, client_ctx = tls_contexts()
    st = Storm(aiohttp, rng, seed, client_ctx=client_ctx)
    st.plain = await StormServer(rng).start()
    st.tls = await StormServer(rng, server_ctx).start()
    st.relay = await LateRelay(rng, st.tls).start()
    st.hole = Blackhole()
    main_limit = 2 * WAVE  # never queued but in the queued stage's session
    try:
        gc.collect()
        before = fd_count()
        fds_before = fd_names()
        tasks_before = engine_tasks()
        t0 = time.monotonic()
        st.limited = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=LIMIT))
        st.main = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=main_limit))
        try:
            async with asyncio.timeout(60 + size / 50):
                done = 0
                while done < size:
                    n = min(WAVE, size - done)
                    await st.wave(n)
                    done += n
            await check_after(st, size, main_limit)
        finally:
            async with asyncio.timeout(10):
                await asyncio.gather(st.limited.close(), st.main.close())
        # (A closed session keeps its loop's bridge, and its eventfd, alive.)
        st.limited = st.main = None
        after = await settle_fds(before, 5.0)
        assert after == before, (
            f"seed {seed}: fd leak: {before} open before, {after} after: "
            f"{sorted(set(fd_names().items()) - set(fds_before.items()))}"
        )
        tasks = await settle_count(engine_tasks, tasks_before, 5.0)
        assert tasks <= tasks_before, f"seed {seed}: engine tasks {tasks_before} -> {tasks}"
        return f"{size} requests in {time.monotonic() - t0:.1f} s; {st.table()}"
    finally:
        st.hole.close()
        await st.plain.close()
        await st.relay.close()
        await st.tls.close()


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_cancellation_storm(aiohttp: Any, loop_name: str) -> None:
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc")
    if loop_name == "uvloop":
        pytest.importorskip("uvloop")
    seed = int(os.environ.get("AIOXIDE_STORM_SEED", random.randrange(1 << 32)))
    print(f"storm seed {seed} (AIOXIDE_STORM_SEED={seed} replays it)")
    summary = run_in_loop(lambda: storm(aiohttp, SIZE, seed), loop_name, bound=120 + SIZE / 20)
    print(f"{loop_name}: {summary}")


def _serve_two_answers(srv: socket.socket, closed: threading.Event) -> None:
    """Both requests' heads read, answer /first, then /second 50 ms later
    (an unfinished body); ``closed`` is set when /second's client goes."""
    conns: dict[bool, socket.socket] = {}
    try:
        for _ in range(2):
            c, _ = srv.accept()
            c.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head:
                head += c.recv(4096)
            conns[head.startswith(b"GET /second")] = c
        time.sleep(0.2)
        conns[False].sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        time.sleep(0.05)
        conns[True].sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc")
        while conns[True].recv(4096):
            pass
        closed.set()
    except OSError:
        pass
    finally:
        for c in conns.values():
            c.close()


@pytest.mark.skipif(TARGET != "aioxide", reason="aioxide's bridge: its batch, its driving switch")
async def test_cancelled_as_its_answer_arrives(aiohttp: Any) -> None:
    # The answer is in (its future set) but the task, cancelled, never takes
    # it: the response's connection must close now, while the cancelled task
    # (and the traceback that holds the request's frame) is still referenced.
    # Both answers arrive while the loop is blocked (the server is a thread),
    # so one callback of the bridge sets both futures; the first task, woken
    # first, cancels the second before it runs.
    from aioxide._bridge import bridge_for

    closed = threading.Event()
    srv = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{srv.getsockname()[1]}"
    server = threading.Thread(target=_serve_two_answers, args=(srv, closed), daemon=True)
    server.start()
    try:
        async with aiohttp.ClientSession() as s:
            bridge = bridge_for(asyncio.get_running_loop()).bridge
            bridge.driving = False  # both answers through the engine's queue

            second = asyncio.ensure_future(s.get(url + "/second"))

            async def first() -> None:
                async with s.get(url + "/first") as r:
                    second.cancel()
                    await r.read()

            task = asyncio.ensure_future(first())
            async with asyncio.timeout(5):
                while bridge.outstanding() < 2:  # both submitted
                    await asyncio.sleep(0)
            time.sleep(0.8)  # both answers arrive meanwhile
            async with asyncio.timeout(5):
                await task
            with pytest.raises(asyncio.CancelledError):
                await second
            if not await asyncio.to_thread(closed.wait, 5):
                raise AssertionError("the connection of a response nobody got stays open")
            assert second.cancelled()
    finally:
        srv.close()
        server.join(10)
