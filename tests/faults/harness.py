"""Running one fault against one request shape, on a fresh event loop, and
checking what is left behind (file descriptors, bridge work, the pool)."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from . import servers

TARGET = os.environ.get("AIOXIDE_TEST_TARGET", "aioxide")

REQUESTS = ("GET", "POST", "upload")
CONSUMES = ("read", "iter_chunked", "release")

#: The socket read timeout of the faults that stall: what they must raise.
SOCK_READ = 0.15
#: The socket read timeout every other case runs under: a fault that would make
#: the client wait shows as this timeout's exception, never as a hang (long
#: enough that a busy machine does not fire it on a fault that answers).
GUARD = 1.0
#: How much later than its timeout an outcome may come (the asyncio.timeout bound).
MARGIN = 0.3
SMALL_POST = b"p" * 100


@dataclass
class Outcome:
    """What a case gave: an exception, or a status and the body read."""

    exc: Optional[BaseException] = None
    status: Optional[int] = None
    body: Optional[bytes] = None

    def describe(self) -> str:
        if self.exc is not None:
            return type(self.exc).__name__
        return f"{self.status} {self.body!r}"[:60]


@dataclass
class Shape:
    request: str
    consume: str

    @property
    def id(self) -> str:
        return f"{self.request}-{self.consume}"


@dataclass
class Expect:
    """What a fault gives: an exception class name (``aiohttp.<name>``, or
    ``TimeoutError``; ``"A|B"`` where timing decides between two) raised by the
    request call (``head``) or while the body is read (``body``; release()
    without reading then succeeds), or else a status and body."""

    head: Optional[str] = None
    body: Optional[str] = None
    status: int = 200
    content: bytes = b""


@dataclass
class Case:
    """A fault, how a client meets it, and what it must give."""

    name: str
    fault: Optional[servers.Fault]  # None: nothing listens (refused)
    expect: Expect
    timeout: dict[str, float] = field(default_factory=lambda: {"sock_read": GUARD})
    tls: bool = False
    upload_size: int = 64 * 1024
    #: The fault meets each connection as it is accepted, before any request.
    at_accept: bool = False
    #: aiohttp's outcome where aioxide deliberately differs, and why.
    aiohttp: Optional[Expect] = None
    why: str = ""

    @property
    def limit(self) -> float:
        return max(self.timeout.values()) + MARGIN


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def engine_tasks() -> int:
    """The engine's live tasks (0 when it is not running; aiohttp: 0)."""
    if TARGET != "aioxide":
        return 0
    from aioxide import _aioxide

    return _aioxide.live_tasks() or 0


async def settle_count(measure: Any, expected: int, bound: float = 3.0) -> int:
    """``measure()`` once it is at most ``expected``, or when ``bound`` ran out."""
    try:
        async with asyncio.timeout(bound):
            while measure() > expected:
                await asyncio.sleep(0.005)
    except TimeoutError:
        pass
    return int(measure())


async def settle_fds(expected: int, bound: float = 3.0) -> int:
    """The fd count once it reached ``expected`` (closes finish a loop turn or
    a thread hop later), or what it is when ``bound`` ran out."""
    try:
        async with asyncio.timeout(bound):
            while fd_count() != expected:
                await asyncio.sleep(0.005)
                gc.collect()
    except TimeoutError:
        pass
    return fd_count()


async def steady_fds(bound: float = 1.0) -> int:
    """The fd count once it stopped changing for 50 ms (what earlier tests
    closed late is not counted against this one), or when ``bound`` ran out."""
    gc.collect()
    last, since = fd_count(), time.monotonic()
    deadline = since + bound
    while time.monotonic() < deadline and time.monotonic() - since < 0.05:
        await asyncio.sleep(0.01)
        now = fd_count()
        if now != last:
            last, since = now, time.monotonic()
    return last


_tls: dict[str, Any] = {}


