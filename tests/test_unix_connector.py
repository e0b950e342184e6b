"""UnixConnector and the Connection behind a response."""

from __future__ import annotations

import importlib
import os
from typing import Any, AsyncIterator

import pytest
from aiohttp import web


@pytest.fixture
async def unix_path(tmp_path: Any) -> AsyncIterator[str]:
    peers: list[int] = []

    async def hello(request: web.Request) -> web.Response:
        peers.append(id(request.transport))
        return web.Response(text=f"hi {request.host} {request.path}")

    app = web.Application()
    app.router.add_get("/{tail:.*}", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    path = os.path.join(str(tmp_path), "s.sock")
    site = web.UnixSite(runner, path)
    await site.start()
    yield path
    await runner.cleanup()


async def test_requests_go_to_the_socket(aiohttp: Any, unix_path: str) -> None:
    connector = aiohttp.UnixConnector(path=unix_path)
    assert connector.path == unix_path
    async with aiohttp.ClientSession(connector=connector) as s:
        for _ in range(3):
            async with s.get("http://any.host.example/x/y") as resp:
                assert resp.status == 200
                assert await resp.text() == "hi any.host.example /x/y"


async def test_missing_socket_is_unix_connector_error(aiohttp: Any, tmp_path: Any) -> None:
    path = os.path.join(str(tmp_path), "nothing.sock")
    connector = aiohttp.UnixConnector(path=path)
    async with aiohttp.ClientSession(connector=connector) as s:
        errors = importlib.import_module(aiohttp.__name__ + ".client_exceptions")
        with pytest.raises(errors.UnixClientConnectorError) as info:
            await s.get("http://localhost/")
    e = info.value
    assert isinstance(e, aiohttp.ClientConnectorError)
    assert isinstance(e, OSError)
    assert e.path == path
    assert "Cannot connect to unix socket" in str(e)


async def test_response_connection_until_release(aiohttp: Any, serve: Any) -> None:
    big = b"x" * (4 << 20)

    async def large(request: web.Request) -> web.Response:
        return web.Response(body=big)

    app = web.Application()
    app.router.add_get("/", large)
    url = await serve(app)
    async with aiohttp.ClientSession() as s:
        resp = await s.get(url + "/")
        conn = resp.connection
        assert conn is not None
        assert conn.closed is False
        assert resp.connection is conn
        assert len(await resp.read()) == len(big)
        resp.release()
        assert resp.connection is None

        resp = await s.get(url + "/")
        conn = resp.connection
        assert conn is not None
        conn.release()
        assert conn.closed is True
        resp.release()
        assert resp.connection is None
