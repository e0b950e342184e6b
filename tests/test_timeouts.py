"""ClientTimeout semantics: total, connect, sock_connect, sock_read, per-request overrides.

Reference behaviour (aiohttp 3.14.5):

* ``total`` exceeded (waiting for headers *or* while reading the body) raises a plain
  ``asyncio.TimeoutError`` (the builtin ``TimeoutError`` on 3.11+), chained from
  ``CancelledError``.  It is NOT a ``ServerTimeoutError`` / ``ClientError``.
* ``sock_read`` exceeded (no bytes for that long, before or after the headers) raises
  ``SocketTimeoutError`` (-> ServerTimeoutError -> ServerConnectionError ->
  ClientConnectionError -> ClientError, and asyncio.TimeoutError).
* ``connect`` exceeded while waiting for a pool slot, and ``connect``/``sock_connect``
  exceeded while the TCP handshake hangs, raise ``ConnectionTimeoutError``
  (-> ServerTimeoutError), chained from TimeoutError <- CancelledError.
* A per-request ``timeout=`` replaces the session's ClientTimeout completely (no
  field-wise merge); a float means ``ClientTimeout(total=float)``, ``None`` means
  ``ClientTimeout(total=None)`` (no limits at all).
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

from conftest import read_request_head, resolved

PROMPT = 10.0  # generous upper bound (seconds) for "raised promptly"


def _stall_server(state: dict[str, Any]):
    """Reads the request head, then sends nothing until the client goes away."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state["connections"] = state.get("connections", 0) + 1
        await read_request_head(reader)
        state.setdefault("heads", asyncio.Event()).set()
        try:
            await reader.read()  # returns b"" once the client closes
        finally:
            state.setdefault("closed", asyncio.Event()).set()

    state.setdefault("heads", asyncio.Event())
    state.setdefault("closed", asyncio.Event())
    return handler


