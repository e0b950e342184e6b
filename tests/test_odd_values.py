"""Odd values for the options that cross into the engine (huge, negative,
infinite, NaN numbers): each gives a result or an ordinary exception, never
a panic of the engine (``pyo3_runtime.PanicException``, a BaseException),
a SystemError or a hang.  Found by a hunt on 2026-12-07: float seconds past
``Duration``'s range and a limit past tokio's semaphore both panicked."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from conftest import TARGET

ODD = [2**70, -(2**70), 2**63, 2**64, -1, 0, 1e300, -1e300, float("inf"), float("nan"), -0.0]

CONNECTOR = [
    "limit",
    "limit_per_host",
    "keepalive_timeout",
    "ttl_dns_cache",
    "happy_eyeballs_delay",
]
REQUEST = ["max_redirects", "read_bufsize", "max_line_size", "max_field_size", "max_headers"]
TIMEOUT = ["total", "connect", "sock_read", "sock_connect"]


def _ordinary(e: BaseException) -> bool:
    """An exception a caller expects: not a panic, a SystemError, or a
    timeout (none of these values is a short wait: a timeout is a hang)."""
    bad = (SystemError, asyncio.TimeoutError)
    return isinstance(e, Exception) and not isinstance(e, bad)


@pytest.mark.skipif(TARGET != "aioxide", reason="what aioxide's engine takes")
async def test_odd_numbers_never_panic(aiohttp: Any, serve: Any) -> None:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", ok)
    url = str(await serve(app)) + "/"

    async def one(conn_kw: dict[str, Any], req_kw: dict[str, Any]) -> None:
        conn = aiohttp.TCPConnector(**conn_kw)
        async with aiohttp.ClientSession(connector=conn) as s:
            async with s.get(url, **req_kw) as resp:
                await resp.read()

    async def attempt(conn_kw: dict[str, Any], req_kw: dict[str, Any]) -> None:
        try:
            await asyncio.wait_for(one(conn_kw, req_kw), 10)
        except BaseException as e:  # noqa: BLE001 - what is raised is the point
            assert _ordinary(e), f"{conn_kw} {req_kw}: {type(e).__module__}.{type(e).__name__}: {e}"

    for v in ODD:
        for name in CONNECTOR:
            await attempt({name: v}, {})
        for name in REQUEST:
            await attempt({}, {name: v})
        await attempt({}, {"timeout": v})
        for name in TIMEOUT:
            try:
                t = aiohttp.ClientTimeout(**{name: v})
            except Exception:  # noqa: BLE001 - refused at once: fine
                continue
            await attempt({}, {"timeout": t})