def tls_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server, client) contexts over one trustme CA (made once)."""
    if not _tls:
        import trustme

        ca = trustme.CA()
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(server)
        client = ssl.create_default_context()
        ca.configure_trust(client)
        _tls.update(server=server, client=client)
    return _tls["server"], _tls["client"]


def upload(size: int) -> Callable[[], AsyncIterator[bytes]]:
    async def gen() -> AsyncIterator[bytes]:
        piece = b"u" * 65536
        for _ in range(max(1, size // len(piece))):
            yield piece

    return gen


async def run_shape(
    aiohttp: Any, s: Any, case: Case, shape: Shape, url: str, ssl_ctx: Any
) -> Outcome:
    kw: dict[str, Any] = {"timeout": aiohttp.ClientTimeout(**case.timeout)}
    if ssl_ctx is not None:
        kw["ssl"] = ssl_ctx
    method = "GET"
    if shape.request == "POST":
        method, kw["data"] = "POST", SMALL_POST
    elif shape.request == "upload":
        method, kw["data"] = "POST", upload(case.upload_size)()
    out = Outcome()
    try:
        async with s.request(method, url + "/fault", **kw) as resp:
            out.status = resp.status
            if shape.consume == "read":
                out.body = await resp.read()
            elif shape.consume == "iter_chunked":
                got = bytearray()
                async for piece in resp.content.iter_chunked(1024):
                    assert len(piece) <= 1024
                    got += piece
                out.body = bytes(got)
            else:
                resp.release()
    except asyncio.CancelledError:
        raise
    except Exception as e:  # the outcome under test
        out.exc = e
        # Its traceback's frames hold the session and response: drop them so
        # what the case leaves behind can be counted.
        seen: set[int] = set()
        err: Optional[BaseException] = e
        while err is not None and id(err) not in seen:
            seen.add(id(err))
            err.__traceback__ = None
            err = err.__cause__ or err.__context__
    return out


async def run_case(
    aiohttp: Any,
    case: Case,
    shape: Shape,
    check: Callable[[Outcome], None],
) -> Outcome:
    """One case on the running loop: start the server, meet the fault within its
    bound, check the outcome, then check nothing is left and the session works."""
    server_ctx, client_ctx = tls_contexts() if case.tls else (None, None)
    srv = await servers.FaultServer(
        case.fault or servers.never_answer, server_ctx, at_accept=case.at_accept
    ).start()
    # Where the next, healthy request goes: the same server, unless it answers nothing.
    good = srv
    if case.fault is None or case.at_accept:
        good = await servers.FaultServer(servers.never_answer, server_ctx).start()
    if case.fault is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    else:
        url = srv.url
    try:
        before = await steady_fds()
        tasks_before = engine_tasks()
        s = aiohttp.ClientSession()
        try:
            bound = asyncio.timeout(case.limit)
            try:
                async with bound:
                    out = await run_shape(aiohttp, s, case, shape, url, client_ctx)
            except TimeoutError:
                if bound.expired():
                    raise AssertionError(
                        f"{case.name}/{shape.id}: no outcome within {case.limit} s"
                    ) from None
                raise
            check(out)
            if TARGET == "aioxide":
                from aioxide._bridge import bridge_for

                bridge = bridge_for(asyncio.get_running_loop()).bridge
                # (An upload answered early is fed on until the engine drops
                # its body: that work ends just after the outcome.)
                left = await settle_count(lambda: bridge.outstanding() + bridge.pending_count(), 0)
                del bridge  # (it holds the bridge's eventfd, counted below)
                assert left == 0, f"engine work left pending: {left}"
                # No connection checked out of the pool once the outcome is in.
                engine = s.connector._engine
                leases = await settle_count(engine.lease_count, 0)
                assert leases == 0, f"{leases} connections still checked out"
            # The same session, the same server: a healthy answer.
            await healthy(s, good.url, client_ctx)
        finally:
            async with asyncio.timeout(5):
                await s.close()
        # A closed session's bridge keeps its eventfd until the bridge is freed
        # (an engine thread may still be writing it): count once it is gone.
        del s
        after = await settle_fds(before)
        assert after == before, f"fd leak: {before} open before, {after} after"
        tasks = await settle_count(engine_tasks, tasks_before)
        assert tasks <= tasks_before, f"engine tasks: {tasks_before} before, {tasks} after"
        return out
    finally:
        await srv.close()
        if good is not srv:
            await good.close()


async def healthy(s: Any, url: str, ssl_ctx: Any) -> None:
    kw = {} if ssl_ctx is None else {"ssl": ssl_ctx}
    async with asyncio.timeout(5):
        async with s.get(url + "/good", **kw) as resp:
            assert resp.status == 200
            assert await resp.read() == b"good"


def run_in_loop(main: Callable[[], Awaitable[Any]], loop_name: str, bound: float = 30) -> Any:
    if loop_name == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(asyncio.wait_for(main(), bound))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