def _delayed_server(delay: float, body: bytes = b"late"):
    """Answers every request on the connection after ``delay`` seconds."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await read_request_head(reader)
            except asyncio.IncompleteReadError:
                return
            await asyncio.sleep(delay)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()

    return handler


def _assert_plain_timeout(exc: BaseException, aiohttp: Any) -> None:
    # aiohttp raises the bare asyncio.TimeoutError for the total timeout.
    assert type(exc) is asyncio.TimeoutError
    assert not isinstance(exc, aiohttp.ServerTimeoutError)
    assert not isinstance(exc, aiohttp.ClientError)


# ---------------------------------------------------------------------------
# ClientTimeout object and session defaults
# ---------------------------------------------------------------------------


def test_client_timeout_defaults(aiohttp: Any) -> None:
    t = aiohttp.ClientTimeout()
    assert t.total is None
    assert t.connect is None
    assert t.sock_read is None
    assert t.sock_connect is None
    assert t.ceil_threshold == 5


def test_client_timeout_fields_and_frozen(aiohttp: Any) -> None:
    t = aiohttp.ClientTimeout(total=1.5, connect=2, sock_read=3.25, sock_connect=4)
    assert (t.total, t.connect, t.sock_read, t.sock_connect) == (1.5, 2, 3.25, 4)
    assert t == aiohttp.ClientTimeout(total=1.5, connect=2, sock_read=3.25, sock_connect=4)
    assert t != aiohttp.ClientTimeout(total=1.5)
    with pytest.raises(AttributeError):
        t.total = 10  # frozen


@pytest.mark.parametrize("given", [{}, {"timeout": None}])
async def test_session_default_timeout(aiohttp: Any, given: dict[str, Any]) -> None:
    """timeout=None is "not given", as aiohttp 3.14 reads it (it was no
    limit at all here: a request could wait for ever)."""
    async with aiohttp.ClientSession(**given) as s:
        t = s.timeout
        assert t.total == 300
        assert t.sock_connect == 30
        assert t.connect is None
        assert t.sock_read is None
        assert t == aiohttp.ClientTimeout(total=300, sock_connect=30)


async def test_session_custom_timeout_is_kept(aiohttp: Any) -> None:
    tmo = aiohttp.ClientTimeout(total=12, sock_read=3)
    async with aiohttp.ClientSession(timeout=tmo) as s:
        assert s.timeout == tmo
        assert s.timeout.connect is None
        assert s.timeout.sock_connect is None


async def test_session_timeout_must_be_client_timeout(aiohttp: Any) -> None:
    with pytest.raises(ValueError):
        aiohttp.ClientSession(timeout=5.0)


# ---------------------------------------------------------------------------
# total
# ---------------------------------------------------------------------------


async def test_total_timeout_waiting_for_headers(aiohttp: Any, raw_server: Any) -> None:
    state: dict[str, Any] = {}
    url = await raw_server(_stall_server(state))
    t0 = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.3)) as s:
        with pytest.raises(asyncio.TimeoutError) as ei:
            async with s.get(url + "/") as resp:
                await resp.read()
    elapsed = time.monotonic() - t0
    _assert_plain_timeout(ei.value, aiohttp)
    assert 0.25 <= elapsed < PROMPT
    assert state["heads"].is_set()
    # The timed-out connection is closed, not kept.
    await asyncio.wait_for(state["closed"].wait(), 5)


async def test_total_timeout_while_reading_slow_body(aiohttp: Any, raw_server: Any) -> None:
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        await writer.drain()
        for _ in range(100000):
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.05)

    url = await raw_server(trickle)
    t0 = time.monotonic()
    tmo = aiohttp.ClientTimeout(total=0.5)
    async with aiohttp.ClientSession(timeout=tmo) as s, s.get(url + "/") as resp:
        assert resp.status == 200  # headers arrived within the total budget
        with pytest.raises(asyncio.TimeoutError) as ei:
            await resp.read()
    _assert_plain_timeout(ei.value, aiohttp)
    assert time.monotonic() - t0 < PROMPT


async def test_total_timeout_also_limits_stalled_body(aiohttp: Any, raw_server: Any) -> None:
    async def partial(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
        await writer.drain()
        await reader.read()

    url = await raw_server(partial)
    tmo = aiohttp.ClientTimeout(total=0.3)
    async with aiohttp.ClientSession(timeout=tmo) as s, s.get(url + "/") as resp:
        with pytest.raises(asyncio.TimeoutError) as ei:
            await resp.read()
    _assert_plain_timeout(ei.value, aiohttp)


async def test_total_timeout_holds_for_a_reader_that_never_waits(
    aiohttp: Any, raw_server: Any
) -> None:
    """A slow consumer of a fast body always finds data buffered: aiohttp's
    reader checks the total timer as it takes buffered data, so the read
    after the deadline raises all the same."""

    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n")
        try:
            for _ in range(10000):
                writer.write(b"1" * 1000)
                await writer.drain()
                await asyncio.sleep(0.01)
        except OSError:
            pass

    url = await raw_server(flood)
    t0 = time.monotonic()
    tmo = aiohttp.ClientTimeout(total=0.5)
    async with aiohttp.ClientSession(timeout=tmo) as s, s.get(url + "/") as resp:
        with pytest.raises(asyncio.TimeoutError) as ei:
            async for _ in resp.content.iter_chunked(1):
                await asyncio.sleep(0.01)
                assert time.monotonic() - t0 < PROMPT
    _assert_plain_timeout(ei.value, aiohttp)
    assert time.monotonic() - t0 >= 0.5  # not before its deadline


# ---------------------------------------------------------------------------
# sock_read
# ---------------------------------------------------------------------------


async def test_sock_read_timeout_before_headers(aiohttp: Any, raw_server: Any) -> None:
    state: dict[str, Any] = {}
    url = await raw_server(_stall_server(state))
    t0 = time.monotonic()
    tmo = aiohttp.ClientTimeout(total=None, sock_read=0.3)
    async with aiohttp.ClientSession(timeout=tmo) as s:
        with pytest.raises(aiohttp.SocketTimeoutError) as ei:
            async with s.get(url + "/") as resp:
                await resp.read()
    assert time.monotonic() - t0 < PROMPT
    assert ei.type is aiohttp.SocketTimeoutError
    assert isinstance(ei.value, aiohttp.ServerTimeoutError)
    assert isinstance(ei.value, aiohttp.ServerConnectionError)
    assert isinstance(ei.value, aiohttp.ClientConnectionError)
    assert isinstance(ei.value, aiohttp.ClientError)
    assert isinstance(ei.value, asyncio.TimeoutError)
    await asyncio.wait_for(state["closed"].wait(), 5)


async def test_sock_read_timeout_mid_body(aiohttp: Any, raw_server: Any) -> None:
    async def partial(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
        await writer.drain()
        await reader.read()

    url = await raw_server(partial)
    tmo = aiohttp.ClientTimeout(total=None, sock_read=0.3)
    async with aiohttp.ClientSession(timeout=tmo) as s, s.get(url + "/") as resp:
        assert resp.status == 200
        with pytest.raises(aiohttp.SocketTimeoutError) as ei:
            await resp.read()
    assert ei.type is aiohttp.SocketTimeoutError
    assert isinstance(ei.value, asyncio.TimeoutError)


async def test_sock_read_not_triggered_while_data_flows(aiohttp: Any, raw_server: Any) -> None:
    pieces = 8
    gap = 0.15  # each gap is well below sock_read; the whole body takes ~1.2 s

    async def steady(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (pieces * 10))
        await writer.drain()
        for i in range(pieces):
            await asyncio.sleep(gap)
            writer.write(b"%d" % i * 10)
            await writer.drain()

    url = await raw_server(steady)
    tmo = aiohttp.ClientTimeout(total=None, sock_read=0.6)
    t0 = time.monotonic()
    async with aiohttp.ClientSession(timeout=tmo) as s, s.get(url + "/") as resp:
        body = await resp.read()
    elapsed = time.monotonic() - t0
    assert body == b"".join(b"%d" % i * 10 for i in range(pieces))
    # The transfer as a whole took longer than sock_read, so sock_read is per-read.
    assert elapsed > 0.6


# ---------------------------------------------------------------------------
# connect / sock_connect
# ---------------------------------------------------------------------------


async def test_connect_timeout_waiting_for_pool_slot(aiohttp: Any, raw_server: Any) -> None:
    state: dict[str, Any] = {}
    url = await raw_server(_stall_server(state))
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as s:
        holder = asyncio.ensure_future(s.get(url + "/hold"))
        await asyncio.wait_for(state["heads"].wait(), 5)  # the only slot is taken
        t0 = time.monotonic()
        try:
            with pytest.raises(aiohttp.ConnectionTimeoutError) as ei:
                await s.get(url + "/second", timeout=aiohttp.ClientTimeout(connect=0.2))
        finally:
            holder.cancel()
            with pytest.raises(asyncio.CancelledError):
                await holder
    assert time.monotonic() - t0 < PROMPT
    assert ei.type is aiohttp.ConnectionTimeoutError
    assert isinstance(ei.value, aiohttp.ServerTimeoutError)
    assert isinstance(ei.value, asyncio.TimeoutError)
    # The second request never got a connection of its own.
    assert state["connections"] == 1


def _hanging_listener() -> tuple[socket.socket, list[socket.socket], int]:
    """A listening socket whose accept queue is full: further SYNs are dropped by
    Linux, so a TCP connect to it hangs (no network beyond loopback involved)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    port = ls.getsockname()[1]
    fillers: list[socket.socket] = []
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(c)
    return ls, fillers, port


