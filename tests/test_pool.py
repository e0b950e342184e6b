"""Pool behaviour as a server counts it: reuse, keepalive_timeout."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web


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


async def test_idle_connection_kept_within_keepalive_timeout(aiohttp: Any, serve: Any) -> None:
    base, peers = await _counting_server(serve)
    conn = aiohttp.TCPConnector(keepalive_timeout=30)
    async with aiohttp.ClientSession(connector=conn) as s:
        for _ in range(3):
            async with s.get(base + "/") as r:
                assert await r.text() == "ok"
            await asyncio.sleep(0.1)
    assert len(peers) == 1
