"""The main example: aioxide fetching from a local server.

`make run` runs it.  It starts a small aiohttp.web server on 127.0.0.1 (a free
port), then uses aioxide exactly as one would use aiohttp's client.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

import aioxide as aiohttp


async def start_server() -> tuple[web.AppRunner, str]:
    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"hello": request.query.get("name", "world")})

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/hello?name=redirected")

    async def big(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        for _ in range(64):
            await resp.write(b"x" * 16384)
        return resp

    app = web.Application()
    app.router.add_get("/hello", hello)
    app.router.add_get("/moved", moved)
    app.router.add_get("/big", big)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def main() -> None:
    runner, base = await start_server()
    try:
        async with aiohttp.ClientSession(base_url=base + "/") as session:
            async with session.get("hello", params={"name": "aioxide"}) as resp:
                print(resp.status, resp.reason, resp.content_type, await resp.json())

            resp = await session.get("moved")
            print("redirected:", [r.status for r in resp.history], "->", resp.url)
            print("  body:", await resp.text())

            async with session.get("big") as resp:
                total = 0
                async for chunk in resp.content.iter_chunked(65536):
                    total += len(chunk)
                print("streamed", total, "bytes")

            t0 = time.perf_counter()
            results = await asyncio.gather(*(session.get("hello") for _ in range(200)))
            for r in results:
                r.release()
            dt = time.perf_counter() - t0
            print(f"200 concurrent GETs in {dt * 1000:.1f} ms")

            try:
                await session.get("http://127.0.0.1:1/")
            except aiohttp.ClientConnectorError as e:
                print("refused as expected:", type(e).__name__, e.os_error)
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
