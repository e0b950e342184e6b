"""What the typing work changed at run time: the verb helpers pass every
option through, ``ws_connect(decode_text=False)``, the generic WebSocket
response, and ``aioxide.typedefs`` (aiohttp's names).  The static checks
themselves are tests/typing, run by `make lint`."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from aiohttp import web


def _app() -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.Response(body=request.method.encode() + b" " + body)

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/echo")

    async def ws(request: web.Request) -> web.WebSocketResponse:
        w = web.WebSocketResponse()
        await w.prepare(request)
        async for msg in w:
            await w.send_str(msg.data)
        return w

    app = web.Application()
    app.router.add_route("*", "/echo", echo)
    app.router.add_route("*", "/moved", moved)
    app.router.add_get("/ws", ws)
    return app


async def test_verb_helpers_pass_options_and_keep_redirect_defaults(
    aiohttp: Any, serve: Any, session_kw: dict[str, Any]
) -> None:
    base = await serve(_app())
    async with aiohttp.ClientSession(**session_kw) as s:
        for verb in ("get", "options", "post", "put", "patch", "delete"):
            async with getattr(s, verb)(base + "/moved", data=b"x") as r:
                assert r.status == 200, verb  # followed by default
                assert len(r.history) == 1
            async with getattr(s, verb)(base + "/moved", allow_redirects=False) as r:
                assert r.status == 302, verb
        async with s.head(base + "/moved") as r:
            assert r.status == 302  # HEAD does not follow unless asked
        async with s.head(base + "/moved", allow_redirects=True) as r:
            assert r.status == 200
        async with s.post(base + "/echo", data=b"body") as r:
            assert await r.read() == b"POST body"
        async with s.request("PUT", base + "/echo", data=b"b") as r:
            assert await r.read() == b"PUT b"


@pytest.mark.parametrize("decode_text", [True, False])
async def test_ws_connect_decode_text(aiohttp: Any, serve: Any, decode_text: bool) -> None:
    base = await serve(_app())
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(base + "/ws", decode_text=decode_text) as ws:
            await ws.send_str("héllo")
            msg = await ws.receive()
            assert msg.type is aiohttp.WSMsgType.TEXT
            assert msg.data == ("héllo" if decode_text else "héllo".encode())
            await ws.send_str("again")
            assert await ws.receive_str() == ("again" if decode_text else b"again")


def test_ws_response_is_generic_as_aiohttps(aiohttp: Any) -> None:
    # aiohttp 3.14: ClientWebSocketResponse[Literal[True]] etc. in annotations
    # that are evaluated (pydantic, typing.get_type_hints).
    alias = aiohttp.ClientWebSocketResponse[bool]
    assert alias.__origin__ is aiohttp.ClientWebSocketResponse


@pytest.mark.aiohttp_reference
def test_typedefs_has_aiohttps_client_names() -> None:
    ours = importlib.import_module("aioxide.typedefs")
    theirs = importlib.import_module("aiohttp.typedefs")
    names = ours.__all__
    assert "StrOrURL" in names and "LooseHeaders" in names
    for name in names:
        assert hasattr(theirs, name), name
        assert repr(getattr(ours, name)) == repr(getattr(theirs, name)), name
