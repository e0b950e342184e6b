"""Redirect following: method/body rules per status, history, final URL,
max_redirects, relative and cross-origin Location, and bad Location values.

Every test here must pass against aiohttp 3.14.5 (AIOXIDE_TEST_TARGET=aiohttp).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import web
from yarl import URL

TARGET = os.environ.get("AIOXIDE_TEST_TARGET", "aioxide")


async def _echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response(
        {
            "method": request.method,
            "raw_path": request.raw_path,
            "headers": [[k, v] for k, v in request.headers.items()],
            "body": body.decode("latin-1"),
        },
        headers={"X-Method": request.method},
    )


def _values(echo: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in echo["headers"] if k.lower() == name.lower()]


class _Server:
    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.base = ""

    def _hit(self, name: str) -> None:
        self.hits[name] = self.hits.get(name, 0) + 1

    async def redirect(self, request: web.Request) -> web.Response:
        """/redirect/{code}?to=<Location> (default /echo); no Location if to is absent and
        'none' is given."""
        self._hit("redirect")
        code = int(request.match_info["code"])
        headers = {}
        if "none" not in request.query:
            headers["Location"] = request.query.get("to", "/echo")
        return web.Response(status=code, headers=headers, text="no location here")

    async def page(self, request: web.Request) -> web.Response:
        # /dir/sub/page?to=X redirects to X (as given, possibly relative); otherwise echo
        if "to" in request.query:
            return web.Response(status=302, headers={"Location": request.query["to"]})
        return await _echo(request)

    async def loop(self, request: web.Request) -> web.Response:
        self._hit("loop")
        return web.Response(status=302, headers={"Location": "/loop"})

    async def hop1(self, request: web.Request) -> web.Response:
        return web.Response(status=301, headers={"Location": "/hop2"})

    async def hop2(self, request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": self.base + "/echo?done=1"})

    async def echo(self, request: web.Request) -> web.Response:
        self._hit("echo")
        return await _echo(request)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/redirect/{code}", self.redirect)
        app.router.add_route("*", "/dir/sub/page", self.page)
        app.router.add_route("*", "/loop", self.loop)
        app.router.add_route("*", "/hop1", self.hop1)
        app.router.add_route("*", "/hop2", self.hop2)
        app.router.add_route("*", "/echo", self.echo)
        app.router.add_route("*", "/{tail:.*}", _echo)
        return app


@pytest.fixture
async def server(serve: Any) -> _Server:
    srv = _Server()
    srv.base = await serve(srv.app())
    return srv


# --------------------------------------------------------------------------- method / body rules


REDIRECT_RULES = [
    # (method, status, method after redirect, body kept)
    ("POST", 301, "GET", False),
    ("POST", 302, "GET", False),
    ("POST", 303, "GET", False),
    ("POST", 307, "POST", True),
    ("POST", 308, "POST", True),
    ("PUT", 301, "PUT", True),
    ("PUT", 302, "PUT", True),
    ("PUT", 303, "GET", False),
    ("PUT", 307, "PUT", True),
    ("PATCH", 308, "PATCH", True),
    ("DELETE", 303, "GET", False),
    ("GET", 301, "GET", False),
    ("GET", 302, "GET", False),
    ("GET", 303, "GET", False),
    ("GET", 307, "GET", False),
    ("GET", 308, "GET", False),
]


@pytest.mark.parametrize(("method", "status", "new_method", "body_kept"), REDIRECT_RULES)
async def test_redirect_method_and_body_rules(
    aiohttp: Any, server: _Server, method: str, status: int, new_method: str, body_kept: bool
) -> None:
    body = b"request-body-\xff" if method != "GET" else None
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, server.base + f"/redirect/{status}", data=body) as resp,
    ):
        assert resp.status == 200
        assert resp.method == new_method
        assert resp.request_info.method == new_method
        echo = await resp.json()
        assert len(resp.history) == 1
        assert resp.history[0].status == status
        assert resp.history[0].method == method
    assert echo["method"] == new_method
    if body_kept:
        assert body is not None
        assert echo["body"].encode("latin-1") == body
        assert _values(echo, "Content-Length") == [str(len(body))]
        assert _values(echo, "Content-Type") == ["application/octet-stream"]
    else:
        assert echo["body"] == ""
        assert _values(echo, "Content-Length") == []
        assert _values(echo, "Transfer-Encoding") == []


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_head_redirect_stays_head(aiohttp: Any, server: _Server, status: int) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.head(server.base + f"/redirect/{status}", allow_redirects=True) as resp:
            assert resp.status == 200
            assert resp.method == "HEAD"
            assert resp.headers["X-Method"] == "HEAD"
            assert resp.url == URL(server.base + "/echo")
            assert [r.status for r in resp.history] == [status]
            assert await resp.read() == b""
        # request("HEAD", ...) follows redirects by default, like every other method
        async with s.request("HEAD", server.base + f"/redirect/{status}") as resp:
            assert resp.status == 200
            assert resp.headers["X-Method"] == "HEAD"


async def test_head_helper_does_not_follow_redirects_by_default(
    aiohttp: Any, server: _Server
) -> None:
    async with aiohttp.ClientSession() as s, s.head(server.base + "/redirect/302") as resp:
        assert resp.status == 302
        assert resp.headers["Location"] == "/echo"
        assert resp.history == ()
    assert "echo" not in server.hits


# --------------------------------------------------------------------------- history / url


async def test_history_and_final_url(aiohttp: Any, server: _Server) -> None:
    async with aiohttp.ClientSession() as s, s.get(server.base + "/hop1") as resp:
        assert resp.status == 200
        assert isinstance(resp.history, tuple)
        assert len(resp.history) == 2
        assert all(isinstance(r, aiohttp.ClientResponse) for r in resp.history)
        assert [r.status for r in resp.history] == [301, 302]
        assert [r.url for r in resp.history] == [
            URL(server.base + "/hop1"),
            URL(server.base + "/hop2"),
        ]
        assert resp.history[0].headers["Location"] == "/hop2"
        assert resp.url == URL(server.base + "/echo?done=1")
        assert resp.real_url == resp.url
        assert resp.request_info.url == URL(server.base + "/echo?done=1")
        assert (await resp.json())["raw_path"] == "/echo?done=1"


async def test_location_fragment_kept_in_real_url_only(aiohttp: Any, server: _Server) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.get(server.base + "/redirect/302", params={"to": "/echo#frag"}) as resp,
    ):
        assert resp.status == 200
        assert resp.url == URL(server.base + "/echo")
        assert resp.url.fragment == ""
        assert resp.real_url == URL(server.base + "/echo#frag")
        assert resp.real_url.fragment == "frag"
        assert (await resp.json())["raw_path"] == "/echo"


async def test_params_not_reapplied_after_redirect(aiohttp: Any, server: _Server) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.get(server.base + "/redirect/302", params={"to": "/echo?x=1"}) as resp,
    ):
        assert resp.history[0].url == URL(server.base + "/redirect/302").with_query(
            {"to": "/echo?x=1"}
        )
        assert (await resp.json())["raw_path"] == "/echo?x=1"
        assert resp.url == URL(server.base + "/echo?x=1")


# --------------------------------------------------------------------------- max_redirects


async def test_max_redirects_raises_too_many_redirects(aiohttp: Any, server: _Server) -> None:
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.TooManyRedirects) as exc_info:
            await s.get(server.base + "/loop", max_redirects=3)
    err = exc_info.value
    assert isinstance(err, aiohttp.ClientResponseError)
    assert isinstance(err.history, tuple)
    assert len(err.history) == 3
    assert [r.status for r in err.history] == [302, 302, 302]
    assert err.request_info.url == URL(server.base + "/loop")
    assert server.hits["loop"] == 3


async def test_default_max_redirects_is_ten(aiohttp: Any, server: _Server) -> None:
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.TooManyRedirects) as exc_info:
            await s.get(server.base + "/loop")
    assert len(exc_info.value.history) == 10
    assert server.hits["loop"] == 10


async def test_redirect_chain_within_max_redirects_succeeds(aiohttp: Any, server: _Server) -> None:
    # two hops with max_redirects=3 is fine
    async with aiohttp.ClientSession() as s, s.get(server.base + "/hop1", max_redirects=3) as resp:
        assert resp.status == 200
        assert len(resp.history) == 2


@pytest.mark.parametrize(
    "limit,followed",
    [(0, 2), (-1, None), (-(2**70), None), (2**63, 2), (2**70, 2), (1, None)],
)
async def test_any_int_is_a_max_redirects(
    aiohttp: Any, server: _Server, session_kw: dict[str, Any], limit: int, followed: int | None
) -> None:
    """As aiohttp's ``redirects >= max_redirects``: 0 is no limit, a
    negative one stops at the first redirect, one past any count none."""
    async with aiohttp.ClientSession(**session_kw) as s:
        if followed is None:
            with pytest.raises(aiohttp.TooManyRedirects) as info:
                await s.get(server.base + "/hop1", max_redirects=limit)
            assert len(info.value.history) == 1
            return
        async with s.get(server.base + "/hop1", max_redirects=limit) as resp:
            assert len(resp.history) == followed


# --------------------------------------------------------------------------- Location forms


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("other", "/dir/sub/other"),
        ("./other?a=1", "/dir/sub/other?a=1"),
        ("../up", "/dir/up"),
        ("/abs/path", "/abs/path"),
        ("?q=1", "/dir/sub/page?q=1"),
    ],
)
async def test_relative_location(
    aiohttp: Any, server: _Server, location: str, expected: str
) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.get(server.base + "/dir/sub/page", params={"to": location}) as resp,
    ):
        assert resp.status == 200
        assert resp.url == URL(server.base + expected)
        assert (await resp.json())["raw_path"] == expected
        assert len(resp.history) == 1


async def test_scheme_relative_location(aiohttp: Any, server: _Server) -> None:
    authority = URL(server.base).authority
    async with (
        aiohttp.ClientSession() as s,
        s.get(server.base + "/dir/sub/page", params={"to": f"//{authority}/net/path"}) as resp,
    ):
        assert resp.url == URL(server.base + "/net/path")
        assert (await resp.json())["raw_path"] == "/net/path"


async def test_cross_origin_redirect_drops_authorization(
    aiohttp: Any, server: _Server, serve: Any
) -> None:
    other_app = web.Application()
    other_app.router.add_route("*", "/{tail:.*}", _echo)
    other = await serve(other_app)  # a different origin (port)
    headers = {"Authorization": "Bearer secret", "Cookie": "sid=1", "X-Custom": "kept"}
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            server.base + "/redirect/302", params={"to": other + "/landing"}, headers=headers
        ) as resp,
    ):
        assert resp.url == URL(other + "/landing")
        echo = await resp.json()
    assert _values(echo, "Authorization") == []
    assert _values(echo, "Cookie") == []
    assert _values(echo, "X-Custom") == ["kept"]


async def test_same_origin_redirect_keeps_authorization(aiohttp: Any, server: _Server) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            server.base + "/redirect/302",
            params={"to": "/landing"},
            headers={"Authorization": "Bearer secret"},
        ) as resp,
    ):
        echo = await resp.json()
    assert _values(echo, "Authorization") == ["Bearer secret"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_cross_origin_redirect_drops_basic_auth(
    aiohttp: Any, server: _Server, serve: Any
) -> None:
    other_app = web.Application()
    other_app.router.add_route("*", "/{tail:.*}", _echo)
    other = await serve(other_app)
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            server.base + "/redirect/307",
            params={"to": other + "/landing"},
            auth=aiohttp.BasicAuth("user", "pass"),
        ) as resp,
    ):
        echo = await resp.json()
        assert resp.history[0].request_info.headers["Authorization"] == "Basic dXNlcjpwYXNz"
    assert _values(echo, "Authorization") == []


@pytest.mark.parametrize("location", ["ftp://example.com/file", "javascript:alert(1)"])
async def test_redirect_to_non_http_scheme(aiohttp: Any, server: _Server, location: str) -> None:
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.NonHttpUrlRedirectClientError) as exc_info:
            await s.get(server.base + "/redirect/302", params={"to": location})
    assert isinstance(exc_info.value, aiohttp.NonHttpUrlClientError)
    assert isinstance(exc_info.value, aiohttp.RedirectClientError)
    assert isinstance(exc_info.value, aiohttp.ClientError)


@pytest.mark.parametrize("location", ["http://", "http://[bad"])
async def test_redirect_to_invalid_url(aiohttp: Any, server: _Server, location: str) -> None:
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.InvalidUrlRedirectClientError) as exc_info:
            await s.get(server.base + "/redirect/302", params={"to": location})
    assert isinstance(exc_info.value, aiohttp.InvalidUrlClientError)
    assert isinstance(exc_info.value, aiohttp.InvalidURL)
    assert isinstance(exc_info.value, aiohttp.RedirectClientError)
    assert isinstance(exc_info.value, ValueError)


def _origin_less(port: int) -> list[str]:
    return [f"http:///127.0.0.1:{port}/echo", "http://", "https:/", "http:///x"]


@pytest.mark.parametrize("index", range(4))
@pytest.mark.parametrize("first_hop", [False, True])
async def test_redirect_to_a_url_without_origin(
    aiohttp: Any, server: _Server, session_kw: dict[str, Any], index: int, first_hop: bool
) -> None:
    port = URL(server.base).port
    assert port is not None
    location = _origin_less(port)[index]
    url = server.base + "/redirect/302?" + urlencode({"to": location})
    if first_hop:  # a valid hop first, then the bad one
        url = server.base + "/redirect/301?" + urlencode({"to": url})
    async with aiohttp.ClientSession(**session_kw) as s:
        with pytest.raises(aiohttp.InvalidUrlRedirectClientError) as info:
            await s.get(url)
    assert "Invalid redirect URL origin" in str(info.value)
    assert server.hits.get("echo", 0) == 0


@pytest.mark.parametrize(
    "location",
    [
        "http://[bad",
        "http://:80/x",
        "http://example.com:999999/path",
        "http://example.com:non_int_port/",
    ],
)
async def test_redirect_to_what_is_not_a_url_says_so(
    aiohttp: Any, server: _Server, session_kw: dict[str, Any], location: str
) -> None:
    """aiohttp's message for a Location that yarl cannot parse."""
    async with aiohttp.ClientSession(**session_kw) as s:
        with pytest.raises(aiohttp.InvalidUrlRedirectClientError) as info:
            await s.get(server.base + "/redirect/302", params={"to": location})
    assert str(info.value) == (
        f"{location} - Server attempted redirecting to a location that does not look like a URL"
    )


