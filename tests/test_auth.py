"""Which credentials a request carries: request auth=, URL credentials and the
session's auth= scoped to its base_url, across redirects (as aiohttp)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from yarl import URL

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

AB = "Basic YTpi"  # a:b
XY = "Basic eDp5"  # x:y


@pytest.fixture
async def port(serve: Any) -> int:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(text=request.headers.get("Authorization", "-"))

    async def to_localhost(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://localhost:{request.url.port}/echo")

    async def to_colon_user(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://a%3Ab:c@127.0.0.1:{request.url.port}/echo")

    app = web.Application()
    app.router.add_get("/echo", echo)
    app.router.add_get("/r", to_localhost)
    app.router.add_get("/to-colon", to_colon_user)
    base = await serve(app)
    return int(base.rsplit(":", 1)[1])


async def _auth_seen(s: Any, url: str) -> str:
    async with s.get(url) as resp:
        return str(await resp.text())


async def test_session_auth_is_scoped_to_base_url(aiohttp: Any, port: int) -> None:
    base = f"http://127.0.0.1:{port}/"
    async with aiohttp.ClientSession(base_url=base, auth=aiohttp.BasicAuth("a", "b")) as s:
        assert await _auth_seen(s, "echo") == AB
        # Another origin than base_url's: not sent.
        assert await _auth_seen(s, f"http://localhost:{port}/echo") == "-"
        # Credentials in the URL win over the session's.
        assert await _auth_seen(s, f"http://x:y@127.0.0.1:{port}/echo") == XY
        # A redirect to another origin drops them.
        assert await _auth_seen(s, "r") == "-"


async def test_session_auth_without_base_url_follows_redirects(aiohttp: Any, port: int) -> None:
    async with aiohttp.ClientSession(auth=aiohttp.BasicAuth("a", "b")) as s:
        # Without base_url the session's auth is re-applied on every hop.
        assert await _auth_seen(s, f"http://127.0.0.1:{port}/r") == AB


async def test_request_auth_dropped_on_cross_origin_redirect(aiohttp: Any, port: int) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"http://127.0.0.1:{port}/r", auth=aiohttp.BasicAuth("a", "b")) as resp:
            assert await resp.text() == "-"
            assert resp.history[0].request_info.headers["Authorization"] == AB


async def test_auth_with_authorization_header_is_refused(aiohttp: Any, port: int) -> None:
    async with aiohttp.ClientSession() as s:
        with pytest.raises(ValueError):
            await s.get(
                f"http://127.0.0.1:{port}/echo",
                auth=aiohttp.BasicAuth("a", "b"),
                headers={"Authorization": "Bearer t"},
            )


async def test_a_plain_tuple_is_not_basic_auth(aiohttp: Any, port: int) -> None:
    """aiohttp's TypeError, for the request's ``auth=`` and the session's
    (aiohttp raises that one at the request, aioxide at once)."""
    async with aiohttp.ClientSession() as s:
        with pytest.raises(TypeError, match="BasicAuth"):
            await s.get(f"http://127.0.0.1:{port}/", auth=("user", "pass"))
    with pytest.raises(TypeError, match="BasicAuth"):
        async with aiohttp.ClientSession(auth=("user", "pass")) as s:
            await s.get(f"http://127.0.0.1:{port}/")


@pytest.mark.parametrize("session_kw", ["fast", "middleware", "trace"], indirect=True)
async def test_a_colon_in_the_urls_user_name_is_a_value_error(
    aiohttp: Any, port: int, session_kw: dict[str, Any]
) -> None:
    """Basic credentials cannot carry a ``:`` in the user name (RFC 7617):
    aiohttp's ValueError, for the request's URL and
    a redirect's; a ``:`` in the password is fine."""
    base = URL(f"http://127.0.0.1:{port}/echo")
    async with aiohttp.ClientSession(**session_kw) as s:
        for url in (base.with_user("a:b"), f"http://a%3Ab:c@127.0.0.1:{port}/echo"):
            with pytest.raises(ValueError, match="not allowed in login"):
                await s.get(url)
        with pytest.raises(ValueError, match="not allowed in login"):
            await s.get(f"http://127.0.0.1:{port}/to-colon")
        with_colon_in_password = base.with_user("a").with_password("b:c")
        assert await _auth_seen(s, str(with_colon_in_password)) == "Basic YTpiOmM="
