"""ClientSession behaviour: lifecycle, the verb helpers, base_url, default headers,
session timeout and raise_for_status, keep-alive reuse, and TCPConnector limits.

Every test here must pass against aiohttp 3.14.5 (AIOXIDE_TEST_TARGET=aiohttp).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from yarl import URL

from conftest import H2

METHODS = ["get", "post", "put", "patch", "delete", "head", "options"]


def _peer_port(request: web.Request) -> int:
    assert request.transport is not None
    return int(request.transport.get_extra_info("peername")[1])


async def _echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response(
        {
            "method": request.method,
            "path": request.path,
            "raw_path": request.raw_path,
            "headers": [[k, v] for k, v in request.headers.items()],
            "body": body.decode("latin-1"),
        },
        headers={"X-Method": request.method},
    )


async def _port(request: web.Request) -> web.Response:
    return web.Response(text=str(_peer_port(request)))


async def _status(request: web.Request) -> web.Response:
    code = int(request.match_info["code"])
    return web.Response(
        status=code,
        reason=request.query.get("reason"),
        text=f"status {code}",
        headers={"X-Err": "yes"},
    )


@pytest.fixture
async def release_hang() -> AsyncIterator[asyncio.Event]:
    """An event a hanging handler waits on; set at teardown so server cleanup is quick."""
    ev = asyncio.Event()
    yield ev
    ev.set()


@pytest.fixture
async def base(serve: Any, release_hang: asyncio.Event) -> str:
    async def hang(request: web.Request) -> web.Response:
        try:
            await asyncio.wait_for(release_hang.wait(), 30)
        except asyncio.TimeoutError:
            pass
        return web.Response(text="late")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.3)
        return web.Response(text="slow done")

    app = web.Application()
    app.router.add_get("/port", _port)
    app.router.add_get("/hang", hang)
    app.router.add_get("/slow", slow)
    app.router.add_route("*", "/status/{code}", _status)
    app.router.add_route("*", "/{tail:.*}", _echo)
    return await serve(app)


def _header_values(echo: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in echo["headers"] if k.lower() == name.lower()]


# --------------------------------------------------------------------------- lifecycle


async def test_async_with_session_is_open_inside_and_closed_after(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        assert s.closed is False
        async with s.get(base + "/echo") as resp:
            assert resp.status == 200
    assert s.closed is True


async def test_close_sets_closed_and_is_idempotent(aiohttp: Any, base: str) -> None:
    s = aiohttp.ClientSession()
    assert s.closed is False
    resp = await s.get(base + "/echo")
    assert resp.status == 200
    resp.release()
    await s.close()
    assert s.closed is True
    await s.close()  # second close is a no-op
    assert s.closed is True


async def test_closed_session_raises_runtime_error(aiohttp: Any, base: str) -> None:
    s = aiohttp.ClientSession()
    await s.close()
    with pytest.raises(RuntimeError):
        await s.get(base + "/echo")
    with pytest.raises(RuntimeError):
        async with s.post(base + "/echo", data=b"x"):
            pass  # pragma: no cover


async def test_session_owned_connector_is_closed_with_session(aiohttp: Any, base: str) -> None:
    conn = aiohttp.TCPConnector()
    async with aiohttp.ClientSession(connector=conn) as s:
        async with s.get(base + "/echo") as resp:
            assert resp.status == 200
        assert conn.closed is False
    assert conn.closed is True


async def test_connector_owner_false_leaves_connector_open(aiohttp: Any, base: str) -> None:
    conn = aiohttp.TCPConnector()
    try:
        async with (
            aiohttp.ClientSession(connector=conn, connector_owner=False) as s,
            s.get(base + "/echo") as resp,
        ):
            assert resp.status == 200
        assert conn.closed is False
        async with (
            aiohttp.ClientSession(connector=conn, connector_owner=False) as s2,
            s2.get(base + "/echo") as resp,
        ):
            assert resp.status == 200
    finally:
        await conn.close()
    assert conn.closed is True


# --------------------------------------------------------------------------- verbs


@pytest.mark.parametrize("verb", METHODS)
async def test_verb_helper_as_async_context_manager(aiohttp: Any, base: str, verb: str) -> None:
    async with aiohttp.ClientSession() as s, getattr(s, verb)(base + "/echo") as resp:
        assert resp.status == 200
        assert resp.method == verb.upper()
        assert resp.headers["X-Method"] == verb.upper()
        if verb == "head":
            assert await resp.read() == b""
        else:
            echo = await resp.json()
            assert echo["method"] == verb.upper()
            assert echo["path"] == "/echo"


@pytest.mark.parametrize("verb", METHODS)
async def test_verb_helper_awaited_then_released(aiohttp: Any, base: str, verb: str) -> None:
    async with aiohttp.ClientSession() as s:
        resp = await getattr(s, verb)(base + "/echo")
        try:
            assert isinstance(resp, aiohttp.ClientResponse)
            assert resp.status == 200
            assert resp.method == verb.upper()
            assert resp.headers["X-Method"] == verb.upper()
        finally:
            resp.release()
        assert resp.closed is True


@pytest.mark.parametrize("verb", METHODS)
async def test_request_with_method_name(aiohttp: Any, base: str, verb: str) -> None:
    async with aiohttp.ClientSession() as s:
        # lower-case method names are upper-cased
        async with s.request(verb, base + "/echo") as resp:
            assert resp.method == verb.upper()
            assert resp.headers["X-Method"] == verb.upper()
        resp2 = await s.request(verb.upper(), base + "/echo")
        try:
            assert resp2.status == 200
            assert resp2.headers["X-Method"] == verb.upper()
        finally:
            resp2.release()


async def test_request_accepts_yarl_url(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s, s.get(URL(base) / "echo") as resp:
        assert resp.url == URL(base + "/echo")
        assert (await resp.json())["path"] == "/echo"


async def test_module_level_request_context_manager(aiohttp: Any, base: str) -> None:
    async with aiohttp.request("GET", base + "/echo") as resp:
        assert resp.status == 200
        echo = await resp.json()
    assert echo["method"] == "GET"
    assert echo["path"] == "/echo"

    async with aiohttp.request("POST", base + "/echo", data=b"payload") as resp:
        echo = await resp.json()
    assert echo["method"] == "POST"
    assert echo["body"] == "payload"


async def test_module_level_request_is_not_awaitable(aiohttp: Any, base: str) -> None:
    """As in aiohttp, ``await request(...)`` is a TypeError: its session is
    closed only by ``async with``."""
    cm = aiohttp.request("GET", base + "/echo")
    with pytest.raises(TypeError, match="await"):
        await cm
    async with cm as resp:
        assert resp.status == 200


# --------------------------------------------------------------------------- base_url


@pytest.mark.parametrize(
    ("relative", "expected_raw_path"),
    [
        ("items", "/api/v1/items"),
        ("items?x=1", "/api/v1/items?x=1"),
        ("./sub/leaf", "/api/v1/sub/leaf"),
        ("../up", "/api/up"),
        ("/root", "/root"),
        ("", "/api/v1/"),
    ],
)
async def test_base_url_joins_relative_urls(
    aiohttp: Any, base: str, relative: str, expected_raw_path: str
) -> None:
    async with aiohttp.ClientSession(base_url=base + "/api/v1/") as s, s.get(relative) as resp:
        echo = await resp.json()
        assert echo["raw_path"] == expected_raw_path
        assert resp.url == URL(base + expected_raw_path)
        assert resp.url.is_absolute()


async def test_base_url_as_yarl_url_and_params(aiohttp: Any, base: str) -> None:
    async with (
        aiohttp.ClientSession(base_url=URL(base + "/api/")) as s,
        s.get("things", params={"q": "a b"}) as resp,
    ):
        assert (await resp.json())["raw_path"] == "/api/things?q=a+b"


async def test_the_same_url_str_again_goes_out_the_same(aiohttp: Any, base: str) -> None:
    # A session remembers what a URL str became (yarl's URL and its text):
    # the second use is the same request, and params still extend it.
    async with aiohttp.ClientSession(base_url=base + "/api/") as s:
        for _ in range(2):
            async with s.get("a b?x=1") as resp:
                assert (await resp.json())["raw_path"] == "/api/a%20b?x=1"
                assert resp.url == URL(base + "/api/a%20b?x=1")
        for q in ("1", "2"):
            async with s.get("a b?x=1", params={"y": q}) as resp:
                assert (await resp.json())["raw_path"] == f"/api/a%20b?x=1&y={q}"
        async with s.get("a b?x=1") as resp:
            assert (await resp.json())["raw_path"] == "/api/a%20b?x=1"


async def test_base_url_ignored_for_absolute_url(aiohttp: Any, base: str, serve: Any) -> None:
    other_app = web.Application()
    other_app.router.add_route("*", "/{tail:.*}", _echo)
    other = await serve(other_app)
    async with (
        aiohttp.ClientSession(base_url=base + "/api/") as s,
        s.get(other + "/elsewhere") as resp,
    ):
        assert resp.url == URL(other + "/elsewhere")
        assert (await resp.json())["raw_path"] == "/elsewhere"


async def test_base_url_with_path_needs_trailing_slash(aiohttp: Any, base: str) -> None:
    with pytest.raises(ValueError):
        aiohttp.ClientSession(base_url=base + "/api")


# --------------------------------------------------------------------------- default headers


async def test_session_headers_merged_with_request_headers(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession(
        headers={"X-Session": "s-value", "X-Both": "from-session"}
    ) as s:
        async with s.get(
            base + "/echo", headers={"X-Request": "r-value", "x-both": "from-request"}
        ) as resp:
            echo = await resp.json()
        assert _header_values(echo, "X-Session") == ["s-value"]
        assert _header_values(echo, "X-Request") == ["r-value"]
        # the request header replaces the session one (case-insensitively), not appended
        assert _header_values(echo, "X-Both") == ["from-request"]

        # the session defaults are not mutated by a per-request override
        async with s.get(base + "/echo") as resp:
            echo2 = await resp.json()
        assert _header_values(echo2, "X-Both") == ["from-session"]
        assert _header_values(echo2, "X-Session") == ["s-value"]
        assert _header_values(echo2, "X-Request") == []


# --------------------------------------------------------------------------- timeouts


async def test_session_timeout_applies_to_requests(aiohttp: Any, base: str) -> None:
    timeout = aiohttp.ClientTimeout(total=0.3)
    async with aiohttp.ClientSession(timeout=timeout) as s:
        assert s.timeout == timeout
        with pytest.raises(asyncio.TimeoutError):
            await s.get(base + "/hang")
        # the session is still usable after a timeout
        async with s.get(base + "/echo") as resp:
            assert resp.status == 200


async def test_request_timeout_overrides_session_timeout(aiohttp: Any, base: str) -> None:
    # short session timeout, longer per-request timeout: the request succeeds
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.05)) as s,
        s.get(base + "/slow", timeout=aiohttp.ClientTimeout(total=20)) as resp,
    ):
        assert await resp.text() == "slow done"
    # long session timeout, short per-request timeout: the request times out
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as s:
        with pytest.raises(asyncio.TimeoutError):
            await s.get(base + "/hang", timeout=aiohttp.ClientTimeout(total=0.2))


async def test_session_timeout_must_be_client_timeout(aiohttp: Any) -> None:
    with pytest.raises(ValueError):
        aiohttp.ClientSession(timeout=5.0)


# --------------------------------------------------------------------------- raise_for_status


async def test_session_raise_for_status_raises_client_response_error(
    aiohttp: Any, base: str
) -> None:
    url = base + "/status/418?reason=Short+And+Stout"
    async with aiohttp.ClientSession(raise_for_status=True) as s:
        with pytest.raises(aiohttp.ClientResponseError) as exc_info:
            await s.get(url, headers={"X-Mine": "1"})
        err = exc_info.value
        assert err.status == 418
        # HTTP/2 carries no reason phrase: the status' canonical one stands in.
        assert err.message == ("I'm a teapot" if H2 else "Short And Stout")
        assert err.request_info.url == URL(url)
        assert err.request_info.method == "GET"
        assert err.request_info.headers["X-Mine"] == "1"
        assert err.headers is not None
        assert err.headers["X-Err"] == "yes"
        assert err.history == ()

        with pytest.raises(aiohttp.ClientResponseError) as exc_info2:
            async with s.post(base + "/status/500"):
                pass  # pragma: no cover
        assert exc_info2.value.status == 500
        assert exc_info2.value.message == "Internal Server Error"
        assert exc_info2.value.request_info.method == "POST"


async def test_session_raise_for_status_ignores_success_and_redirect(
    aiohttp: Any, base: str
) -> None:
    async with aiohttp.ClientSession(raise_for_status=True) as s:
        async with s.get(base + "/status/200") as resp:
            assert resp.status == 200
        async with s.get(base + "/status/399") as resp:
            assert resp.status == 399


async def test_request_raise_for_status_false_overrides_session(aiohttp: Any, base: str) -> None:
    async with (
        aiohttp.ClientSession(raise_for_status=True) as s,
        s.get(base + "/status/404", raise_for_status=False) as resp,
    ):
        assert resp.status == 404
        assert resp.ok is False
        assert await resp.text() == "status 404"


async def test_request_raise_for_status_true_overrides_session(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        # default: no raise
        async with s.get(base + "/status/503") as resp:
            assert resp.status == 503
        with pytest.raises(aiohttp.ClientResponseError) as exc_info:
            await s.get(base + "/status/503", raise_for_status=True)
        assert exc_info.value.status == 503
        assert exc_info.value.message == "Service Unavailable"


# --------------------------------------------------------------------------- keep-alive


@pytest.mark.h1_only(
    "the origin's peer port counts client connections; behind the h2 front "
    "each stream is a new origin connection"
)
async def test_sequential_requests_reuse_one_connection(aiohttp: Any, base: str) -> None:
    ports = []
    async with aiohttp.ClientSession() as s:
        for _ in range(5):
            async with s.get(base + "/port") as resp:
                ports.append(int(await resp.text()))
        resp = await s.get(base + "/port")
        ports.append(int(await resp.text()))
        resp.release()
    assert len(ports) == 6
    assert len(set(ports)) == 1


@pytest.mark.h1_only(
    "an unread HTTP/1.1 body closes its connection; on h2 only the stream is reset"
)
async def test_unread_released_response_connection_not_reused(aiohttp: Any, serve: Any) -> None:
    released = asyncio.Event()
    seen: dict[str, int] = {}
    chunk = b"x" * 65536

    async def big(request: web.Request) -> web.StreamResponse:
        seen["big"] = _peer_port(request)
        resp = web.StreamResponse()
        resp.content_length = 64 * len(chunk)
        await resp.prepare(request)
        await resp.write(chunk)
        try:
            # the rest is only sent after the client released the response
            await asyncio.wait_for(released.wait(), 10)
            for _ in range(63):
                await resp.write(chunk)
        except (ConnectionError, asyncio.TimeoutError):
            pass
        return resp

    app = web.Application()
    app.router.add_get("/big", big)
    app.router.add_get("/port", _port)
    base = await serve(app)

    try:
        async with aiohttp.ClientSession() as s:
            resp = await s.get(base + "/big")
            assert resp.status == 200
            assert resp.headers["Content-Length"] == str(64 * len(chunk))
            resp.release()  # body not read to its end
            released.set()
            async with s.get(base + "/port") as resp2:
                assert resp2.status == 200
                next_port = int(await resp2.text())
            # and the fresh connection is itself reusable
            async with s.get(base + "/port") as resp3:
                third_port = int(await resp3.text())
    finally:
        released.set()
    assert next_port != seen["big"]
    assert third_port == next_port


# --------------------------------------------------------------------------- connector


class _InFlight:
    """Counts concurrent requests; each waits (bounded) until `target` are in flight."""

    def __init__(self, target: int, wait: float) -> None:
        self.now = 0
        self.max = 0
        self.target = target
        self.wait = wait
        self.reached = asyncio.Event()
        self.per_server: dict[str, int] = {}
        self.per_server_max: dict[str, int] = {}

    def handler(self, name: str) -> Any:
        async def handle(request: web.Request) -> web.Response:
            self.now += 1
            self.per_server[name] = self.per_server.get(name, 0) + 1
            self.max = max(self.max, self.now)
            self.per_server_max[name] = max(self.per_server_max.get(name, 0), self.per_server[name])
            if self.now >= self.target:
                self.reached.set()
            try:
                await asyncio.wait_for(self.reached.wait(), self.wait)
            except asyncio.TimeoutError:
                pass
            finally:
                self.now -= 1
                self.per_server[name] -= 1
            return web.Response(text=name)

        return handle


async def _fetch_text(s: Any, url: str) -> str:
    async with s.get(url) as resp:
        assert resp.status == 200
        return str(await resp.text())


async def test_default_connector_runs_requests_concurrently(aiohttp: Any, serve: Any) -> None:
    # control for the limit tests: without a limit both requests are in flight at once
    inflight = _InFlight(target=2, wait=10)
    app = web.Application()
    app.router.add_get("/", inflight.handler("a"))
    base = await serve(app)
    async with aiohttp.ClientSession() as s:
        texts = await asyncio.gather(_fetch_text(s, base + "/"), _fetch_text(s, base + "/"))
    assert texts == ["a", "a"]
    assert inflight.max == 2


@pytest.mark.h1_only("limit=1 is one connection, which h2 multiplexes")
async def test_connector_limit_one_serializes_requests(aiohttp: Any, serve: Any) -> None:
    inflight = _InFlight(target=2, wait=0.3)
    app = web.Application()
    app.router.add_get("/", inflight.handler("a"))
    base = await serve(app)
    conn = aiohttp.TCPConnector(limit=1)
    assert conn.limit == 1
    async with aiohttp.ClientSession(connector=conn) as s:
        texts = await asyncio.gather(_fetch_text(s, base + "/"), _fetch_text(s, base + "/"))
    assert texts == ["a", "a"]
    assert inflight.max == 1
    assert not inflight.reached.is_set()


@pytest.mark.h1_only("limit_per_host=1 is one connection per host, which h2 multiplexes")
async def test_connector_limit_per_host(aiohttp: Any, serve: Any) -> None:
    inflight = _InFlight(target=2, wait=10)
    app_a = web.Application()
    app_a.router.add_get("/", inflight.handler("a"))
    app_b = web.Application()
    app_b.router.add_get("/", inflight.handler("b"))
    base_a = await serve(app_a)
    base_b = await serve(app_b)
    conn = aiohttp.TCPConnector(limit_per_host=1)
    assert conn.limit_per_host == 1
    async with aiohttp.ClientSession(connector=conn) as s:
        texts = await asyncio.gather(
            _fetch_text(s, base_a + "/"),
            _fetch_text(s, base_a + "/"),
            _fetch_text(s, base_b + "/"),
            _fetch_text(s, base_b + "/"),
        )
    assert texts == ["a", "a", "b", "b"]
    # never two at once on one host:port, but the two endpoints ran concurrently
    assert inflight.per_server_max == {"a": 1, "b": 1}
    assert inflight.max == 2


async def test_force_close_uses_new_connection_per_request(aiohttp: Any, base: str) -> None:
    ports = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as s:
        for _ in range(3):
            async with s.get(base + "/port") as resp:
                ports.append(int(await resp.text()))
    assert len(set(ports)) == 3


async def test_a_session_dropped_open_warns_and_tells_the_loop(aiohttp: Any) -> None:
    """As aiohttp: ResourceWarning("Unclosed client session ...") and the
    loop's exception handler told (aioxide said nothing)."""
    loop = asyncio.get_running_loop()
    told: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: told.append(context))
    try:
        s = aiohttp.ClientSession()
        with pytest.warns(ResourceWarning, match="Unclosed client session"):
            del s
        assert [c["message"] for c in told] == ["Unclosed client session"]
        closed = aiohttp.ClientSession()
        await closed.close()
        del closed
        assert len(told) == 1
    finally:
        loop.set_exception_handler(None)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
async def test_a_closed_session_held_keeps_no_descriptor(aiohttp: Any, base: str) -> None:
    """A closed session kept referenced, and the response it gave, hold no
    descriptor (as aiohttp's): each held three (its loop bridge's eventfd,
    the engine runtime's epoll and eventfd) until it was freed."""

    async def one() -> tuple[Any, Any]:
        s = aiohttp.ClientSession()
        resp = await s.get(base + "/port")
        await resp.read()
        await s.close()
        return s, resp

    held = [await one()]  # (what is made once per process)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(10):
        held.append(await one())
    for _ in range(200):  # (the engine's thread ends on its own)
        if len(os.listdir("/proc/self/fd")) - before <= 1:
            break
        await asyncio.sleep(0.01)
    assert len(os.listdir("/proc/self/fd")) - before <= 1
    assert all(s.closed for s, _ in held)