@pytest.mark.parametrize("location", ["http:/echo", "http:/dir/../echo"])
async def test_redirect_to_a_scheme_relative_reference_is_followed(
    aiohttp: Any, server: _Server, session_kw: dict[str, Any], location: str
) -> None:
    async with aiohttp.ClientSession(**session_kw) as s:
        async with s.get(server.base + "/redirect/302", params={"to": location}) as resp:
            assert resp.status == 200
            assert resp.url.path == "/echo"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirect_without_location_returned_as_is(
    aiohttp: Any, server: _Server, status: int
) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.post(server.base + f"/redirect/{status}", params={"none": "1"}, data=b"x") as resp,
    ):
        assert resp.status == status
        assert "Location" not in resp.headers
        assert resp.url == URL(server.base + f"/redirect/{status}?none=1")
        assert await resp.text() == "no location here"
        # aiohttp records the returned response in its own history; aioxide does
        # not (docs/COMPATIBILITY.md): a response is not its own redirect.
        if TARGET == "aiohttp":
            assert len(resp.history) == 1
            assert resp.history[0].status == status
        else:
            assert resp.history == ()
    assert "echo" not in server.hits


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_allow_redirects_false_returns_redirect(
    aiohttp: Any, server: _Server, status: int
) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.post(server.base + f"/redirect/{status}", data=b"x", allow_redirects=False) as resp,
    ):
        assert resp.status == status
        assert resp.ok is True
        assert resp.headers["Location"] == "/echo"
        assert resp.history == ()
        assert resp.method == "POST"
        assert resp.url == URL(server.base + f"/redirect/{status}")
    assert server.hits["redirect"] == 1
    assert "echo" not in server.hits


