"""After release() or close() the unread body is gone (as aiohttp); a redirect
never waits on its own body."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web


@pytest.fixture
async def base(serve: Any) -> str:
    async def small(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 100)

    app = web.Application()
    app.router.add_get("/small", small)
    return str(await serve(app))


@pytest.mark.parametrize("how", ["release", "close"])
async def test_read_after_release_or_close_raises(aiohttp: Any, base: str, how: str) -> None:
    async with aiohttp.ClientSession() as s:
        resp = await s.get(base + "/small")
        getattr(resp, how)()
        with pytest.raises(aiohttp.ClientConnectionError):
            await resp.read()


@pytest.mark.parametrize("method", ["read", "readany", "readline", "readchunk"])
async def test_content_after_release_raises(aiohttp: Any, base: str, method: str) -> None:
    async with aiohttp.ClientSession() as s:
        resp = await s.get(base + "/small")
        resp.release()
        with pytest.raises(aiohttp.ClientConnectionError):
            await getattr(resp.content, method)()


async def test_body_read_before_release_stays(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(base + "/small") as resp:
            body = await resp.read()
        assert await resp.text() == body.decode()


async def test_redirect_with_stalled_body_is_followed_at_once(
    aiohttp: Any, raw_server: Any
) -> None:
    release = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if head.startswith(b"GET /start "):
            # A small announced body that never comes.
            writer.write(b"HTTP/1.1 302 Found\r\nLocation: /end\r\nContent-Length: 10\r\n\r\nab")
            await writer.drain()
            await release.wait()
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    url = await raw_server(handler)
    try:
        async with aiohttp.ClientSession() as s:
            resp = await asyncio.wait_for(s.get(url + "/start"), 5)
            assert resp.status == 200
            assert await resp.text() == "ok"
            assert [r.status for r in resp.history] == [302]
    finally:
        release.set()
