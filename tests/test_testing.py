"""aioxide.testing: MockConnector(handler) and aioresponses answer each hop
of the session's real request flow (preparation, redirects, cookies,
middlewares, tracing, raise_for_status) with a real ClientResponse."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any, Awaitable, Callable

import pytest
from aiohttp import web
from multidict import CIMultiDictProxy
from yarl import URL

from conftest import TARGET

if TARGET != "aioxide":
    pytest.skip("aioxide.testing is aioxide's own module", allow_module_level=True)

import aioxide
from aioxide.client import ClientSession
from aioxide.connector import BaseConnector
from aioxide.testing import MockConnector, MockRequest, MockResponse, aioresponses

Handler = Callable[[MockRequest], Awaitable[MockResponse]]


async def echo(req: MockRequest) -> MockResponse:
    """Answers with what it saw."""
    return MockResponse(
        json={
            "method": req.method,
            "url": str(req.url),
            "headers": dict(req.headers),
            "body": req.body.decode("latin-1"),
        }
    )


def mock_session(handler: Any, **kw: Any) -> aioxide.ClientSession:
    return aioxide.ClientSession(connector=MockConnector(handler), **kw)


# -- the response object -----------------------------------------------------------
async def test_response_is_a_real_client_response() -> None:
    async def handler(req: MockRequest) -> MockResponse:
        return MockResponse(201, text="héllo\nworld\n", headers={"X-One": "1"})

    async with mock_session(handler) as s:
        async with s.get("http://example.com/a?x=1#frag") as resp:
            assert type(resp) is aioxide.ClientResponse
            assert (resp.status, resp.reason, resp.ok) == (201, "Created", True)
            assert isinstance(resp.headers, CIMultiDictProxy)
            assert resp.headers["x-one"] == "1"
            assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
            assert resp.content_length == len("héllo\nworld\n".encode())
            assert resp.url == URL("http://example.com/a?x=1")
            assert resp.real_url == URL("http://example.com/a?x=1")
            assert resp.history == ()
            info = resp.request_info
            assert info.method == "GET" and info.url == URL("http://example.com/a?x=1")
            assert info.headers["Host"] == "example.com"
            assert resp.charset == "utf-8" and resp.get_encoding() == "utf-8"
            assert await resp.content.readline() == "héllo\n".encode()
            assert await resp.content.readany() == b"world\n"
            assert await resp.content.read() == b""
            assert resp.content.at_eof()


async def test_body_read_text_json_and_chunks() -> None:
    async def handler(req: MockRequest) -> MockResponse:
        if req.url.path == "/latin":
            return MockResponse(
                body="café".encode("latin-1"), content_type="text/plain; charset=latin-1"
            )
        if req.url.path == "/json":
            return MockResponse(json={"a": [1, 2]})
        return MockResponse(body=b"1234567890")

    async with mock_session(handler) as s:
        async with s.get("http://h/latin") as r:
            assert await r.text() == "café"
            assert await r.read() == "café".encode("latin-1")
        async with s.get("http://h/json") as r:
            assert await r.json() == {"a": [1, 2]}
        async with s.get("http://h/bytes") as r:
            assert [c async for c in r.content.iter_chunked(4)] == [b"1234", b"5678", b"90"]
        async with s.get("http://h/bytes") as r:
            with pytest.raises(aioxide.ContentTypeError):
                await r.json()
            assert await r.json(content_type=None) == 1234567890
        r = await s.get("http://h/bytes")
        r.release()
        assert r.closed
        with pytest.raises(aioxide.ClientConnectionError):
            await r.content.read()


async def test_head_and_204_have_no_body() -> None:
    async def handler(req: MockRequest) -> MockResponse:
        return MockResponse(204 if req.method == "DELETE" else 200, body=b"ignored")

    async with mock_session(handler) as s:
        async with s.head("http://h/") as r:
            assert await r.read() == b""
        async with s.delete("http://h/") as r:
            assert r.status == 204
            assert await r.read() == b""


async def test_session_response_class_is_used() -> None:
    class Mine(aioxide.ClientResponse):
        pass

    async with mock_session(echo, response_class=Mine) as s:
        async with s.get("http://h/") as r:
            assert isinstance(r, Mine)


# -- the request as prepared ---------------------------------------------------------
async def test_handler_sees_the_prepared_request() -> None:
    async with mock_session(echo, headers={"X-Session": "s"}) as s:
        async with s.post("http://h/p", params={"q": "1"}, json={"k": "v"}) as r:
            seen = await r.json()
        assert seen["method"] == "POST"
        assert seen["url"] == "http://h/p?q=1"
        assert seen["body"] == '{"k": "v"}'
        headers = seen["headers"]
        assert headers["X-Session"] == "s"
        assert headers["Host"] == "h"
        assert headers["Content-Type"] == "application/json"
        assert headers["Content-Length"] == str(len('{"k": "v"}'))
        assert "User-Agent" in headers and "Accept-Encoding" in headers
        async with s.post("http://h/f", data={"a": "1", "b": "2"}) as r:
            seen = await r.json()
        assert seen["body"] == "a=1&b=2"
        assert seen["headers"]["Content-Type"] == "application/x-www-form-urlencoded"

        async def gen() -> Any:
            yield b"stream"
            yield b"ed"

        async with s.put("http://h/g", data=gen()) as r:
            assert (await r.json())["body"] == "streamed"
        async with s.get("http://user:pw@h/auth") as r:
            assert (await r.json())["headers"]["Authorization"] == "Basic dXNlcjpwdw=="


async def test_connector_records_every_hop_and_sync_handlers_work() -> None:
    def handler(req: MockRequest) -> MockResponse:
        if req.url.path == "/start":
            return MockResponse(302, headers={"Location": "/end"})
        return MockResponse(text="end")

    conn = MockConnector(handler)
    async with aioxide.ClientSession(connector=conn) as s:
        async with s.get("http://h/start") as r:
            assert await r.text() == "end"
    assert [(m.method, m.url.path) for m in conn.requests] == [("GET", "/start"), ("GET", "/end")]


async def test_a_handler_returning_something_else_is_a_type_error() -> None:
    async def handler(req: MockRequest) -> Any:
        return 200

    async with mock_session(handler) as s:
        with pytest.raises(TypeError, match="MockResponse"):
            await s.get("http://h/")


# -- redirects and cookies through the session --------------------------------------------
async def test_redirects_with_cookies() -> None:
    async def handler(req: MockRequest) -> MockResponse:
        if req.url.path == "/login":
            return MockResponse(303, headers={"Location": "/home", "Set-Cookie": "sid=abc; Path=/"})
        if req.url.path == "/home":
            return MockResponse(json={"method": req.method, "cookie": req.headers.get("Cookie")})
        return MockResponse(404)

    async with mock_session(handler) as s:
        async with s.post("http://example.com/login", data=b"user") as r:
            assert r.status == 200
            assert await r.json() == {"method": "GET", "cookie": "sid=abc"}
            assert r.url == URL("http://example.com/home")
            assert [h.status for h in r.history] == [303]
            assert r.history[0].cookies["sid"].value == "abc"
        assert {c.key: c.value for c in s.cookie_jar} == {"sid": "abc"}
        # The jar sends it on the next request too.
        async with s.get("http://example.com/home") as r:
            assert (await r.json())["cookie"] == "sid=abc"


async def test_307_keeps_method_and_body() -> None:
    async def handler(req: MockRequest) -> MockResponse:
        if req.url.path == "/old":
            return MockResponse(307, headers={"Location": "http://other.example/new"})
        return await echo(req)

    async with mock_session(handler) as s:
        async with s.put("http://h/old", data=b"payload") as r:
            seen = await r.json()
    assert (seen["method"], seen["url"], seen["body"]) == (
        "PUT",
        "http://other.example/new",
        "payload",
    )


async def test_too_many_redirects_and_allow_redirects_false() -> None:
    async def loop_handler(req: MockRequest) -> MockResponse:
        n = int(req.url.query.get("n", "0"))
        return MockResponse(302, headers={"Location": f"/r?n={n + 1}"})

    async with mock_session(loop_handler) as s:
        with pytest.raises(aioxide.TooManyRedirects) as e:
            await s.get("http://h/r", max_redirects=3)
        assert len(e.value.history) == 3
        async with s.get("http://h/r", allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == "/r?n=1"


async def test_raise_for_status() -> None:
    async def handler(req: MockRequest) -> MockResponse:
        return MockResponse(418, reason="Teapot", text="no")

    async with mock_session(handler, raise_for_status=True) as s:
        with pytest.raises(aioxide.ClientResponseError) as e:
            await s.get("http://h/")
        assert (e.value.status, e.value.message) == (418, "Teapot")
        async with s.get("http://h/", raise_for_status=False) as r:
            with pytest.raises(aioxide.ClientResponseError):
                r.raise_for_status()


async def test_handler_exception_is_the_request_error() -> None:
    async def handler(req: MockRequest) -> MockResponse:
        raise aioxide.ServerDisconnectedError()

    async with mock_session(handler) as s:
        with pytest.raises(aioxide.ServerDisconnectedError):
            await s.get("http://h/")


# -- middlewares and tracing see the mocked hops -----------------------------------------------
async def test_middlewares_see_the_mocked_response_and_can_retry() -> None:
    calls = {"n": 0}

    async def flaky(req: MockRequest) -> MockResponse:
        calls["n"] += 1
        return MockResponse(503 if calls["n"] == 1 else 200, text=req.headers.get("X-Try", ""))

    seen: list[int] = []

    async def retry(req: Any, handler: Any) -> Any:
        resp = await handler(req)
        seen.append(resp.status)
        if resp.status == 503:
            resp.release()
            req.headers["X-Try"] = "2"
            resp = await handler(req)
            seen.append(resp.status)
        return resp

    async with mock_session(flaky, middlewares=(retry,)) as s:
        async with s.get("http://h/") as r:
            assert (r.status, await r.text()) == (200, "2")
    assert seen == [503, 200]


async def test_trace_signals_are_sent() -> None:
    events: list[str] = []
    tc = aioxide.TraceConfig()

    def record(name: str) -> Any:
        async def on(session: Any, ctx: Any, params: Any) -> None:
            events.append(name)

        return on

    for name in (
        "on_request_start",
        "on_request_redirect",
        "on_connection_create_start",
        "on_connection_create_end",
        "on_request_headers_sent",
        "on_request_chunk_sent",
        "on_response_chunk_received",
        "on_request_end",
        "on_request_exception",
    ):
        getattr(tc, name).append(record(name))

    async def handler(req: MockRequest) -> MockResponse:
        if req.url.path == "/fail":
            raise aioxide.ClientOSError("boom")
        if req.url.path == "/r":
            return MockResponse(302, headers={"Location": "/b"})
        return MockResponse(body=b"data")

    async with mock_session(handler, trace_configs=[tc]) as s:
        async with s.post("http://h/r", data=b"x") as r:
            await r.read()
        hop = ["on_connection_create_start", "on_connection_create_end", "on_request_headers_sent"]
        assert events == [
            "on_request_start",
            *hop,
            "on_request_chunk_sent",
            "on_request_redirect",
            *hop,
            "on_request_end",
            "on_response_chunk_received",
        ]
        events.clear()
        with pytest.raises(aioxide.ClientOSError):
            await s.get("http://h/fail")
        assert events[0] == "on_request_start" and events[-1] == "on_request_exception"


# -- both loops -------------------------------------------------------------------------
async def _scenario() -> None:
    async def handler(req: MockRequest) -> MockResponse:
        if req.url.path == "/":
            return MockResponse(302, headers={"Location": "/x", "Set-Cookie": "k=v"})
        return MockResponse(text=req.headers.get("Cookie", ""))

    async with mock_session(handler) as s:
        async with s.get("http://h/") as r:
            assert await r.text() == "k=v"
    async with aioxide.ClientSession() as s:
        with aioresponses() as m:
            m.get("http://h/a", payload={"ok": True})
            async with s.get("http://h/a") as r:
                assert await r.json() == {"ok": True}
            m.assert_called_once_with("http://h/a")


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_both_loops(loop_name: str) -> None:
    if loop_name == "uvloop":
        factory = pytest.importorskip("uvloop").new_event_loop
    else:
        factory = asyncio.new_event_loop
    loop = factory()
    try:
        loop.run_until_complete(asyncio.wait_for(_scenario(), 30))
    finally:
        loop.close()


# -- aioresponses: the patch, its scope, passthrough -------------------------------------------
@pytest.fixture
async def local(serve: Any) -> str:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=f"real {request.path_qs}")

    async def read_all(request: web.Request) -> web.Response:
        return web.Response(text=f"read {len(await request.read())}")

    app = web.Application()
    app.router.add_get("/{tail:.*}", hello)
    app.router.add_post("/{tail:.*}", read_all)
    return str(await serve(app))


async def test_aioresponses_patches_only_while_active(local: str) -> None:
    original = ClientSession.__dict__["_request"]
    async with aioxide.ClientSession() as before:
        with aioresponses() as m:
            assert ClientSession.__dict__["_request"] is not original
            m.get(local + "/x", body="mocked")
            async with before.get(local + "/x") as r:  # a session made before entering
                assert await r.text() == "mocked"
            with pytest.raises(aioxide.ClientConnectionError) as e:
                await before.get(local + "/unmatched")
            assert str(e.value) == f"Connection refused: GET {local}/unmatched"
        assert ClientSession.__dict__["_request"] is original
        assert BaseConnector._testing_answer is None
        async with before.get(local + "/x") as r:  # the network again
            assert await r.text() == "real /x"


async def test_aioresponses_passthrough(local: str) -> None:
    async with aioxide.ClientSession() as s:
        with aioresponses(passthrough=[local + "/pass"]) as m:
            m.get(local + "/mocked", body="mocked")
            async with s.get(local + "/pass/1", params={"a": "b"}) as r:
                assert await r.text() == "real /pass/1?a=b"
            async with s.get(local + "/mocked") as r:
                assert await r.text() == "mocked"
            with pytest.raises(aioxide.ClientConnectionError, match="Connection refused"):
                await s.get(local + "/other")
            assert (("GET", URL(local + "/pass/1?a=b"))) not in m.requests
        with aioresponses(passthrough_unmatched=True) as m:
            m.get(local + "/mocked", body="mocked")
            async with s.get(local + "/mocked") as r:
                assert await r.text() == "mocked"
            async with s.get(local + "/other") as r:
                assert await r.text() == "real /other"
            m.assert_any_call(local + "/other")


async def test_aioresponses_exception_classes_and_tracing() -> None:
    events: list[str] = []
    tc = aioxide.TraceConfig()

    async def on_exception(session: Any, ctx: Any, params: Any) -> None:
        events.append(type(params.exception).__name__)

    tc.on_request_exception.append(on_exception)
    async with aioxide.ClientSession(trace_configs=[tc]) as s:
        with aioresponses() as m:
            m.get("http://h/a", exception=aioxide.ClientOSError)
            m.get("http://h/b", exception=aioxide.ServerTimeoutError("slow"))
            m.get("http://h/c", timeout=True)
            with pytest.raises(aioxide.ClientOSError):
                await s.get("http://h/a")
            with pytest.raises(aioxide.ServerTimeoutError):
                await s.get("http://h/b")
            with pytest.raises(asyncio.TimeoutError):
                await s.get("http://h/c")
    assert events == ["ClientOSError", "ServerTimeoutError", "TimeoutError"]


async def test_aioresponses_redirects_run_in_the_session() -> None:
    async with aioxide.ClientSession() as s:
        with aioresponses() as m:
            m.get("http://h/login", status=302, headers={"Location": "/home", "Set-Cookie": "s=1"})
            m.get("http://h/home", callback=lambda url, **kw: None, body="home")
            async with s.get("http://h/login") as r:
                assert (r.status, await r.text()) == (200, "home")
                assert r.history[0].status == 302
                assert r.request_info.headers["Cookie"] == "s=1"
            assert list(m.requests) == [("GET", URL("http://h/login"))]


async def test_aioresponses_decorator_with_param() -> None:
    @aioresponses(param="mocked")
    async def run(mocked: aioresponses) -> int:
        mocked.post("http://h/p", status=202)
        async with aioxide.ClientSession() as s:
            async with s.post("http://h/p", json={"a": 1}) as r:
                mocked.assert_called_once_with("http://h/p", method="POST", json={"a": 1})
                return r.status

    assert await run() == 202
    assert BaseConnector._testing_answer is None


def test_import_changes_nothing() -> None:
    code = (
        "import sys, asyncio, aioxide\n"
        "assert 'aioxide.testing' not in sys.modules\n"
        "before = aioxide.ClientSession.__dict__['_request']\n"
        "import aioxide.testing\n"
        "assert aioxide.ClientSession.__dict__['_request'] is before\n"
        "assert aioxide.BaseConnector._testing_answer is None\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


async def test_aioresponses_reason_clear_and_session_response_class() -> None:
    class Mine(aioxide.ClientResponse):
        pass

    async with aioxide.ClientSession(response_class=Mine) as s:
        with aioresponses() as m:
            m.get("http://h/a", status=299, reason="Custom")
            async with s.get("http://h/a") as r:
                assert isinstance(r, Mine)  # the session's class (aioresponses: aiohttp's)
                assert (r.status, r.reason) == (299, "Custom")
            m.get("http://h/b", repeat=True)
            m.clear()
            with pytest.raises(aioxide.ClientConnectionError):
                await s.get("http://h/b")


async def test_aioresponses_with_a_middleware_and_nested() -> None:
    seen: list[int] = []

    async def mw(req: Any, handler: Any) -> Any:
        resp = await handler(req)
        seen.append(resp.status)
        return resp

    original = ClientSession.__dict__["_request"]
    async with aioxide.ClientSession(middlewares=(mw,)) as s:
        with aioresponses() as outer:
            outer.get("http://h/o", status=201)
            with aioresponses() as inner:
                inner.get("http://h/i", status=202)
                assert (await s.get("http://h/i")).status == 202
                with pytest.raises(aioxide.ClientConnectionError):
                    await s.get("http://h/o")  # the inner mock answers while active
            assert (await s.get("http://h/o")).status == 201
            assert list(inner.requests) == [("GET", URL("http://h/i")), ("GET", URL("http://h/o"))]
            assert list(outer.requests) == [("GET", URL("http://h/o"))]
    assert seen == [202, 201]
    assert ClientSession.__dict__["_request"] is original
    assert BaseConnector._testing_answer is None


async def test_aioresponses_async_decorator_passes_the_mock_last() -> None:
    @aioresponses()
    async def run(url: str, m: aioresponses) -> int:
        m.get(url, status=203)
        async with aioxide.ClientSession() as s:
            async with s.get(url) as r:
                return r.status

    assert await run("http://h/d") == 203


@pytest.mark.parametrize("mocked", [False, True])
async def test_failing_body_source_fails_as_on_the_engine_path(local: str, mocked: bool) -> None:
    async def body() -> Any:
        yield b"part"
        raise ValueError("source broke")

    async def handler(req: MockRequest) -> MockResponse:
        return MockResponse()

    kw: dict[str, Any] = {"connector": MockConnector(handler)} if mocked else {}
    async with aioxide.ClientSession(**kw) as s:
        with pytest.raises(aioxide.ClientConnectionError) as e:
            await s.post(local + "/x", data=body())
    assert isinstance(e.value.__cause__, ValueError)


async def test_websocket_upgrade_is_refused_clearly() -> None:
    async def handler(req: MockRequest) -> MockResponse:
        key = req.headers["Sec-WebSocket-Key"]
        import base64
        import hashlib

        magic = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        accept = base64.b64encode(hashlib.sha1(key.encode() + magic).digest()).decode()
        return MockResponse(
            101,
            headers={
                "Upgrade": "websocket",
                "Connection": "upgrade",
                "Sec-WebSocket-Accept": accept,
            },
        )

    async with mock_session(handler) as s:
        with pytest.raises(NotImplementedError, match="WebSocket"):
            await s.ws_connect("http://h/ws")
