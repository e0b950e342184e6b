"""Per-request options: params, headers, bodies (data/json), auth, timeouts,
allow_redirects, HEAD, and invalid URLs rejected before any network activity.

Every test here must pass against aiohttp 3.14.5 (AIOXIDE_TEST_TARGET=aiohttp).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import web
from multidict import CIMultiDict, MultiDict
from yarl import URL

from conftest import H2


async def _echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response(
        {
            "method": request.method,
            "path": request.path,
            "raw_path": request.raw_path,
            "headers": [[k, v] for k, v in request.headers.items()],
            "body": body.decode("latin-1"),
        }
    )


def _values(echo: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in echo["headers"] if k.lower() == name.lower()]


def _query(echo: dict[str, Any]) -> str:
    raw_path: str = echo["raw_path"]
    return raw_path.partition("?")[2]


@pytest.fixture
async def release_hang() -> AsyncIterator[asyncio.Event]:
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

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/echo")

    async def ten(request: web.Request) -> web.Response:
        # for HEAD aiohttp.web sends the headers of the GET response without the body
        return web.Response(
            body=b"0123456789",
            headers={
                "X-Req-Method": request.method,
                "X-Req-Has-Body": str(request.body_exists),
                "X-Req-Content-Length": request.headers.get("Content-Length", "-"),
                "X-Req-Transfer-Encoding": request.headers.get("Transfer-Encoding", "-"),
            },
        )

    async def port(request: web.Request) -> web.Response:
        assert request.transport is not None
        return web.Response(text=str(request.transport.get_extra_info("peername")[1]))

    app = web.Application()
    app.router.add_get("/hang", hang)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/ten", ten)
    app.router.add_get("/port", port)
    app.router.add_route("*", "/{tail:.*}", _echo)
    return await serve(app)


async def _get_echo(aiohttp: Any, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s, s.request(method, url, **kwargs) as resp:
        assert resp.status == 200
        result: dict[str, Any] = await resp.json()
        return result


# --------------------------------------------------------------------------- params


PARAM_CASES = [
    pytest.param({"a": "1", "b": "two"}, "a=1&b=two", id="dict"),
    pytest.param([("a", "1"), ("a", "2"), ("b", "3")], "a=1&a=2&b=3", id="list-dupes"),
    pytest.param(MultiDict([("k", "x"), ("k", "y")]), "k=x&k=y", id="multidict"),
    pytest.param("a=1&b=x y", "a=1&b=x+y", id="str"),
    pytest.param({"q": "two words"}, "q=two+words", id="space"),
    pytest.param({"q": "1+2"}, "q=1%2B2", id="plus"),
    pytest.param({"q": "ünï"}, "q=%C3%BCn%C3%AF", id="unicode"),
    pytest.param({"q": "a/b?c"}, "q=a/b?c", id="slash-question"),
    pytest.param({"q": "a&b=c"}, "q=a%26b%3Dc", id="amp-equals"),
    pytest.param({"q": "%41"}, "q=%2541", id="percent"),
    pytest.param({"n": 1, "f": 1.5}, "n=1&f=1.5", id="numbers"),
]


@pytest.mark.parametrize(("params", "expected"), PARAM_CASES)
async def test_params_encoding_matches_yarl(
    aiohttp: Any, base: str, params: Any, expected: str
) -> None:
    echo = await _get_echo(aiohttp, "GET", base + "/echo", params=params)
    assert echo["path"] == "/echo"
    assert _query(echo) == URL(base + "/echo").with_query(params).raw_query_string
    assert _query(echo) == expected


async def test_params_extend_existing_query(aiohttp: Any, base: str) -> None:
    # aiohttp *extends* the URL's query (duplicates kept), it does not replace keys
    url = base + "/echo?a=0&keep=me"
    echo = await _get_echo(aiohttp, "GET", url, params={"a": "1", "b": "x y"})
    assert _query(echo) == URL(url).extend_query({"a": "1", "b": "x y"}).raw_query_string
    assert _query(echo) == "a=0&keep=me&a=1&b=x+y"


async def test_params_response_url_includes_query(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s, s.get(base + "/echo", params={"q": "a b"}) as resp:
        assert resp.url == URL(base + "/echo").with_query({"q": "a b"})
        assert resp.url.query["q"] == "a b"


# --------------------------------------------------------------------------- headers


async def test_default_request_headers(aiohttp: Any, base: str) -> None:
    echo = await _get_echo(aiohttp, "GET", base + "/echo")
    assert _values(echo, "Host") == [URL(base).authority]
    assert _values(echo, "Accept") == ["*/*"]
    (accept_encoding,) = _values(echo, "Accept-Encoding")
    assert "gzip" in accept_encoding and "deflate" in accept_encoding
    assert len(_values(echo, "User-Agent")) == 1
    # a GET without a body announces no body
    assert _values(echo, "Content-Length") == []
    assert _values(echo, "Transfer-Encoding") == []


async def test_headers_dict(aiohttp: Any, base: str) -> None:
    echo = await _get_echo(
        aiohttp, "GET", base + "/echo", headers={"X-One": "1", "x-two": "two words"}
    )
    assert _values(echo, "X-One") == ["1"]
    assert _values(echo, "X-Two") == ["two words"]


async def test_headers_list_of_tuples_keeps_duplicates(aiohttp: Any, base: str) -> None:
    echo = await _get_echo(
        aiohttp,
        "GET",
        base + "/echo",
        headers=[("X-Dup", "a"), ("X-Dup", "b"), ("X-Single", "s")],
    )
    assert _values(echo, "X-Dup") == ["a", "b"]
    assert _values(echo, "X-Single") == ["s"]


async def test_headers_cimultidict_keeps_duplicates(aiohttp: Any, base: str) -> None:
    h: CIMultiDict[str] = CIMultiDict()
    h.add("X-Dup", "first")
    h.add("X-Dup", "second")
    echo = await _get_echo(aiohttp, "GET", base + "/echo", headers=h)
    assert _values(echo, "X-Dup") == ["first", "second"]


async def test_headers_override_host_and_accept(aiohttp: Any, base: str) -> None:
    echo = await _get_echo(
        aiohttp,
        "GET",
        base + "/echo",
        headers={"Host": "example.com", "Accept": "application/json"},
    )
    assert _values(echo, "Host") == ["example.com"]
    assert _values(echo, "Accept") == ["application/json"]


# --------------------------------------------------------------------------- bodies


async def test_data_bytes_sends_content_length(aiohttp: Any, base: str) -> None:
    payload = bytes(range(256)) * 4
    echo = await _get_echo(aiohttp, "POST", base + "/echo", data=payload)
    assert echo["body"].encode("latin-1") == payload
    assert _values(echo, "Content-Length") == [str(len(payload))]
    assert _values(echo, "Transfer-Encoding") == []
    assert _values(echo, "Content-Type") == ["application/octet-stream"]


async def test_data_str_is_utf8_text(aiohttp: Any, base: str) -> None:
    text = "héllo wörld €"
    echo = await _get_echo(aiohttp, "PUT", base + "/echo", data=text)
    assert echo["body"].encode("latin-1") == text.encode("utf-8")
    assert _values(echo, "Content-Type") == ["text/plain; charset=utf-8"]
    assert _values(echo, "Content-Length") == [str(len(text.encode("utf-8")))]


async def test_data_dict_is_form_urlencoded(aiohttp: Any, base: str) -> None:
    form = {"a": "x y", "b": "ü&", "c": "1+1=2"}
    echo = await _get_echo(aiohttp, "POST", base + "/echo", data=form)
    assert _values(echo, "Content-Type") == ["application/x-www-form-urlencoded"]
    assert echo["body"] == "a=x+y&b=%C3%BC%26&c=1%2B1%3D2"
    assert dict(parse_qsl(echo["body"])) == form
    assert _values(echo, "Content-Length") == [str(len(echo["body"]))]


async def test_data_list_of_tuples_is_form_urlencoded(aiohttp: Any, base: str) -> None:
    echo = await _get_echo(
        aiohttp, "POST", base + "/echo", data=[("k", "1"), ("k", "2"), ("z", "")]
    )
    assert _values(echo, "Content-Type") == ["application/x-www-form-urlencoded"]
    assert echo["body"] == "k=1&k=2&z="


async def test_explicit_content_type_header_wins(aiohttp: Any, base: str) -> None:
    echo = await _get_echo(
        aiohttp,
        "POST",
        base + "/echo",
        data=b"<x/>",
        headers={"Content-Type": "application/xml"},
    )
    assert _values(echo, "Content-Type") == ["application/xml"]
    assert echo["body"] == "<x/>"


async def test_json_body(aiohttp: Any, base: str) -> None:
    doc = {"name": "ünï", "n": [1, 2.5, None, True], "nested": {"k": "v"}}
    echo = await _get_echo(aiohttp, "POST", base + "/echo", json=doc)
    assert _values(echo, "Content-Type") == ["application/json"]
    raw = echo["body"].encode("latin-1")
    assert json.loads(raw.decode("utf-8")) == doc
    assert _values(echo, "Content-Length") == [str(len(raw))]


async def test_post_without_body_sends_content_length_zero(aiohttp: Any, base: str) -> None:
    echo = await _get_echo(aiohttp, "POST", base + "/echo")
    assert echo["body"] == ""
    assert _values(echo, "Content-Length") == ["0"]
    assert _values(echo, "Transfer-Encoding") == []
    # aiohttp labels even an empty POST body
    assert _values(echo, "Content-Type") == ["application/octet-stream"]


async def test_data_and_json_together_is_value_error(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        with pytest.raises(ValueError):
            await s.post(base + "/echo", data=b"x", json={"a": 1})


# --------------------------------------------------------------------------- redirects / timeouts


async def test_allow_redirects_false_returns_3xx(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(base + "/redirect", allow_redirects=False) as resp:
            assert resp.status == 302
            assert resp.headers["Location"] == "/echo"
            assert resp.history == ()
            assert resp.url == URL(base + "/redirect")
        async with s.get(base + "/redirect") as resp:
            assert resp.status == 200
            assert resp.url == URL(base + "/echo")


async def test_timeout_as_client_timeout(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        with pytest.raises(asyncio.TimeoutError):
            await s.get(base + "/hang", timeout=aiohttp.ClientTimeout(total=0.2))


async def test_timeout_as_float(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        with pytest.raises(asyncio.TimeoutError):
            await s.get(base + "/hang", timeout=0.2)
        # a generous float timeout does not interfere with a normal request
        async with s.get(base + "/echo", timeout=30.0) as resp:
            assert resp.status == 200


async def test_sock_read_timeout_is_server_timeout_error(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ServerTimeoutError) as exc_info:
            await s.get(base + "/hang", timeout=aiohttp.ClientTimeout(sock_read=0.2))
    assert isinstance(exc_info.value, asyncio.TimeoutError)


# --------------------------------------------------------------------------- auth


def _basic(userpass: bytes) -> str:
    return "Basic " + base64.b64encode(userpass).decode("ascii")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_auth_basic_auth(aiohttp: Any, base: str) -> None:
    echo = await _get_echo(aiohttp, "GET", base + "/echo", auth=aiohttp.BasicAuth("user", "pass"))
    assert _values(echo, "Authorization") == ["Basic dXNlcjpwYXNz"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_auth_basic_auth_latin1_default_encoding(aiohttp: Any, base: str) -> None:
    echo = await _get_echo(
        aiohttp, "GET", base + "/echo", auth=aiohttp.BasicAuth("user", "pässword")
    )
    assert _values(echo, "Authorization") == [_basic("user:pässword".encode("latin-1"))]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_session_auth_applies_to_requests(aiohttp: Any, base: str) -> None:
    async with (
        aiohttp.ClientSession(auth=aiohttp.BasicAuth("sess", "pw")) as s,
        s.get(base + "/echo") as resp,
    ):
        echo = await resp.json()
    assert _values(echo, "Authorization") == [_basic(b"sess:pw")]


async def test_encode_basic_auth_header(aiohttp: Any, base: str) -> None:
    value = aiohttp.encode_basic_auth("user", "pass")
    assert value == "Basic dXNlcjpwYXNz"
    echo = await _get_echo(aiohttp, "GET", base + "/echo", headers={"Authorization": value})
    assert _values(echo, "Authorization") == ["Basic dXNlcjpwYXNz"]


@pytest.mark.parametrize(
    ("userinfo", "expected"),
    [
        ("user:pass", b"user:pass"),
        ("us%20er:p%40ss%3A", b"us er:p@ss:"),
        ("onlyuser", b"onlyuser:"),
    ],
)
async def test_credentials_in_url(aiohttp: Any, base: str, userinfo: str, expected: bytes) -> None:
    url = base.replace("http://", f"http://{userinfo}@") + "/echo"
    async with aiohttp.ClientSession() as s, s.get(url) as resp:
        echo = await resp.json()
        # credentials are moved into the header, not kept in the URL
        assert resp.url == URL(base + "/echo")
        assert resp.url.user is None
    assert _values(echo, "Authorization") == [_basic(expected)]
    assert echo["raw_path"] == "/echo"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_auth_and_url_credentials_is_value_error(aiohttp: Any, base: str) -> None:
    url = base.replace("http://", "http://user:pass@") + "/echo"
    async with aiohttp.ClientSession() as s:
        with pytest.raises(ValueError):
            await s.get(url, auth=aiohttp.BasicAuth("other", "pw"))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_auth_and_authorization_header_is_value_error(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        with pytest.raises(ValueError):
            await s.get(
                base + "/echo",
                auth=aiohttp.BasicAuth("user", "pass"),
                headers={"Authorization": "Bearer token"},
            )


# --------------------------------------------------------------------------- HEAD


async def test_head_has_no_body_and_keeps_connection(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(base + "/port") as resp:
            port1 = await resp.text()
        async with s.head(base + "/ten") as resp:
            assert resp.status == 200
            assert resp.method == "HEAD"
            assert resp.headers["X-Req-Method"] == "HEAD"
            assert resp.headers["X-Req-Has-Body"] == "False"
            assert resp.headers["X-Req-Content-Length"] == "-"
            assert resp.headers["X-Req-Transfer-Encoding"] == "-"
            # Content-Length describes the GET body, but no body follows
            assert resp.headers["Content-Length"] == "10"
            assert await resp.read() == b""
        # the client did not wait for (or choke on) 10 body bytes: the connection is reused
        async with s.get(base + "/port") as resp:
            port2 = await resp.text()
        async with s.get(base + "/ten") as resp:
            assert await resp.read() == b"0123456789"
    if not H2:  # behind the h2 front each stream is a new origin connection
        assert port1 == port2


# --------------------------------------------------------------------------- invalid input


@pytest.mark.parametrize("url", ["not a url", "http://", "http:///path", "http://[::1"])
async def test_invalid_url(aiohttp: Any, url: str) -> None:
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.InvalidUrlClientError) as exc_info:
            await s.get(url)
        assert isinstance(exc_info.value, aiohttp.InvalidURL)
        assert isinstance(exc_info.value, aiohttp.ClientError)
        assert isinstance(exc_info.value, ValueError)
        with pytest.raises(aiohttp.InvalidURL):
            async with s.get(url):
                pass  # pragma: no cover


async def test_non_http_scheme_raises_without_connecting(aiohttp: Any, raw_server: Any) -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()

    base = await raw_server(handler)
    ftp_url = base.replace("http://", "ftp://") + "/file"
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.NonHttpUrlClientError) as exc_info:
            await s.get(ftp_url)
        assert isinstance(exc_info.value, aiohttp.ClientError)
        assert not isinstance(exc_info.value, aiohttp.ClientConnectionError)
        with pytest.raises(aiohttp.NonHttpUrlClientError):
            async with s.get("ftp://x/"):
                pass  # pragma: no cover
        # a real request to the same server is the first connection it sees
        async with s.get(base + "/") as resp:
            assert await resp.text() == "ok"
    assert connections == 1
