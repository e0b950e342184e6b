"""Client middlewares as aiohttp 3.12+: session and per-request middlewares,
their order, how they see each redirect hop, retries, requests made from a
middleware with the session, and ClientRequest's attributes."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL


@pytest.fixture
async def base(serve: Any) -> str:
    state = {"flaky": 0}

    async def echo(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "method": request.method,
                "path": request.path_qs,
                "headers": dict(request.headers),
                "body": (await request.read()).decode(),
            }
        )

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/echo?from=redirect")

    async def flaky(request: web.Request) -> web.Response:
        state["flaky"] += 1
        if state["flaky"] % 2:
            return web.Response(status=503)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/flaky", flaky)

    async def token(request: web.Request) -> web.Response:
        return web.Response(text="secret-token")

    app.router.add_get("/token", token)
    return str(await serve(app))


async def test_session_middleware_sees_and_changes_the_request(aiohttp: Any, base: str) -> None:
    seen: list[Any] = []

    async def mw(req: Any, handler: Any) -> Any:
        seen.append((req.method, req.url, type(req).__name__))
        req.headers["X-Added"] = "yes"
        resp = await handler(req)
        seen.append(resp.status)
        return resp

    async with aiohttp.ClientSession(middlewares=(mw,)) as s:
        async with s.post(base + "/echo", data=b"hi") as resp:
            got = await resp.json()
    assert CIMultiDict(got["headers"])["X-Added"] == "yes"
    assert got["body"] == "hi"
    assert seen == [("POST", URL(base + "/echo"), "ClientRequest"), 200]


async def test_order_and_per_request_override(aiohttp: Any, base: str) -> None:
    order: list[str] = []

    def make(name: str) -> Any:
        async def mw(req: Any, handler: Any) -> Any:
            order.append(name + ">")
            resp = await handler(req)
            order.append("<" + name)
            return resp

        return mw

    async with aiohttp.ClientSession(middlewares=(make("a"), make("b"))) as s:
        async with s.get(base + "/echo") as resp:
            await resp.read()
        assert order == ["a>", "b>", "<b", "<a"]
        order.clear()
        async with s.get(base + "/echo", middlewares=(make("c"),)) as resp:
            await resp.read()
        assert order == ["c>", "<c"]
        order.clear()
        async with s.get(base + "/echo", middlewares=()) as resp:
            await resp.read()
        assert order == []


async def test_middleware_runs_for_each_redirect_hop(aiohttp: Any, base: str) -> None:
    urls: list[str] = []

    async def mw(req: Any, handler: Any) -> Any:
        urls.append(req.url.path_qs)
        return await handler(req)

    async with aiohttp.ClientSession(middlewares=(mw,)) as s:
        async with s.get(base + "/redirect") as resp:
            got = await resp.json()
            assert len(resp.history) == 1
            assert resp.history[0].status == 302
    assert urls == ["/redirect", "/echo?from=redirect"]
    assert got["path"] == "/echo?from=redirect"


async def test_middleware_may_retry(aiohttp: Any, base: str) -> None:
    calls = 0

    async def retry(req: Any, handler: Any) -> Any:
        nonlocal calls
        for _ in range(3):
            calls += 1
            resp = await handler(req)
            if resp.status != 503:
                return resp
            resp.release()
        return resp

    async with aiohttp.ClientSession(middlewares=(retry,)) as s:
        async with s.get(base + "/flaky") as resp:
            assert resp.status == 200
            assert await resp.text() == "ok"
    assert calls == 2


async def test_middleware_may_use_the_session(aiohttp: Any, base: str) -> None:
    async def auth(req: Any, handler: Any) -> Any:
        if req.url.path == "/echo":
            async with req.session.get(base + "/token", middlewares=()) as t:
                req.headers["Authorization"] = "Bearer " + await t.text()
        return await handler(req)

    async with aiohttp.ClientSession(middlewares=(auth,)) as s:
        async with s.get(base + "/echo") as resp:
            got = await resp.json()
    assert got["headers"]["Authorization"] == "Bearer secret-token"


async def test_update_body_in_middleware(aiohttp: Any, base: str) -> None:
    async def rewrite(req: Any, handler: Any) -> Any:
        await req.update_body(b"rewritten")
        return await handler(req)

    async with aiohttp.ClientSession(middlewares=(rewrite,)) as s:
        async with s.post(base + "/echo", data=b"original") as resp:
            got = await resp.json()
    assert got["body"] == "rewritten"


async def test_client_request_attributes(aiohttp: Any, base: str) -> None:
    seen: dict[str, Any] = {}

    async def mw(req: Any, handler: Any) -> Any:
        seen.update(
            method=req.method,
            url=req.url,
            host=req.host,
            port=req.port,
            is_ssl=req.is_ssl(),
            session=req.session,
            info=req.request_info,
            body=req.body,
            ua="User-Agent" in req.headers,
        )
        return await handler(req)

    async with aiohttp.ClientSession(middlewares=(mw,)) as s:
        async with s.get(base + "/echo", params={"q": "1"}) as resp:
            await resp.read()
        assert seen["session"] is s
    assert seen["method"] == "GET"
    assert seen["url"] == URL(base + "/echo?q=1")
    assert seen["host"] == "127.0.0.1"
    assert seen["port"] == int(base.rsplit(":", 1)[1])
    assert seen["is_ssl"] is False
    assert seen["info"].method == "GET"
    assert seen["body"] == b""
    assert seen["ua"] is True
    assert isinstance(aiohttp.ClientRequest, type)


async def test_auth_rules_on_the_middleware_path(aiohttp: Any, base: str) -> None:
    seen: list[Any] = []

    async def mw(req: Any, handler: Any) -> Any:
        seen.append(req.headers.get("Authorization"))
        return await handler(req)

    with pytest.warns(DeprecationWarning):
        auth = aiohttp.BasicAuth("u", "p")
    user_url = URL(base + "/echo").with_user("x").with_password("y")
    with pytest.warns(DeprecationWarning):
        s = aiohttp.ClientSession(base + "/", auth=auth, middlewares=(mw,))
    async with s:
        async with s.get("echo") as resp:
            got = await resp.json()
        assert got["headers"]["Authorization"] == auth.encode()
        # Another origin (localhost, not 127.0.0.1): the session's auth stays home.
        other = base.replace("127.0.0.1", "localhost") + "/echo"
        async with s.get(other) as resp:
            assert "Authorization" not in (await resp.json())["headers"]
        with pytest.warns(DeprecationWarning), pytest.raises(ValueError):
            await s.get(user_url, auth=auth)
        with pytest.raises(ValueError):
            await s.get("echo", headers={"Authorization": "Bearer t"})
    assert seen[:2] == [auth.encode(), None]


async def test_client_request_update_methods(aiohttp: Any, base: str) -> None:
    async def mw(req: Any, handler: Any) -> Any:
        req.update_headers({"X-New": "1"})
        with pytest.warns(DeprecationWarning):
            req.update_auth(aiohttp.BasicAuth("m", "w"))
        with pytest.raises(TypeError):
            req.update_auth(("not", "basic"))
        req.update_version("1.1")
        assert req.version == aiohttp.HttpVersion11
        assert req.response is None
        return await handler(req)

    async with aiohttp.ClientSession(middlewares=(mw,)) as s:
        async with s.get(base + "/echo", headers={"X-Old": "1"}) as resp:
            got = CIMultiDict((await resp.json())["headers"])
    assert got["X-New"] == "1" and "X-Old" not in got
    assert got["Authorization"].startswith("Basic ")


async def test_a_middleware_sees_the_bodys_headers(aiohttp: Any, base: str) -> None:
    """As aiohttp's ClientRequest: Content-Length and the payload's
    Content-Type are in req.headers when the middleware runs (they were
    added only as the request went out), a middleware may delete one, and
    update_body() gives the new body's length."""
    seen: list[tuple[str | None, str | None]] = []

    async def look(req: Any, handler: Any) -> Any:
        seen.append((req.headers.get("Content-Length"), req.headers.get("Content-Type")))
        return await handler(req)

    form = aiohttp.FormData()
    form.add_field("f", b"data", filename="f.bin")
    async with aiohttp.ClientSession(middlewares=(look,)) as s:
        for kw in ({"data": b"abc"}, {"data": "h\u00e9"}, {"data": {"a": "1"}}, {"json": [1]}, {}):
            async with s.post(base + "/echo", **kw) as resp:
                await resp.read()
        async with s.post(base + "/echo", data=form) as resp:
            await resp.read()
    assert seen[:5] == [
        ("3", "application/octet-stream"),
        ("3", "text/plain; charset=utf-8"),
        ("3", "application/x-www-form-urlencoded"),
        ("3", "application/json"),
        ("0", None),
    ]
    assert seen[5][1] is not None and seen[5][1].startswith("multipart/form-data; boundary=")
    assert int(seen[5][0] or 0) > 4

    async def rewrite(req: Any, handler: Any) -> Any:
        del req.headers["Content-Type"]
        await req.update_body(b"longer-body")
        assert req.headers["Content-Length"] == "11"
        return await handler(req)

    async with aiohttp.ClientSession(middlewares=(rewrite,)) as s:
        async with s.post(base + "/echo", data=b"x") as resp:
            got = await resp.json()
    assert got["body"] == "longer-body"
