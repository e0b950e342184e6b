"""The public API as users write it, type-checked and never run.

`make lint` checks this file with mypy --strict and basedpyright: each
``assert_type`` fails the check when a public type changes (a return type
turning into ``Any`` included).  Written against aiohttp's API with
``import aioxide as aiohttp``, as our users write it.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, Literal, Union

from multidict import CIMultiDictProxy
from typing_extensions import assert_type
from yarl import URL

import aioxide as aiohttp
from aioxide.typedefs import LooseHeaders, StrOrURL


async def requests(base: StrOrURL, headers: LooseHeaders) -> None:
    timeout = aiohttp.ClientTimeout(total=10, connect=2, sock_read=5)
    async with aiohttp.ClientSession(
        base_url=base, timeout=timeout, headers=headers, raise_for_status=True
    ) as session:
        assert_type(session, aiohttp.ClientSession)
        async with session.get(
            "/path", params={"q": "1"}, headers={"X-A": "b"}, timeout=aiohttp.ClientTimeout(total=1)
        ) as resp:
            assert_type(resp, aiohttp.ClientResponse)
            assert_type(resp.status, int)
            assert_type(resp.reason, Union[str, None])
            assert_type(resp.ok, bool)
            assert_type(resp.headers, CIMultiDictProxy[str])
            assert_type(resp.url, URL)
            assert_type(resp.history, tuple[aiohttp.ClientResponse, ...])
            assert_type(resp.request_info, aiohttp.RequestInfo)
            assert_type(resp.content, aiohttp.StreamReader)
            assert_type(resp.content_type, str)
            assert_type(resp.charset, Union[str, None])
            assert_type(await resp.read(), bytes)
            assert_type(await resp.text(), str)
            assert_type(await resp.json(), Any)
            async for chunk in resp.content.iter_chunked(1024):
                assert_type(chunk, bytes)
            resp.raise_for_status()
        resp2 = await session.post(URL("http://example.com/"), json={"a": 1})
        assert_type(resp2, aiohttp.ClientResponse)
        resp2.release()
        form = aiohttp.FormData()
        form.add_field("file", b"data", filename="a.bin", content_type="application/octet-stream")
        await session.put("/upload", data=form, auth=aiohttp.BasicAuth("user", "pass"))
        await session.patch("/p", data=b"x", compress="deflate")
        await session.delete("/d", allow_redirects=False, max_redirects=3)
        await session.head("/h", ssl=False)
        await session.options("/o", proxy="http://proxy:3128")
        await session.request("GET", "/r", read_bufsize=2**16, auto_decompress=False)
    async with aiohttp.request("GET", "http://example.com/") as r:
        assert_type(r, aiohttp.ClientResponse)


async def websockets(session: aiohttp.ClientSession) -> None:
    async with session.ws_connect("ws://example.com/ws", heartbeat=30.0, protocols=("chat",)) as ws:
        assert_type(ws, aiohttp.ClientWebSocketResponse[Literal[True]])
        await ws.send_str("hello")
        await ws.send_bytes(b"\x00")
        await ws.send_json({"a": 1})
        msg = await ws.receive()
        assert_type(msg, aiohttp.WSMessage)
        if msg.type is aiohttp.WSMsgType.TEXT:
            assert_type(msg.data, Any)
        assert_type(await ws.receive_str(), str)
        assert_type(await ws.receive_bytes(), bytes)
        async for m in ws:
            assert_type(m, aiohttp.WSMessage)
        assert_type(await ws.close(), bool)
        assert_type(ws.closed, bool)
        assert_type(ws.close_code, Union[int, None])
    raw = await session.ws_connect("ws://example.com/ws", decode_text=False)
    assert_type(raw, aiohttp.ClientWebSocketResponse[Literal[False]])
    assert_type(await raw.receive_str(), bytes)


def exceptions(e: Exception) -> None:
    if isinstance(e, aiohttp.ClientResponseError):
        assert_type(e.status, int)
        assert_type(e.request_info, aiohttp.RequestInfo)
    if isinstance(e, aiohttp.ClientConnectorError):
        assert_type(e.host, str)
        assert_type(e.port, Union[int, None])
    os_error: OSError = aiohttp.ClientOSError()
    timeout_error: asyncio.TimeoutError = aiohttp.ServerTimeoutError()
    client_error: aiohttp.ClientError = aiohttp.ServerDisconnectedError()
    del os_error, timeout_error, client_error


async def middlewares_and_tracing() -> None:
    async def log_requests(
        req: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        req.headers["X-Trace"] = "1"
        return await handler(req)

    async def on_start(
        session: aiohttp.ClientSession,
        ctx: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        assert_type(params.url, URL)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    connector = aiohttp.TCPConnector(limit=10, limit_per_host=2, ssl=False)
    async with aiohttp.ClientSession(
        connector=connector,
        middlewares=(log_requests, aiohttp.DigestAuthMiddleware("user", "pass")),
        trace_configs=[trace],
        cookie_jar=aiohttp.CookieJar(unsafe=True),
    ) as session:
        await session.get("http://example.com/", middlewares=())
        jar = session.cookie_jar
        assert_type(len(jar), int)
