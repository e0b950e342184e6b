"""Tracing a streamed upload: request_chunk_sent for each chunk, after the
headers' signal and before request_end, as aiohttp."""

from __future__ import annotations

from typing import Any

from aiohttp import web


async def test_chunk_sent_for_each_streamed_chunk(aiohttp: Any, serve: Any) -> None:
    async def sink(request: web.Request) -> web.Response:
        return web.Response(text=str(len(await request.read())))

    app = web.Application()
    app.router.add_post("/", sink)
    url = await serve(app)
    events: list[tuple[str, Any]] = []

    def record(name: str) -> Any:
        async def handler(session: Any, ctx: Any, params: Any) -> None:
            events.append((name, getattr(params, "chunk", None)))

        return handler

    tc = aiohttp.TraceConfig()
    tc.on_request_headers_sent.append(record("headers"))
    tc.on_request_chunk_sent.append(record("chunk"))
    tc.on_request_end.append(record("end"))

    async def gen() -> Any:
        for part in (b"aaa", b"bb", b"c"):
            yield part

    async with aiohttp.ClientSession(trace_configs=[tc]) as s:
        async with s.post(url + "/", data=gen()) as resp:
            assert await resp.text() == "6"
    assert events == [
        ("headers", None),
        ("chunk", b"aaa"),
        ("chunk", b"bb"),
        ("chunk", b"c"),
        ("end", None),
    ]
