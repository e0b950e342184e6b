"""Pool behaviour as a server counts it: reuse, keepalive_timeout."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from conftest import TARGET


async def _counting_server(serve: Any) -> tuple[str, set[Any]]:
    peers: set[Any] = set()

    async def hello(request: web.Request) -> web.Response:
        assert request.transport is not None
        peers.add(request.transport.get_extra_info("peername"))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", hello)
    return await serve(app), peers


async def test_idle_connection_expires_after_keepalive_timeout(aiohttp: Any, serve: Any) -> None:
    base, peers = await _counting_server(serve)
    conn = aiohttp.TCPConnector(keepalive_timeout=0.1)
    async with aiohttp.ClientSession(connector=conn) as s:
        for _ in range(2):
            async with s.get(base + "/") as r:
                assert await r.text() == "ok"
        assert len(peers) == 1, "reused while fresh"
        await asyncio.sleep(0.4)
        async with s.get(base + "/") as r:
            assert await r.text() == "ok"
    assert len(peers) == 2, "an expired idle connection is not reused"


@pytest.mark.skipif(TARGET != "aioxide", reason="the engine's own count")
async def test_a_closed_session_leaves_no_engine_task(aiohttp: Any, serve: Any) -> None:
    """A session closed with an idle connection kept its pool's keepalive
    task until keepalive_timeout ran out: one engine task per closed session
    (an hour of them with keepalive_timeout=3600)."""
    from aioxide._aioxide import live_tasks

    base, _ = await _counting_server(serve)
    async with aiohttp.ClientSession() as running:  # (keeps the engine running)
        async with running.get(base + "/") as r:
            await r.read()
        before = live_tasks()
        for _ in range(5):
            conn = aiohttp.TCPConnector(keepalive_timeout=3600)
            async with aiohttp.ClientSession(connector=conn) as s:
                async with s.get(base + "/") as r:
                    assert await r.text() == "ok"
        for _ in range(200):
            if live_tasks() == before:
                break
            await asyncio.sleep(0.01)
        assert live_tasks() == before


async def test_idle_connection_kept_within_keepalive_timeout(aiohttp: Any, serve: Any) -> None:
    base, peers = await _counting_server(serve)
    conn = aiohttp.TCPConnector(keepalive_timeout=30)
    async with aiohttp.ClientSession(connector=conn) as s:
        for _ in range(3):
            async with s.get(base + "/") as r:
                assert await r.text() == "ok"
            await asyncio.sleep(0.1)
    assert len(peers) == 1


async def test_idle_connection_is_closed_for_the_server(aiohttp: Any, raw_server: Any) -> None:
    # The server must see the idle connection closed once keepalive_timeout
    # has passed, without any further request (aiohttp's connector does it).
    from conftest import read_request_head

    closed = asyncio.Event()

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request_head(r)
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await w.drain()
        if await r.read(1) == b"":
            closed.set()

    url = await raw_server(handler)
    conn = aiohttp.TCPConnector(keepalive_timeout=0.2)
    async with aiohttp.ClientSession(connector=conn) as s:
        async with s.get(url) as r:
            assert await r.read() == b"ok"
        await asyncio.wait_for(closed.wait(), 3)


async def test_limits_past_any_count_mean_no_limit(aiohttp: Any, serve: Any) -> None:
    """``limit=2**63`` (any int, as aiohttp takes): no limit in practice
    (tokio's semaphore refuses more than 2**61 - 1 permits, and panicked;
    past 64 bits it was an OverflowError)."""

    base, _ = await _counting_server(serve)
    url = base + "/"
    for big in (2**61, 2**63, 2**64 - 1, 2**64, 2**200):
        conn = aiohttp.TCPConnector(limit=big, limit_per_host=big)
        async with aiohttp.ClientSession(connector=conn) as s:
            rs = await asyncio.gather(*(s.get(url) for _ in range(3)))
            for r in rs:
                assert await r.text() == "ok"


@pytest.mark.parametrize("option", ["limit", "limit_per_host"])
@pytest.mark.parametrize("value", [-1, -(2**70)])
async def test_a_negative_limit_is_a_value_error_at_once(option: str, value: int) -> None:
    """aioxide only: aiohttp takes it and then waits for a free connection
    forever (``limit - len(acquired)`` is never above 0); it was an
    OverflowError here."""
    import aioxide

    with pytest.raises(ValueError, match=f"{option} must be 0"):
        aioxide.TCPConnector(**{option: value})
