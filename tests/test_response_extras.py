"""Response extras and utilities of aiohttp's client reference: ClientResponse.links,
content_disposition, cookies, __repr__ and the other read-only attributes; ETag;
ContentDisposition; set_zlib_backend.

Every test goes through a real request to a loopback server and must pass
against aiohttp 3.14.5 too (AIOXIDE_TEST_TARGET=aiohttp).
"""

from __future__ import annotations

import asyncio
import gzip
import importlib
import io
import json
import types
import zlib
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy, MultiDictProxy
from yarl import URL

from conftest import H2, TARGET, http_version

GZ_PLAIN = b"compress me " * 500
GZ_BODY = gzip.compress(GZ_PLAIN)


def _submodule(name: str) -> Any:
    return importlib.import_module(f"{TARGET}.{name}")


async def _headers_handler(request: web.Request) -> web.Response:
    """/h?<Name>=<value>&...: answers with those headers (a name may repeat)."""
    headers: CIMultiDict[str] = CIMultiDict()
    for k, v in request.query.items():
        headers.add(k, v)
    return web.Response(body=b"ok", headers=headers)


class _Server:
    def __init__(self) -> None:
        self.base = ""
        self.seen_if_none_match: Any = None

    async def etag(self, request: web.Request) -> web.Response:
        self.seen_if_none_match = request.if_none_match
        resp = web.Response(text="tagged")
        resp.headers["ETag"] = request.query.get("tag", 'W/"v1-abc"')
        return resp

    async def gz(self, request: web.Request) -> web.Response:
        return web.Response(body=GZ_BODY, headers={"Content-Encoding": "gzip"})

    async def status(self, request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        reason = request.query.get("reason")
        return web.Response(status=code, reason=reason, body=b"status body")

    async def json_(self, request: web.Request) -> web.Response:
        return web.Response(
            body=request.query.get("body", '{"a": 1}').encode(),
            headers={"Content-Type": request.query.get("ct", "application/json")},
        )

    async def stream(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        for _ in range(3):
            await resp.write(b"x" * 1000)
            await asyncio.sleep(0.005)
        await resp.write_eof()
        return resp

    async def empty(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/h", _headers_handler)
        app.router.add_get("/etag", self.etag)
        app.router.add_get("/gz", self.gz)
        app.router.add_route("*", "/status/{code}", self.status)
        app.router.add_get("/json", self.json_)
        app.router.add_get("/stream", self.stream)
        app.router.add_route("*", "/empty", self.empty)
        app.router.add_route("HEAD", "/head", _headers_handler)
        return app


@pytest.fixture
async def server(serve: Any) -> _Server:
    srv = _Server()
    srv.base = await serve(srv.app())
    return srv


@pytest.fixture
async def session(aiohttp: Any) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession() as s:
        yield s


def _raw_responder(response: bytes) -> Any:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(response)
        await writer.drain()

    return handler


# --------------------------------------------------------------------------- links


async def test_links_parsed_and_joined_to_url(server: Any, session: Any) -> None:
    link = (
        '<https://example.com/page2>; rel="next", '
        "</page5>; rel=last; title=\"Last, 'final' page\", "
        "<other>; rel='prev'"
    )
    async with session.get(server.base + "/h", params={"Link": link}) as resp:
        links = resp.links
        assert isinstance(links, MultiDictProxy)
        assert list(links.keys()) == ["next", "last", "prev"]
        nxt = links["next"]
        assert isinstance(nxt, MultiDictProxy)
        assert dict(nxt) == {"rel": "next", "url": URL("https://example.com/page2")}
        last = links["last"]
        assert last["rel"] == "last"
        assert last["title"] == "Last, 'final' page"
        # relative references are joined to the response URL
        assert last["url"] == URL(server.base + "/page5")
        assert isinstance(last["url"], URL)
        assert links["prev"]["url"] == URL(server.base + "/other")
        assert list(last.keys()) == ["rel", "title", "url"]
        assert resp.links is links  # computed once


async def test_links_from_several_headers_and_without_rel(
    aiohttp: Any, server: Any, session: Any
) -> None:
    url = server.base + "/h?Link=</a>;+rel=alternate&Link=</b>;+rel=alternate&Link=</c>;+x"
    async with session.get(url) as resp:
        assert resp.headers.getall("Link") == [
            "</a>; rel=alternate",
            "</b>; rel=alternate",
            "</c>; x",
        ]
        links = resp.links
        # the same rel twice: both kept (a multidict)
        assert [v["url"] for v in links.getall("alternate")] == [
            URL(server.base + "/a"),
            URL(server.base + "/b"),
        ]
        # no rel: keyed by the URL as written; the malformed parameter is skipped
        assert dict(links["/c"]) == {"url": URL(server.base + "/c")}


async def test_links_empty_without_link_header(server: Any, session: Any) -> None:
    async with session.get(server.base + "/h") as resp:
        assert isinstance(resp.links, MultiDictProxy)
        assert len(resp.links) == 0


async def test_links_after_redirect_join_final_url(serve: Any, session: Any) -> None:
    async def start(request: web.Request) -> web.Response:
        raise web.HTTPFound("/dir/final", headers={"Link": "<wrong>; rel=next"})

    async def final(request: web.Request) -> web.Response:
        return web.Response(text="final", headers={"Link": "<next>; rel=next"})

    app = web.Application()
    app.router.add_get("/start", start)
    app.router.add_get("/dir/final", final)
    base = await serve(app)
    async with session.get(base + "/start") as resp:
        assert resp.url == URL(base + "/dir/final")
        assert resp.links["next"]["url"] == URL(base + "/dir/next")
        assert resp.history[0].links["next"]["url"] == URL(base + "/wrong")


# --------------------------------------------------------------------------- content_disposition


async def test_content_disposition_attachment(aiohttp: Any, server: Any, session: Any) -> None:
    value = 'attachment; filename="report 2024.pdf"; size=10'
    async with session.get(server.base + "/h", params={"Content-Disposition": value}) as resp:
        cd = resp.content_disposition
        assert isinstance(cd, _submodule("client_reqrep").ContentDisposition)
        assert cd.type == "attachment"
        assert isinstance(cd.parameters, types.MappingProxyType)
        assert dict(cd.parameters) == {"filename": "report 2024.pdf", "size": "10"}
        assert cd.filename == "report 2024.pdf"
        assert resp.content_disposition is cd  # parsed once


async def test_content_disposition_rfc5987_filename(server: Any, session: Any) -> None:
    value = "Attachment; filename*=UTF-8''%E2%82%AC%20rates.txt; filename=\"EUR rates.txt\""
    async with session.get(server.base + "/h", params={"Content-Disposition": value}) as resp:
        cd = resp.content_disposition
        assert cd.type == "attachment"  # lower-cased
        assert cd.filename == "€ rates.txt"  # filename* wins
        assert cd.parameters["filename*"] == "€ rates.txt"
        assert cd.parameters["filename"] == "EUR rates.txt"


async def test_content_disposition_continuations(server: Any, session: Any) -> None:
    value = 'attachment; filename*0="long"; filename*1="-name"; filename*2=".txt"'
    async with session.get(server.base + "/h", params={"Content-Disposition": value}) as resp:
        assert resp.content_disposition.filename == "long-name.txt"


async def test_content_disposition_without_params(server: Any, session: Any) -> None:
    async with session.get(server.base + "/h", params={"Content-Disposition": "inline"}) as resp:
        cd = resp.content_disposition
        assert (cd.type, dict(cd.parameters), cd.filename) == ("inline", {}, None)


async def test_content_disposition_absent_is_none(server: Any, session: Any) -> None:
    async with session.get(server.base + "/h") as resp:
        assert resp.content_disposition is None


async def test_content_disposition_malformed_warns(aiohttp: Any, server: Any, session: Any) -> None:
    value = "attachment; filename"  # a parameter without "="
    async with session.get(server.base + "/h", params={"Content-Disposition": value}) as resp:
        with pytest.warns(aiohttp.BadContentDispositionHeader):
            cd = resp.content_disposition
        assert (cd.type, dict(cd.parameters), cd.filename) == (None, {}, None)


async def test_content_disposition_class_is_frozen_value(
    aiohttp: Any, server: Any, session: Any
) -> None:
    value = 'attachment; filename="a.txt"'
    async with session.get(server.base + "/h", params={"Content-Disposition": value}) as resp:
        cd = resp.content_disposition
    params = types.MappingProxyType({"filename": "a.txt"})
    assert cd == _submodule("client_reqrep").ContentDisposition("attachment", params, "a.txt")
    assert cd == _submodule("client_reqrep").ContentDisposition(
        type="attachment", parameters=params, filename="a.txt"
    )
    assert cd != _submodule("client_reqrep").ContentDisposition("inline", params, "a.txt")
    assert repr(cd) == (
        "ContentDisposition(type='attachment', "
        "parameters=mappingproxy({'filename': 'a.txt'}), filename='a.txt')"
    )
    with pytest.raises(AttributeError):
        cd.filename = "b.txt"
    assert not isinstance(cd, tuple)


# --------------------------------------------------------------------------- ETag


def test_etag_value_class(aiohttp: Any) -> None:
    tag = aiohttp.ETag("abc")
    assert (tag.value, tag.is_weak) == ("abc", False)
    weak = aiohttp.ETag(value="abc", is_weak=True)
    assert weak.is_weak is True
    assert repr(weak) == "ETag(value='abc', is_weak=True)"
    assert tag == aiohttp.ETag("abc", False)
    assert tag != weak
    assert hash(tag) == hash(aiohttp.ETag("abc"))
    assert len({tag, aiohttp.ETag("abc"), weak}) == 2
    assert aiohttp.ETag("a") < aiohttp.ETag("b")  # ordered, as attrs classes are
    assert not isinstance(tag, tuple)
    with pytest.raises(AttributeError):
        tag.value = "x"
    with pytest.raises(TypeError):
        aiohttp.ETag()


@pytest.mark.parametrize(
    ("header", "expected"),
    [('W/"v1-abc"', ("v1-abc", True)), ('"strong"', ("strong", False)), ("*", ("*", False))],
)
async def test_etag_from_response_round_trip(
    aiohttp: Any, server: Any, session: Any, header: str, expected: tuple[str, bool]
) -> None:
    helpers = _submodule("helpers")
    async with session.get(server.base + "/etag", params={"tag": header}) as resp:
        raw = resp.headers["ETag"]
    if raw == helpers.ETAG_ANY:
        tag = aiohttp.ETag(value=helpers.ETAG_ANY)
    else:
        m = helpers.QUOTED_ETAG_RE.fullmatch(raw)
        tag = aiohttp.ETag(value=m.group(2), is_weak=bool(m.group(1)))
    assert (tag.value, tag.is_weak) == expected
    helpers.validate_etag_value(tag.value)
    # sent back as If-None-Match, the server reads the same tag
    sent = tag.value if tag.value == "*" else ("W/" if tag.is_weak else "") + f'"{tag.value}"'
    async with session.get(server.base + "/etag", headers={"If-None-Match": sent}) as resp:
        await resp.read()
    (seen,) = server.seen_if_none_match
    assert (seen.value, seen.is_weak) == (tag.value, tag.is_weak)


def test_validate_etag_value() -> None:
    helpers = _submodule("helpers")
    helpers.validate_etag_value("abc-123")
    helpers.validate_etag_value("*")
    with pytest.raises(ValueError, match="is not a valid etag"):
        helpers.validate_etag_value('a"b')


# --------------------------------------------------------------------------- set_zlib_backend


def _counting_backend() -> tuple[types.ModuleType, list[str]]:
    """A zlib-compatible module that counts the objects it makes."""
    calls: list[str] = []
    mod = types.ModuleType("counting_zlib")
    for name in dir(zlib):
        if not name.startswith("__"):
            setattr(mod, name, getattr(zlib, name))

    def compressobj(*args: Any, **kwargs: Any) -> Any:
        calls.append("compressobj")
        return zlib.compressobj(*args, **kwargs)

    def decompressobj(*args: Any, **kwargs: Any) -> Any:
        calls.append("decompressobj")
        return zlib.decompressobj(*args, **kwargs)

    mod.compressobj = compressobj  # type: ignore[attr-defined]
    mod.decompressobj = decompressobj  # type: ignore[attr-defined]
    return mod, calls


async def test_set_zlib_backend_records_backend(aiohttp: Any, server: Any, session: Any) -> None:
    cu = _submodule("compression_utils")
    backend, calls = _counting_backend()
    try:
        assert aiohttp.set_zlib_backend(backend) is None
        assert cu.ZLibBackend.name == "counting_zlib"
        assert cu.ZLibBackend.MAX_WBITS == zlib.MAX_WBITS
        async with session.get(server.base + "/gz") as resp:
            assert await resp.read() == GZ_PLAIN
        if TARGET == "aiohttp":
            assert "decompressobj" in calls
        # aioxide differs: responses are decoded in the Rust engine, so the
        # backend is recorded but never called.
    finally:
        aiohttp.set_zlib_backend(zlib)
    assert cu.ZLibBackend.name == "zlib"


@pytest.mark.parametrize("bogus", [types.ModuleType("not_zlib"), object(), None])
def test_set_zlib_backend_accepts_anything_fails_on_use(aiohttp: Any, bogus: Any) -> None:
    # aiohttp validates nothing when the backend is set: a module without the
    # zlib API fails with AttributeError only where the backend is used.
    cu = _submodule("compression_utils")
    try:
        aiohttp.set_zlib_backend(bogus)
        with pytest.raises(AttributeError):
            cu.ZLibBackend.MAX_WBITS  # noqa: B018 (the access is the test)
        with pytest.raises(AttributeError):
            cu.ZLibBackend.compressobj()
    finally:
        aiohttp.set_zlib_backend(zlib)
    assert cu.ZLibBackend.MAX_WBITS == zlib.MAX_WBITS


# --------------------------------------------------------------------------- cookies


async def test_cookies_from_set_cookie(serve: Any, session: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        resp = web.Response(text="c")
        resp.headers.add("Set-Cookie", "plain=1; Path=/p; HttpOnly")
        resp.headers.add("Set-Cookie", 'quoted="a;b"; Max-Age=10; Secure')
        resp.headers.add("Set-Cookie", "{braces}=ok; SameSite=Lax; Unknown=x")
        resp.headers.add("Set-Cookie", "novalue")  # skipped: no "="
        resp.headers.add("Set-Cookie", "sp ace=1")  # skipped: illegal name
        resp.headers.add("Set-Cookie", "expiry=v; Expires=Wed, 21 Oct 2015 07:28:00 GMT")
        return resp

    app = web.Application()
    app.router.add_get("/", handler)
    base = await serve(app)
    async with session.get(base + "/") as resp:
        cookies = resp.cookies
        assert isinstance(cookies, SimpleCookie)
        assert sorted(cookies) == ["expiry", "plain", "quoted", "{braces}"]
        assert cookies["plain"].value == "1"
        assert cookies["plain"]["path"] == "/p"
        assert cookies["plain"]["httponly"] is True
        assert cookies["quoted"].value == "a;b"
        assert cookies["quoted"].coded_value == '"a;b"'
        assert cookies["quoted"]["max-age"] == "10"
        assert cookies["quoted"]["secure"] is True
        assert cookies["{braces}"]["samesite"] == "Lax"
        assert cookies["expiry"]["expires"] == "Wed, 21 Oct 2015 07:28:00 GMT"
        assert resp.cookies is cookies
        replacement: SimpleCookie = SimpleCookie()
        resp.cookies = replacement
        assert resp.cookies is replacement


async def test_cookies_empty(server: Any, session: Any) -> None:
    async with session.get(server.base + "/h") as resp:
        assert isinstance(resp.cookies, SimpleCookie)
        assert len(resp.cookies) == 0


# --------------------------------------------------------------------------- attributes


async def test_repr(server: Any, session: Any) -> None:
    async with session.get(server.base + "/h?X-A=1") as resp:
        expected = io.StringIO()
        print(f"<ClientResponse({server.base}/h?X-A=1) [200 OK]>", file=expected)
        print(resp.headers, file=expected)
        assert repr(resp) == expected.getvalue()
        assert repr(resp).endswith(">\n")


async def test_repr_escapes_non_ascii_reason(server: Any, session: Any) -> None:
    async with session.get(server.base + "/h") as resp:
        resp.reason = "Très bien"
        first = repr(resp).split("\n")[0]
        assert first == f"<ClientResponse({server.base}/h) [200 Tr\\xe8s bien]>"
        resp.reason = ""
        assert repr(resp).split("\n")[0] == f"<ClientResponse({server.base}/h) [200 None]>"


async def test_non_ascii_reason_phrase(raw_server: Any, session: Any) -> None:
    base = await raw_server(
        _raw_responder("HTTP/1.1 200 Très bien\r\nContent-Length: 0\r\n\r\n".encode())
    )
    async with session.get(base + "/") as resp:
        assert resp.reason == "Très bien"
        assert repr(resp).split("\n")[0] == f"<ClientResponse({base}/) [200 Tr\\xe8s bien]>"


async def test_attributes(aiohttp: Any, server: Any, session: Any) -> None:
    async with session.get(server.base + "/h?X-A=1#frag") as resp:
        assert resp.version == http_version()
        assert (resp.version.major, resp.version.minor) == ((2, 0) if H2 else (1, 1))
        assert resp.status == 200
        assert resp.reason == "OK"
        assert resp.ok is True
        assert resp.method == "GET"
        assert resp.url == URL(server.base + "/h?X-A=1")
        assert resp.real_url == URL(server.base + "/h?X-A=1#frag")
        assert resp.host == "127.0.0.1"
        assert isinstance(resp.headers, CIMultiDictProxy)
        assert resp.headers["x-a"] == "1"
        assert (b"x-a" if H2 else b"X-A", b"1") in resp.raw_headers  # h2: lower-case names
        assert resp.history == ()
        info = resp.request_info
        assert isinstance(info, aiohttp.RequestInfo)
        assert (info.method, info.url, info.real_url) == ("GET", resp.url, resp.real_url)
        assert resp.content_type == "application/octet-stream"
        assert resp.charset is None
        assert resp.content_length == 2
        assert await resp.read() == b"ok"


async def test_url_obj_is_deprecated(server: Any, session: Any) -> None:
    async with session.get(server.base + "/h") as resp:
        with pytest.warns(DeprecationWarning, match="use .url"):
            assert resp.url_obj == resp.url


async def test_content_length_absent_when_chunked(server: Any, session: Any) -> None:
    async with session.get(server.base + "/stream") as resp:
        # HTTP/2 has no chunked framing: the body simply has no length.
        assert resp.headers.get("Transfer-Encoding") == (None if H2 else "chunked")
        assert resp.content_length is None
        assert len(await resp.read()) == 3000


async def test_content_length_of_head_response(raw_server: Any, session: Any) -> None:
    base = await raw_server(_raw_responder(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"))
    async with session.head(base + "/") as resp:
        assert resp.content_length == 1234
        assert await resp.read() == b""


async def test_closed_once_streamed_body_is_read(server: Any, session: Any) -> None:
    resp = await session.get(server.base + "/stream")
    try:
        assert resp.closed is False
        assert len(await resp.content.read(10)) > 0
        assert resp.closed is False
        while await resp.content.readany():
            pass
        # as aiohttp: the end of the body closes the response
        assert resp.closed is True
    finally:
        resp.release()


@pytest.mark.parametrize("how", ["head", "204"])
async def test_bodiless_response_reads_empty_even_after_release(
    aiohttp: Any, server: Any, session: Any, how: str
) -> None:
    if how == "head":
        resp = await session.head(server.base + "/head")
    else:
        resp = await session.get(server.base + "/empty")
        assert resp.status == 204
    assert resp.content is aiohttp.EMPTY_PAYLOAD
    assert resp.content.at_eof() is True
    resp.release()
    # EMPTY_PAYLOAD ignores the release: still b"" (a body-full response raises)
    assert await resp.read() == b""
    assert await resp.text() == ""


async def test_read_after_close_raises_even_when_read(
    aiohttp: Any, server: Any, session: Any
) -> None:
    resp = await session.get(server.base + "/h")
    assert await resp.read() == b"ok"
    resp.close()
    assert resp.closed is True
    with pytest.raises(aiohttp.ClientConnectionError, match="Connection closed"):
        await resp.read()
    # text()/json() reuse the body already read
    assert await resp.text() == "ok"


async def test_wait_for_close_releases(aiohttp: Any, server: Any, session: Any) -> None:
    resp = await session.get(server.base + "/stream")
    await resp.wait_for_close()
    assert resp.closed is True
    with pytest.raises(aiohttp.ClientConnectionError):
        await resp.read()


async def test_release_is_awaitable(server: Any, session: Any) -> None:
    resp = await session.get(server.base + "/h")
    assert await resp.read() == b"ok"
    await resp.release()
    assert resp.closed is True


async def test_text_and_get_encoding(server: Any, session: Any) -> None:
    ct = "text/plain; charset=latin-1"
    async with session.get(server.base + "/json", params={"ct": ct, "body": "café"}) as resp:
        # the body went out as UTF-8 (web.Response(body=str.encode())), read as latin-1
        assert resp.get_encoding() == "iso8859-1"
        assert await resp.text() == "cafÃ©"
        assert await resp.text(encoding="utf-8") == "café"
    async with session.get(server.base + "/json", params={"ct": "text/plain"}) as resp:
        with pytest.raises(RuntimeError, match="not yet read body"):
            resp.get_encoding()
        await resp.read()
        assert resp.get_encoding() == "utf-8"


async def test_json_loads_and_content_type(aiohttp: Any, server: Any, session: Any) -> None:
    async with session.get(server.base + "/json") as resp:
        assert await resp.json(loads=lambda s: ("custom", s)) == ("custom", '{"a": 1}')
    async with session.get(server.base + "/json", params={"ct": "text/plain"}) as resp:
        with pytest.raises(aiohttp.ContentTypeError) as ei:
            await resp.json()
        assert ei.value.status == 200
        assert "unexpected mimetype: text/plain" in ei.value.message
        assert await resp.json(content_type=None) == {"a": 1}
        assert await resp.json(content_type="text/plain") == {"a": 1}
    async with session.get(server.base + "/json", params={"ct": "application/vnd.x+json"}) as resp:
        assert await resp.json() == {"a": 1}
    async with session.get(server.base + "/json", params={"body": "  \n"}) as resp:
        assert await resp.json() is None


async def test_raise_for_status(aiohttp: Any, server: Any, session: Any) -> None:
    resp = await session.get(server.base + "/status/418", params={"reason": "Teapot"})
    assert resp.ok is False
    with pytest.raises(aiohttp.ClientResponseError) as ei:
        resp.raise_for_status()
    # HTTP/2 carries no reason phrase: the status' canonical one stands in.
    assert (ei.value.status, ei.value.message) == (418, "I'm a teapot" if H2 else "Teapot")
    assert ei.value.request_info == resp.request_info
    assert ei.value.history == ()
    assert ei.value.headers == resp.headers
    # outside "async with", raise_for_status released the response
    assert resp.closed is True
    with pytest.raises(aiohttp.ClientConnectionError):
        await resp.read()
    async with session.get(server.base + "/status/500") as resp:
        with pytest.raises(aiohttp.ClientResponseError):
            resp.raise_for_status()
        # inside "async with" the body stays readable
        assert await resp.read() == b"status body"
    async with session.get(server.base + "/status/302") as resp:
        resp.raise_for_status()  # < 400: no error (redirects are followed: 302 without Location)


async def test_history_and_request_info_after_redirect(serve: Any, session: Any) -> None:
    async def start(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/end")

    async def end(request: web.Request) -> web.Response:
        return web.Response(text="end")

    app = web.Application()
    app.router.add_get("/start", start)
    app.router.add_get("/end", end)
    base = await serve(app)
    async with session.get(base + "/start#f") as resp:
        assert resp.url == URL(base + "/end")
        assert [r.status for r in resp.history] == [301]
        first = resp.history[0]
        assert first.url == URL(base + "/start")
        assert first.request_info.real_url == URL(base + "/start#f")
        assert first.headers["Location"] == "/end"
        assert resp.request_info.url == URL(base + "/end")
        assert resp.request_info.method == "GET"


async def test_json_roundtrip_body(serve: Any, session: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"k": [1, 2, "ü"]})

    app = web.Application()
    app.router.add_get("/", handler)
    base = await serve(app)
    async with session.get(base + "/") as resp:
        assert resp.content_type == "application/json"
        assert resp.charset == "utf-8"
        assert await resp.json() == {"k": [1, 2, "ü"]}
        assert json.loads(await resp.text()) == {"k": [1, 2, "ü"]}