async def _probe_connect_hangs(port: int) -> bool:
    try:
        _, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 0.3)
    except asyncio.TimeoutError:
        return True
    w.close()
    return False


@pytest.mark.parametrize("field", ["sock_connect", "connect"])
async def test_connect_timeout_during_tcp_handshake(aiohttp: Any, field: str) -> None:
    ls, fillers, port = _hanging_listener()
    try:
        if not await _probe_connect_hangs(port):
            pytest.skip("this kernel completes connects to a full accept queue")
        tmo = aiohttp.ClientTimeout(**{field: 0.3})
        t0 = time.monotonic()
        async with aiohttp.ClientSession(timeout=tmo) as s:
            with pytest.raises(aiohttp.ConnectionTimeoutError) as ei:
                await s.get(f"http://127.0.0.1:{port}/")
        assert time.monotonic() - t0 < PROMPT
        assert ei.type is aiohttp.ConnectionTimeoutError
        assert isinstance(ei.value, aiohttp.ServerTimeoutError)
        assert isinstance(ei.value, asyncio.TimeoutError)
    finally:
        for c in fillers:
            c.close()
        ls.close()


def _slow_resolver(aiohttp: Any, delay: float) -> Any:
    """A user resolver that answers 127.0.0.1 after ``delay`` seconds."""

    class Slow(aiohttp.abc.AbstractResolver):  # type: ignore[misc,name-defined]
        async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[Any]:
            await asyncio.sleep(delay)
            return [resolved(host, port)]

        async def close(self) -> None:
            pass

    return Slow()


