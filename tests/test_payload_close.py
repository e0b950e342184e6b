"""A request's body is closed when the request ends, in any way (aiohttp
3.14 closes its payload; a file left open leaks a descriptor), on each of
the request paths (fast, middleware, trace)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from aiohttp import web

from conftest import TARGET


@pytest.fixture
async def base(serve: Any) -> str:
    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="ok")

    async def loop(request: web.Request) -> web.Response:
        await request.read()
        raise web.HTTPTemporaryRedirect("/loop")

    async def bad(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=307, headers={"Location": "ftp://example.com/x"})

    app = web.Application()
    app.router.add_post("/ok", ok)
    app.router.add_post("/loop", loop)
    app.router.add_post("/bad", bad)
    return str(await serve(app))


async def closed_soon(f: Any) -> bool:
    """The file is closed in the executor (as aiohttp does), so shortly after."""
    for _ in range(100):
        if f.closed:
            return True
        await asyncio.sleep(0.01)
    return False


@pytest.fixture
def body(tmp_path: Any) -> Any:
    path = tmp_path / "body.bin"
    path.write_bytes(b"x" * 100_000)
    return lambda: open(path, "rb")


async def test_closed_after_the_response(
    aiohttp: Any, base: str, body: Any, session_kw: dict[str, Any]
) -> None:
    f = body()
    async with aiohttp.ClientSession(**session_kw) as s, s.post(base + "/ok", data=f) as resp:
        assert await resp.text() == "ok"
    assert await closed_soon(f)


async def test_closed_after_too_many_redirects(
    aiohttp: Any, base: str, body: Any, session_kw: dict[str, Any]
) -> None:
    f = body()
    async with aiohttp.ClientSession(**session_kw) as s:
        with pytest.raises(aiohttp.TooManyRedirects):
            await s.post(base + "/loop", data=f, max_redirects=3)
    assert await closed_soon(f)


async def test_closed_after_a_non_http_redirect(
    aiohttp: Any, base: str, body: Any, session_kw: dict[str, Any]
) -> None:
    f = body()
    async with aiohttp.ClientSession(**session_kw) as s:
        with pytest.raises(aiohttp.NonHttpUrlRedirectClientError):
            await s.post(base + "/bad", data=f)
    assert await closed_soon(f)


@pytest.mark.skipif(
    TARGET == "aiohttp", reason="aiohttp leaves the file open after a server disconnect"
)
async def test_closed_after_a_server_disconnect(
    aiohttp: Any, raw_server: Any, body: Any, session_kw: dict[str, Any]
) -> None:
    async def hang_up(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readuntil(b"\r\n\r\n")

    url = await raw_server(hang_up)
    f = body()
    async with aiohttp.ClientSession(**session_kw) as s:
        with pytest.raises(aiohttp.ClientConnectionError):
            await s.post(url, data=f)
    assert await closed_soon(f)


async def test_closed_after_a_cancellation(
    aiohttp: Any, raw_server: Any, body: Any, session_kw: dict[str, Any]
) -> None:
    async def never_answers(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await asyncio.wait_for(r.read(), 10)  # until the client hangs up

    url = await raw_server(never_answers)
    f = body()
    async with aiohttp.ClientSession(**session_kw) as s:
        task = asyncio.ensure_future(s.post(url, data=f))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert await closed_soon(f)


@pytest.mark.parametrize("path", ["/ok", "/loop", "/bad"])
async def test_an_in_memory_payload_is_closed_too(
    aiohttp: Any, base: str, session_kw: dict[str, Any], path: str
) -> None:
    """A Payload whose bytes are sent from memory (a user's BytesPayload
    subclass) has its close() awaited when the request ends, as aiohttp's."""
    closed: list[bool] = []

    class Tracked(aiohttp.payload.BytesPayload):  # type: ignore[misc,name-defined]
        async def close(self) -> None:
            closed.append(True)
            await super().close()

    async with aiohttp.ClientSession(**session_kw) as s:
        with contextlib.suppress(aiohttp.ClientError):
            async with s.post(base + path, data=Tracked(b"payload"), max_redirects=2) as resp:
                assert await resp.text() == "ok"
    assert closed