@pytest.mark.parametrize("hooked", [False, True])
@pytest.mark.parametrize("requote,expected", [(True, "/t/a~b?x=~"), (False, "/t/a%7Eb?x=%7e")])
async def test_requote_redirect_url(
    aiohttp: Any, raw_server: Any, requote: bool, expected: str, hooked: bool
) -> None:
    import asyncio

    seen: list[str] = []
    port: list[int] = []

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 5)
            except (asyncio.IncompleteReadError, asyncio.TimeoutError):
                return
            path = head.split(b" ")[1].decode()
            if path == "/start":
                # Absolute, and sent as is (aiohttp.web would requote it).
                loc = f"http://127.0.0.1:{port[0]}/t/a%7Eb?x=%7e".encode()
                w.write(
                    b"HTTP/1.1 302 Found\r\nLocation: " + loc + b"\r\nContent-Length: 0\r\n\r\n"
                )
            else:
                seen.append(path)
                w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await w.drain()

    url = await raw_server(handler)
    port.append(int(url.rsplit(":", 1)[1]))

    async def mw(req: Any, handler: Any) -> Any:
        return await handler(req)

    async with aiohttp.ClientSession(
        requote_redirect_url=requote, middlewares=(mw,) if hooked else ()
    ) as s:
        async with s.get(url + "/start") as resp:
            assert await resp.text() == "ok"
    assert seen == [expected]