@pytest.mark.parametrize("field", ["sock_connect", "connect"])
async def test_sock_connect_does_not_count_the_name_lookup(
    aiohttp: Any, raw_server: Any, field: str
) -> None:
    """As aiohttp's: ``sock_connect`` bounds connecting to the peer, not the
    name's lookup before it (``connect`` and ``total`` bound both); aioxide
    counted a slow lookup against ``sock_connect``."""
    url = await raw_server(_delayed_server(0))
    port = int(url.rsplit(":", 1)[1])
    connector = aiohttp.TCPConnector(resolver=_slow_resolver(aiohttp, 0.4))
    tmo = aiohttp.ClientTimeout(**{field: 0.2})
    async with aiohttp.ClientSession(connector=connector, timeout=tmo) as s:
        if field == "connect":
            with pytest.raises(aiohttp.ConnectionTimeoutError):
                await s.get(f"http://slow.example.test:{port}/")
        else:
            async with s.get(f"http://slow.example.test:{port}/") as resp:
                assert await resp.read() == b"late"


async def test_sock_connect_starts_again_for_the_next_address(
    aiohttp: Any, raw_server: Any
) -> None:
    """As aiohttp's connector: when ``sock_connect`` runs out on a host's
    first address (tried alone: ``happy_eyeballs_delay=None``), the next
    addresses are tried with a deadline of their own (aioxide's one deadline
    covered them all and the request failed)."""
    ls, fillers, dead = _hanging_listener()
    try:
        if not await _probe_connect_hangs(dead):
            pytest.skip("this kernel completes connects to a full accept queue")
        live = int((await raw_server(_delayed_server(0))).rsplit(":", 1)[1])

        class TwoAddresses(aiohttp.abc.AbstractResolver):  # type: ignore[misc,name-defined]
            async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[Any]:
                return [resolved(host, dead), resolved(host, live)]

            async def close(self) -> None:
                pass

        connector = aiohttp.TCPConnector(resolver=TwoAddresses(), happy_eyeballs_delay=None)
        tmo = aiohttp.ClientTimeout(sock_connect=0.3)
        async with aiohttp.ClientSession(connector=connector, timeout=tmo) as s:
            async with s.get("http://two.example.test/") as resp:
                assert await resp.read() == b"late"
            # With one address, its timeout is the request's.
            with pytest.raises(aiohttp.ConnectionTimeoutError):
                await s.get(f"http://127.0.0.1:{dead}/")
    finally:
        for c in fillers:
            c.close()
        ls.close()


# ---------------------------------------------------------------------------
# per-request overrides
# ---------------------------------------------------------------------------


async def test_per_request_float_overrides_long_session_timeout(
    aiohttp: Any, raw_server: Any
) -> None:
    state: dict[str, Any] = {}
    url = await raw_server(_stall_server(state))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as s:
        t0 = time.monotonic()
        with pytest.raises(asyncio.TimeoutError) as ei:
            await s.get(url + "/", timeout=0.3)
        assert time.monotonic() - t0 < PROMPT
    _assert_plain_timeout(ei.value, aiohttp)


async def test_per_request_timeout_overrides_short_session_timeout(
    aiohttp: Any, raw_server: Any
) -> None:
    url = await raw_server(_delayed_server(0.8))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.3)) as s:
        # The session's own timeout is in force...
        with pytest.raises(asyncio.TimeoutError):
            await s.get(url + "/a")
        # ...but a per-request one replaces it.
        async with s.get(url + "/b", timeout=aiohttp.ClientTimeout(total=10)) as resp:
            assert resp.status == 200
            assert await resp.read() == b"late"
        async with s.get(url + "/c", timeout=5.0) as resp:
            assert await resp.read() == b"late"


async def test_per_request_client_timeout_replaces_not_merges(
    aiohttp: Any, raw_server: Any
) -> None:
    url = await raw_server(_delayed_server(0.8))
    tmo = aiohttp.ClientTimeout(total=None, sock_read=0.3)
    async with aiohttp.ClientSession(timeout=tmo) as s:
        with pytest.raises(aiohttp.SocketTimeoutError):
            await s.get(url + "/a")
        # A request ClientTimeout without sock_read drops the session's sock_read.
        async with s.get(url + "/b", timeout=aiohttp.ClientTimeout(total=10)) as resp:
            assert await resp.read() == b"late"


