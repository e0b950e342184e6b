"""ClientSession options and attributes of aiohttp's reference: json_serialize,
skip_auto_headers, response_class, raise_for_status callables, detach(),
auto_decompress per request, version, and the read-only attributes.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import Any

import pytest
from aiohttp import web


@pytest.fixture
async def echo(serve: Any) -> str:
    async def headers(request: web.Request) -> web.Response:
        return web.json_response(
            {"headers": dict(request.headers), "body": (await request.read()).decode()}
        )

    async def gz(request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(b"zipped"), headers={"Content-Encoding": "gzip"})

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="s")

    app = web.Application()
    app.router.add_route("*", "/echo", headers)
    app.router.add_get("/gz", gz)
    app.router.add_get("/status/{code}", status)
    return str(await serve(app))


async def test_json_serialize_is_used(aiohttp: Any, echo: str) -> None:
    calls: list[Any] = []

    def dumps(obj: Any) -> str:
        calls.append(obj)
        return json.dumps(obj, separators=(",", ":"), sort_keys=True)

    async with aiohttp.ClientSession(json_serialize=dumps) as s:
        assert s.json_serialize is dumps
        async with s.post(echo + "/echo", json={"b": 1, "a": [1, 2]}) as resp:
            got = await resp.json()
    assert calls == [{"b": 1, "a": [1, 2]}]
    assert got["body"] == '{"a":[1,2],"b":1}'
    assert got["headers"]["Content-Type"] == "application/json"


async def test_skip_auto_headers_session_and_request(aiohttp: Any, echo: str) -> None:
    async with aiohttp.ClientSession(skip_auto_headers=["User-Agent"]) as s:
        assert "User-Agent" in s.skip_auto_headers
        async with s.get(echo + "/echo") as resp:
            h = (await resp.json())["headers"]
        assert "User-Agent" not in h
        assert h["Accept"] == "*/*"
        async with s.get(echo + "/echo", skip_auto_headers=["Accept"]) as resp:
            h = (await resp.json())["headers"]
        assert "User-Agent" not in h and "Accept" not in h
        async with s.post(echo + "/echo", data=b"x", skip_auto_headers=["Content-Type"]) as resp:
            h = (await resp.json())["headers"]
        assert "Content-Type" not in h
        # An explicit header is sent even when its automatic form is skipped.
        async with s.get(echo + "/echo", headers={"User-Agent": "mine"}) as resp:
            h = (await resp.json())["headers"]
        assert h["User-Agent"] == "mine"


async def test_response_class_subclass_is_used(aiohttp: Any, echo: str) -> None:
    class MyResponse(aiohttp.ClientResponse):  # type: ignore[name-defined,misc]
        async def shout(self) -> str:
            return (await self.text()).upper()

    async with aiohttp.ClientSession(response_class=MyResponse) as s:
        async with s.get(echo + "/status/200") as resp:
            assert type(resp) is MyResponse
            assert await resp.shout() == "S"
        resp = await s.get(echo + "/status/201")
        assert isinstance(resp, MyResponse)
        resp.release()


async def test_raise_for_status_callable_session_and_request(aiohttp: Any, echo: str) -> None:
    seen: list[int] = []

    async def check(resp: Any) -> None:
        seen.append(resp.status)
        if resp.status == 418:
            raise RuntimeError("teapot")

    async with aiohttp.ClientSession(raise_for_status=check) as s:
        assert s.raise_for_status is check
        async with s.get(echo + "/status/200") as resp:
            assert resp.status == 200
        with pytest.raises(RuntimeError, match="teapot"):
            await s.get(echo + "/status/418")

        per_request: list[int] = []

        async def other(resp: Any) -> None:
            per_request.append(resp.status)

        async with s.get(echo + "/status/418", raise_for_status=other) as resp:
            assert resp.status == 418
    assert seen == [200, 418]
    assert per_request == [418]


async def test_auto_decompress_per_request(aiohttp: Any, echo: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(echo + "/gz") as resp:
            assert await resp.read() == b"zipped"
        async with s.get(echo + "/gz", auto_decompress=False) as resp:
            assert gzip.decompress(await resp.read()) == b"zipped"
    async with aiohttp.ClientSession(auto_decompress=False) as s:
        async with s.get(echo + "/gz", auto_decompress=True) as resp:
            assert await resp.read() == b"zipped"


async def test_detach_leaves_connector_open(aiohttp: Any, echo: str) -> None:
    connector = aiohttp.TCPConnector()
    s = aiohttp.ClientSession(connector=connector)
    async with s.get(echo + "/status/200") as resp:
        await resp.read()
    s.detach()
    assert s.closed
    assert s.connector is None
    await s.close()
    assert not connector.closed
    async with aiohttp.ClientSession(connector=connector) as s2:
        async with s2.get(echo + "/status/200") as resp:
            assert resp.status == 200
    assert connector.closed


async def test_read_only_attributes(aiohttp: Any) -> None:
    timeout = aiohttp.ClientTimeout(total=7)
    with pytest.warns(DeprecationWarning):
        auth = aiohttp.BasicAuth("u", "p")
    connector = aiohttp.TCPConnector()
    with pytest.warns(DeprecationWarning, match="'auth' parameter is deprecated"):
        s = aiohttp.ClientSession(
            "http://example.test/api/",
            connector=connector,
            headers={"X-A": "1"},
            skip_auto_headers=["Accept"],
            auth=auth,
            timeout=timeout,
            auto_decompress=False,
            version=aiohttp.HttpVersion10,
            requote_redirect_url=False,
            connector_owner=False,
        )
    try:
        assert s.closed is False
        assert s.connector is connector
        with pytest.warns(DeprecationWarning, match="loop property"):
            assert s.loop is asyncio.get_running_loop()
        assert s.timeout is timeout
        assert s.headers["X-A"] == "1"
        assert s.auth == auth
        assert s.auto_decompress is False
        assert s.version == aiohttp.HttpVersion10
        assert s.requote_redirect_url is False
        assert s.connector_owner is False
        assert s.trust_env is False
        assert s.trace_configs == []
        assert s.raise_for_status is False
        assert s.json_serialize is json.dumps
        assert s.cookie_jar is not None
        with pytest.warns(DeprecationWarning, match="requote_redirect_url"):
            s.requote_redirect_url = True
        assert s.requote_redirect_url is True
    finally:
        await s.close()
        await connector.close()


async def test_unsupported_version_is_refused(aiohttp: Any) -> None:
    if aiohttp.__name__ == "aiohttp":
        pytest.skip("aiohttp accepts any version and sends it as given")
    with pytest.raises(ValueError):
        aiohttp.ClientSession(version=aiohttp.HttpVersion(2, 0))


async def test_request_class_subclass_is_used(aiohttp: Any, echo: str) -> None:
    made: list[Any] = []

    class MyRequest(aiohttp.ClientRequest):  # type: ignore[name-defined,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    async with aiohttp.ClientSession(request_class=MyRequest) as s:
        async with s.get(echo + "/status/200") as resp:
            assert resp.status == 200
    assert len(made) == 1 and isinstance(made[0], MyRequest)


async def test_fallback_charset_resolver(aiohttp: Any, serve: Any) -> None:
    async def latin(request: web.Request) -> web.Response:
        return web.Response(body="café".encode("latin-1"), content_type="text/plain")

    app = web.Application()
    app.router.add_get("/", latin)
    url = await serve(app)
    calls: list[bytes] = []

    def resolver(resp: Any, body: bytes) -> str:
        calls.append(body)
        return "latin-1"

    async with aiohttp.ClientSession(fallback_charset_resolver=resolver) as s:
        async with s.get(url + "/") as resp:
            assert await resp.text() == "café"
    assert calls == ["café".encode("latin-1")]


async def test_deprecated_read_and_conn_timeout(aiohttp: Any) -> None:
    with pytest.warns(DeprecationWarning, match="read_timeout") as rec:
        s = aiohttp.ClientSession(read_timeout=7)
    assert s.timeout.total == 7
    await s.close()
    with pytest.warns(DeprecationWarning, match="conn_timeout") as rec2:
        s = aiohttp.ClientSession(conn_timeout=3)
    assert s.timeout.connect == 3
    await s.close()
    # Both point at the caller's line, as aiohttp's do.
    assert [w.filename for w in [*rec, *rec2]] == [__file__, __file__]
    with pytest.raises(ValueError):
        aiohttp.ClientSession(read_timeout=1, timeout=aiohttp.ClientTimeout(total=2))


async def test_request_auth_warns_on_every_path(aiohttp: Any, echo: str) -> None:
    async def mw(req: Any, handler: Any) -> Any:
        return await handler(req)

    with pytest.warns(DeprecationWarning):
        auth = aiohttp.BasicAuth("u", "p")
    for middlewares in ((), (mw,)):
        async with aiohttp.ClientSession(middlewares=middlewares) as s:
            with pytest.warns(DeprecationWarning, match="'auth' parameter is deprecated"):
                async with s.get(echo + "/echo", auth=auth) as resp:
                    got = await resp.json()
            assert got["headers"]["Authorization"].startswith("Basic ")


async def test_deprecation_warnings_of_aiohttp(aiohttp: Any, echo: str) -> None:
    with pytest.warns(DeprecationWarning, match="ssl_shutdown_timeout"):
        connector = aiohttp.TCPConnector(ssl_shutdown_timeout=1)
    await connector.close()
    with pytest.warns(DeprecationWarning, match="ssl_shutdown_timeout"):
        session = aiohttp.ClientSession(ssl_shutdown_timeout=1)
    await session.close()
    with pytest.warns(DeprecationWarning):
        proxy_auth = aiohttp.BasicAuth("u", "p")
    with pytest.warns(DeprecationWarning, match="'proxy_auth' parameter is deprecated"):
        session = aiohttp.ClientSession(proxy_auth=proxy_auth)
    await session.close()
    async with aiohttp.ClientSession() as s:
        with pytest.warns(DeprecationWarning, match="Chunk size is deprecated"):
            async with s.post(echo + "/echo", data=b"abc", chunked=1024) as resp:
                assert (await resp.json())["body"] == "abc"


async def test_json_serialize_bytes_on_every_path(
    aiohttp: Any, echo: str, session_kw: dict[str, Any]
) -> None:
    calls: list[Any] = []

    def dumps(obj: Any) -> bytes:
        calls.append(obj)
        return b'{"bytes": true}'

    async with aiohttp.ClientSession(json_serialize_bytes=dumps, **session_kw) as s:
        async with s.post(echo + "/echo", json={"a": 1}) as resp:
            got = await resp.json()
    assert calls == [{"a": 1}]
    assert got["body"] == '{"bytes": true}'
    assert got["headers"]["Content-Type"] == "application/json"


def test_subclassing_client_session_warns(aiohttp: Any) -> None:
    with pytest.warns(DeprecationWarning, match="Inheritance class Mine from ClientSession"):

        class Mine(aiohttp.ClientSession):  # type: ignore[misc]
            pass