async def test_a_location_without_a_path_keeps_none_in_resp_url(
    aiohttp: Any, server: _Server, session_kw: dict[str, Any]
) -> None:
    """``Location: http://host:port``: aiohttp's resp.url shows it as given
    (yarl), with no ``/`` added; the request still asks for ``/``."""
    async with aiohttp.ClientSession(**session_kw) as s:
        async with s.get(server.base + "/redirect/302", params={"to": server.base}) as resp:
            echo = await resp.json()
            assert str(resp.url) == server.base
            assert str(resp.request_info.url) == server.base
    assert echo["raw_path"] == "/"


async def test_a_location_with_credentials_and_no_path_keeps_none(
    aiohttp: Any, server: _Server, session_kw: dict[str, Any]
) -> None:
    """``Location: http://user@host:port``: the credentials become the next
    hop's Basic auth and leave the URL, which still shows no ``/``."""
    to = server.base.replace("://", "://user@", 1)
    async with aiohttp.ClientSession(**session_kw) as s:
        async with s.get(server.base + "/redirect/302", params={"to": to}) as resp:
            echo = await resp.json()
            assert str(resp.url) == server.base
    assert echo["raw_path"] == "/"
    assert _values(echo, "Authorization") == ["Basic dXNlcjo="]


@pytest.mark.parametrize("query", ["?q=1", "?q=/x"])
@pytest.mark.parametrize("user", ["", "user@"])
async def test_a_location_with_a_query_and_no_path_shows_the_slash(
    aiohttp: Any, server: _Server, session_kw: dict[str, Any], user: str, query: str
) -> None:
    """``Location: http://host:port?q=1``, with credentials or not: yarl
    shows a ``/`` before a query (unlike a bare ``http://host:port``)."""
    to = server.base.replace("://", "://" + user, 1) + query
    async with aiohttp.ClientSession(**session_kw) as s:
        async with s.get(server.base + "/redirect/302", params={"to": to}) as resp:
            echo = await resp.json()
            assert str(resp.url) == server.base + "/" + query
    assert echo["raw_path"] == "/" + query