async def test_per_request_timeout_none_disables_session_total(
    aiohttp: Any, raw_server: Any
) -> None:
    url = await raw_server(_delayed_server(0.8))
    tmo = aiohttp.ClientTimeout(total=0.3)
    async with aiohttp.ClientSession(timeout=tmo) as s, s.get(url + "/", timeout=None) as resp:
        assert await resp.read() == b"late"


async def test_sock_read_does_not_time_a_slow_upload(
    aiohttp: Any, serve: Any, session_kw: dict[str, Any]
) -> None:
    # sock_read counts from when the request has been sent: an upload that
    # takes longer than sock_read to write is not cut off (aiohttp's read
    # timeout starts after the request is written).
    from aiohttp import web

    async def up(request: web.Request) -> web.Response:
        return web.Response(text=str(len(await request.read())))

    app = web.Application()
    app.router.add_post("/up", up)
    url = await serve(app)

    async def slow_body() -> Any:
        for _ in range(6):
            await asyncio.sleep(0.1)
            yield b"x" * 1000

    timeout = aiohttp.ClientTimeout(sock_read=0.25)
    async with aiohttp.ClientSession(timeout=timeout, **session_kw) as s:
        async with s.post(url + "/up", data=slow_body()) as resp:
            assert await resp.text() == "6000"


async def test_sock_read_times_the_wait_after_an_upload(aiohttp: Any, raw_server: Any) -> None:
    async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        await asyncio.sleep(3)

    url = await raw_server(never_answers)

    async def body() -> Any:
        yield b"abc"

    timeout = aiohttp.ClientTimeout(sock_read=0.2)
    async with aiohttp.ClientSession(timeout=timeout) as s:
        # (Without the timeout the server's close after 3 s would end it with
        # ServerDisconnectedError, not SocketTimeoutError.)
        with pytest.raises(aiohttp.SocketTimeoutError):
            await s.post(url, data=body())


async def test_seconds_far_beyond_any_wait_mean_no_limit(aiohttp: Any, raw_server: Any) -> None:
    """aiohttp takes any number of seconds (``1e300``): every timeout, the
    connector's keep-alive, DNS cache and Happy Eyeballs settings so large
    work as "never" (they once panicked in the engine's conversion)."""
    url = await raw_server(_delayed_server(0.0, b"ok"))
    huge = 1e300
    conn = aiohttp.TCPConnector(
        keepalive_timeout=huge, ttl_dns_cache=huge, happy_eyeballs_delay=huge
    )
    every = aiohttp.ClientTimeout(total=huge, connect=huge, sock_read=huge, sock_connect=huge)
    async with aiohttp.ClientSession(connector=conn, timeout=every) as s:
        for timeout in (every, aiohttp.ClientTimeout(total=huge), huge):
            async with s.get(url + "/", timeout=timeout) as resp:
                assert await resp.read() == b"ok"


async def test_zero_or_negative_seconds_mean_no_limit(aiohttp: Any, raw_server: Any) -> None:
    """aiohttp's ``total``, ``connect`` and ``sock_connect`` of 0 or less are
    no limit, and so is ``sock_read=0``; aiohttp's negative ``sock_read``
    times out at once (its ``call_later`` of a negative delay), where
    aioxide's is no limit, as every other field's."""
    url = await raw_server(_delayed_server(0.05, b"ok")) + "/"
    async with aiohttp.ClientSession() as s:
        for secs in (0, -1, -1e300):
            for field in ("total", "connect", "sock_connect"):
                timeout = aiohttp.ClientTimeout(**{field: secs})
                async with s.get(url, timeout=timeout) as resp:
                    assert await resp.read() == b"ok"
        async with s.get(url, timeout=aiohttp.ClientTimeout(sock_read=0)) as resp:
            assert await resp.read() == b"ok"
        negative = aiohttp.ClientTimeout(sock_read=-1)
        if aiohttp.__name__ == "aiohttp":
            with pytest.raises(aiohttp.SocketTimeoutError):
                await s.get(url, timeout=negative)
            return
        async with s.get(url, timeout=negative) as resp:
            assert await resp.read() == b"ok"