@pytest.mark.parametrize("user", ["", "user@"])
async def test_a_location_with_a_fragment_and_no_path(
    aiohttp: Any, server: _Server, session_kw: dict[str, Any], user: str
) -> None:
    """``Location: http://host:port#f``: resp.url as aiohttp's (its fragment
    dropped); the request asks for ``/``."""
    to = server.base.replace("://", "://" + user, 1) + "#f"
    async with aiohttp.ClientSession(**session_kw) as s:
        async with s.get(server.base + "/redirect/302", params={"to": to}) as resp:
            echo = await resp.json()
            assert str(resp.url) == server.base
    assert echo["raw_path"] == "/"


async def test_reading_a_redirect_in_the_history_says_connection_closed(
    aiohttp: Any, server: _Server, session_kw: dict[str, Any]
) -> None:
    """As aiohttp: a redirect's connection went on to the next hop, so its
    body cannot be read (it read as b"" on the fast path)."""
    async with aiohttp.ClientSession(**session_kw) as s:
        async with s.get(server.base + "/hop1") as resp:
            assert (await resp.json())["raw_path"] == "/echo?done=1"
            assert len(resp.history) == 2
            for hop in resp.history:
                for read in (hop.read, hop.text, hop.json, hop.content.read, hop.content.readany):
                    with pytest.raises(aiohttp.ClientConnectionError, match="Connection closed"):
                        await read()
