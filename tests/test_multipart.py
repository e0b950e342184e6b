"""MultipartWriter (bytes on the wire, nested writers, append_json/append_form,
encoded parts, file parts streamed), MultipartReader/BodyPartReader reading a
multipart response, parse_content_disposition, and the errors aiohttp raises.

Bodies go to a real aiohttp.web server, and responses come from one.  Every
test must pass against aiohttp 3.14.5 (AIOXIDE_TEST_TARGET=aiohttp).
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import io
import json
import os
import sys
import textwrap
import warnings
import zlib
from asyncio.subprocess import PIPE
from typing import Any

import aiohttp as server_aiohttp  # the server side is always real aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict

from conftest import CHILD_SESSION_ARGS

TARGET = os.environ.get("AIOXIDE_TEST_TARGET", "aioxide")
BIG = os.urandom(2**20 + 7)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Collect:
    """A stream writer that keeps what is written."""

    def __init__(self) -> None:
        self.buf = bytearray()

    async def write(self, chunk: bytes) -> None:
        self.buf += chunk


async def _describe(reader: Any) -> list[dict[str, Any]]:
    """The parts a server-side MultipartReader sees, nested ones included."""
    out: list[dict[str, Any]] = []
    while True:
        part = await reader.next()
        if part is None:
            return out
        headers = [[k, v] for k, v in part.headers.items()]
        if isinstance(part, server_aiohttp.MultipartReader):
            out.append({"headers": headers, "parts": await _describe(part)})
            continue
        data = bytes(await part.read(decode=True))
        out.append(
            {
                "headers": headers,
                "name": part.name,
                "filename": part.filename,
                "size": len(data),
                "sha": _sha(data),
                "data": data.decode("latin-1") if len(data) < 1000 else None,
            }
        )


async def _echo_parts(request: web.Request) -> web.Response:
    reader = await request.multipart()
    h = request.headers
    return web.json_response(
        {
            "parts": await _describe(reader),
            "ct": h.get("Content-Type"),
            "cl": h.get("Content-Length"),
            "te": h.get("Transfer-Encoding"),
        }
    )


async def _raw(request: web.Request) -> web.Response:
    body = await request.read()
    h = request.headers
    return web.json_response(
        {
            "body": base64.b64encode(body).decode(),
            "ct": h.get("Content-Type"),
            "cl": h.get("Content-Length"),
            "te": h.get("Transfer-Encoding"),
            "cd": h.get("Content-Disposition"),
        }
    )


async def _post(request: web.Request) -> web.Response:
    form = await request.post()
    out = {}
    for k, v in form.items():
        out[k] = v if isinstance(v, str) else [v.filename, v.content_type, v.file.read().decode()]
    return web.json_response(out)


def _server_writer(subtype: str) -> Any:
    """A multipart body built by real aiohttp, for the reader tests."""
    w = server_aiohttp.MultipartWriter(subtype, boundary="srv-boundary")
    if subtype == "form-data":
        w.append("héllo").set_content_disposition("form-data", name="text")
        w.append_json({"k": [1, 2]}).set_content_disposition("form-data", name="js")
        w.append(
            io.BytesIO(BIG), {"Content-Type": "application/octet-stream"}
        ).set_content_disposition("form-data", name="file", filename="data.bin")
        return w
    w.append("héllo")
    w.append_json({"k": [1, 2]})
    w.append_form([("a", "1"), ("b", "x y")])
    big = w.append(io.BytesIO(BIG), {"Content-Type": "application/octet-stream"})
    big.set_content_disposition("attachment", filename="data.bin")
    w.append(b"abc" * 100, {"Content-Transfer-Encoding": "base64"})
    w.append(b"zipped " * 100, {"Content-Encoding": "gzip"})
    inner = server_aiohttp.MultipartWriter("related", boundary="inner-boundary")
    inner.append("inside")
    w.append(inner)
    return w


CRAFTED_CT = "multipart/mixed; boundary=xyz"
CRAFTED = (
    b"This is the preamble.\r\n"
    b"--xyz\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"line1\r\nline2\r\nline3\r\n"
    b"--xyz\r\n"
    b"Content-Type: text/plain\r\n"
    b"Content-Length: 7\r\n"
    b"\r\n"
    b"exactly\r\n"
    b"--xyz\r\n"
    b'Content-Disposition: attachment; filename="skipped.txt"\r\n'
    b"\r\n"
    b"skip me\r\n"
    b"--xyz\r\n"
    b"Content-Disposition: attachment; filename*=UTF-8''na%C3%AFve.txt\r\n"
    b"\r\n"
    b"last\r\n"
    b"--xyz--\r\n"
    b"epilogue\r\n"
)

CHARSET_CT = "multipart/form-data; boundary=cs"
CHARSET_BODY = (
    b"--cs\r\n"
    b'Content-Disposition: form-data; name="t"\r\n'
    b"Content-Type: text/plain; charset=latin-1\r\n"
    b"\r\n"
    b"\xe9t\xe9\r\n"
    b"--cs--\r\n"
)


@pytest.fixture
async def base(serve: Any) -> str:
    async def mp(request: web.Request) -> web.Response:
        return web.Response(body=_server_writer(request.match_info["subtype"]))

    async def crafted(request: web.Request) -> web.Response:
        return web.Response(body=CRAFTED, headers={"Content-Type": CRAFTED_CT})

    async def charset(request: web.Request) -> web.Response:
        return web.Response(body=CHARSET_BODY, headers={"Content-Type": CHARSET_CT})

    async def not_multipart(request: web.Request) -> web.Response:
        return web.Response(text="plain")

    app = web.Application(client_max_size=2**30)
    app.router.add_post("/parts", _echo_parts)
    app.router.add_post("/raw", _raw)
    app.router.add_post("/post", _post)
    app.router.add_get("/mp/{subtype}", mp)
    app.router.add_get("/crafted", crafted)
    app.router.add_get("/charset", charset)
    app.router.add_get("/plain", not_multipart)
    return str(await serve(app))


async def _send(aiohttp: Any, url: str, data: Any) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s, s.post(url, data=data) as resp:
        assert resp.status == 200, await resp.text()
        got: dict[str, Any] = await resp.json()
    if "body" in got:
        got["raw"] = base64.b64decode(got["body"])
    return got


# -- MultipartWriter -------------------------------------------------------------
def test_writer_boundary_and_headers(aiohttp: Any) -> None:
    w = aiohttp.MultipartWriter()
    assert len(w.boundary) == 32
    assert w.headers["Content-Type"] == f"multipart/mixed; boundary={w.boundary}"
    assert w.content_type == w.headers["Content-Type"]
    assert len(w) == 0 and bool(w) is True

    w = aiohttp.MultipartWriter("form-data", boundary="my-boundary")
    assert w.boundary == "my-boundary"
    assert w.headers["Content-Type"] == "multipart/form-data; boundary=my-boundary"
    # Not a token: quoted, with \ and " escaped.
    w = aiohttp.MultipartWriter("mixed", boundary='a b"c')
    assert w.headers["Content-Type"] == 'multipart/mixed; boundary="a b\\"c"'
    with pytest.raises(ValueError, match="ASCII only"):
        aiohttp.MultipartWriter(boundary="ünï")
    with pytest.raises(ValueError, match="invalid characters"):
        aiohttp.MultipartWriter(boundary="a\nb")
    with aiohttp.MultipartWriter() as ctx:
        assert isinstance(ctx, aiohttp.MultipartWriter)
        assert isinstance(ctx, aiohttp.Payload)


async def test_writer_exact_bytes(aiohttp: Any) -> None:
    w = aiohttp.MultipartWriter("mixed", boundary="B")
    p1 = w.append("hello")
    p2 = w.append(b"\x00\x01", {"X-Part": "2"})
    p3 = w.append_json({"a": 1})
    p4 = w.append_form({"k": "v w"})
    p5 = w.append(io.BytesIO(b"bio"))
    assert len(w) == 5
    assert [p for p, _, _ in w] == [p1, p2, p3, p4, p5]
    assert isinstance(p1, aiohttp.StringPayload) and isinstance(p3, aiohttp.JsonPayload)
    assert isinstance(p2, aiohttp.BytesPayload) and isinstance(p5, aiohttp.BytesIOPayload)
    expected = (
        b"--B\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\n"
        b"hello\r\n"
        b"--B\r\n"
        b"Content-Type: application/octet-stream\r\nX-Part: 2\r\nContent-Length: 2\r\n\r\n"
        b"\x00\x01\r\n"
        b"--B\r\n"
        b"Content-Type: application/json\r\nContent-Length: 8\r\n\r\n"
        b'{"a": 1}\r\n'
        b"--B\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 5\r\n\r\n"
        b"k=v+w\r\n"
        b"--B\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Length: 3\r\n\r\n"
        b"bio\r\n"
        b"--B--\r\n"
    )
    out = Collect()
    await w.write(out)
    assert bytes(out.buf) == expected
    assert w.size == len(expected)
    assert await w.as_bytes() == expected

    out = Collect()
    await w.write(out, close_boundary=False)
    assert bytes(out.buf) == expected[: -len(b"--B--\r\n")]


async def test_form_data_writer_names_parts(aiohttp: Any) -> None:
    w = aiohttp.MultipartWriter("form-data", boundary="F")
    w.append("x")
    p = w.append("y")
    p.set_content_disposition("form-data", name="why")
    assert await w.as_bytes() == (
        b"--F\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b'Content-Disposition: form-data; name="section-0"\r\n\r\n'
        b"x\r\n"
        b"--F\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b'Content-Disposition: form-data; name="why"\r\n\r\n'
        b"y\r\n"
        b"--F--\r\n"
    )


def test_set_content_disposition(aiohttp: Any) -> None:
    w = aiohttp.MultipartWriter()
    p = w.append("x")
    p.set_content_disposition("attachment", filename="a b.txt")
    assert p.headers["Content-Disposition"] == 'attachment; filename="a%20b.txt"'
    p.set_content_disposition("inline", quote_fields=False, filename='a "b".txt', size="3")
    assert p.headers["Content-Disposition"] == 'inline; filename="a \\"b\\".txt"; size="3"'
    p.set_content_disposition("form-data", name="ñ", _charset="latin-1")
    assert p.headers["Content-Disposition"] == "form-data; name*=latin-1''%F1"
    with pytest.raises(ValueError, match="bad content disposition type"):
        p.set_content_disposition("bad type")
    with pytest.raises(ValueError, match="bad content disposition parameter"):
        p.set_content_disposition("inline", **{"bad key": "v"})


def test_writer_errors(aiohttp: Any) -> None:
    w = aiohttp.MultipartWriter()
    with pytest.raises(TypeError, match="Cannot create payload"):
        w.append(object())
    with pytest.raises(RuntimeError, match="unknown content encoding"):
        w.append("x", {"Content-Encoding": "br"})
    with pytest.raises(RuntimeError, match="unknown content transfer encoding"):
        w.append("x", {"Content-Transfer-Encoding": "uuencode"})
    fd = aiohttp.MultipartWriter("form-data")
    with pytest.raises(AssertionError):
        fd.append("x", {"Content-Length": "1"})


async def test_send_form_data_writer(aiohttp: Any, base: str) -> None:
    w = aiohttp.MultipartWriter("form-data")
    w.append("v1").set_content_disposition("form-data", name="a")
    w.append(io.BytesIO(b"file body"), {"Content-Type": "text/x-f"}).set_content_disposition(
        "form-data", name="f", filename="f.txt"
    )
    w.append("unnamed")
    got = await _send(aiohttp, base + "/post", w)
    assert got == {"a": "v1", "f": ["f.txt", "text/x-f", "file body"], "section-2": "unnamed"}


async def test_send_nested_writer_with_file(aiohttp: Any, base: str, tmp_path: Any) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(BIG)
    outer = aiohttp.MultipartWriter("mixed")
    outer.append("first")
    inner = aiohttp.MultipartWriter("related")
    inner.append_json({"nested": True}, {"X-Json": "1"})
    inner.append_form([("a", "1"), ("a", "2")])
    outer.append(inner)
    with open(path, "rb") as f:
        part = outer.append(f)
        assert part.headers["Content-Disposition"] == 'attachment; filename="big.bin"'
        assert part.headers["Content-Length"] == str(len(BIG))
        size = outer.size
        got = await _send(aiohttp, base + "/parts", outer)

    # The request's Content-Type carries the boundary; the length is known.
    assert got["ct"] == outer.headers["Content-Type"]
    assert got["ct"] == f"multipart/mixed; boundary={outer.boundary}"
    assert got["cl"] == str(size) and got["te"] is None
    first, nested, filepart = got["parts"]
    assert first["data"] == "first"
    assert ["Content-Type", inner.headers["Content-Type"]] in nested["headers"]
    js, form = nested["parts"]
    assert json.loads(js["data"]) == {"nested": True}
    assert ["X-Json", "1"] in js["headers"]
    assert form["data"] == "a=1&a=2"
    assert ["Content-Type", "application/x-www-form-urlencoded"] in form["headers"]
    assert filepart["filename"] == "big.bin"
    assert (filepart["size"], filepart["sha"]) == (len(BIG), _sha(BIG))


async def test_send_encoded_parts(aiohttp: Any, base: str) -> None:
    data = b"compress and encode me " * 5000
    w = aiohttp.MultipartWriter("mixed")
    w.append(data, {"Content-Encoding": "gzip"})
    w.append(data, {"Content-Encoding": "deflate"})
    w.append(data, {"Content-Transfer-Encoding": "base64"})
    w.append("héllo wörld = ok", {"Content-Transfer-Encoding": "quoted-printable"})
    w.append(data, {"Content-Encoding": "identity"})
    assert w.size is None  # encoded parts: the length is unknown
    got = await _send(aiohttp, base + "/parts", w)
    assert got["te"] == "chunked" and got["cl"] is None
    shas = [p["sha"] for p in got["parts"]]
    assert shas == [_sha(data)] * 3 + [_sha("héllo wörld = ok".encode())] + [_sha(data)]

    got = await _send(aiohttp, base + "/raw", w)
    raw = got["raw"]
    b = w.boundary.encode()
    bodies = [seg.split(b"\r\n\r\n", 1)[1][:-2] for seg in raw.split(b"--" + b)[1:-1]]
    assert gzip.decompress(bodies[0]) == data
    assert zlib.decompress(bodies[1], -zlib.MAX_WBITS) == data
    assert base64.b64decode(bodies[2]) == data
    assert bodies[3] == b"h=C3=A9llo w=C3=B6rld =3D ok"


async def test_writer_with_async_iterable_part(aiohttp: Any, base: str) -> None:
    async def gen() -> Any:
        for i in range(5):
            yield bytes([65 + i]) * 10_000

    w = aiohttp.MultipartWriter("form-data")
    w.append("x").set_content_disposition("form-data", name="x")
    w.append(gen()).set_content_disposition("form-data", name="g", filename="g.bin")
    assert w.size is None
    got = await _send(aiohttp, base + "/parts", w)
    assert got["te"] == "chunked"
    expected = b"".join(bytes([65 + i]) * 10_000 for i in range(5))
    assert got["parts"][1]["sha"] == _sha(expected)
    assert got["parts"][1]["filename"] == "g.bin"


async def test_writer_in_memory_can_be_sent_again(aiohttp: Any, base: str) -> None:
    w = aiohttp.MultipartWriter("mixed", boundary="again")
    w.append("one")
    w.append_json([1])
    first = (await _send(aiohttp, base + "/raw", w))["raw"]
    second = (await _send(aiohttp, base + "/raw", w))["raw"]
    assert first == second == await w.as_bytes()


# -- MultipartReader -------------------------------------------------------------
async def test_reader_from_response(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s, s.get(base + "/mp/mixed") as resp:
        assert resp.headers["Content-Type"] == "multipart/mixed; boundary=srv-boundary"
        reader = aiohttp.MultipartReader.from_response(resp)
        text = await reader.next()
        assert isinstance(text, aiohttp.BodyPartReader)
        assert text.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert await text.text() == "héllo"
        assert text.at_eof()
        js = await reader.next()
        assert await js.json() == {"k": [1, 2]}
        form = await reader.next()
        assert await form.form() == [("a", "1"), ("b", "x y")]
        big = await reader.next()
        assert big.filename == "data.bin" and big.name is None
        h = hashlib.sha256()
        while chunk := await big.read_chunk(10_000):
            assert len(chunk) <= 10_000
            h.update(chunk)
        assert h.hexdigest() == _sha(BIG)
        b64 = await reader.next()
        assert await b64.read(decode=True) == b"abc" * 100
        gz = await reader.next()
        assert await gz.read(decode=True) == b"zipped " * 100
        nested = await reader.next()
        assert isinstance(nested, aiohttp.MultipartReader)
        inside = await nested.next()
        assert await inside.text() == "inside"
        assert await nested.next() is None
        assert nested.at_eof()
        assert await reader.next() is None
        assert reader.at_eof()


async def test_reader_iteration_and_release(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s, s.get(base + "/mp/form-data") as resp:
        reader = aiohttp.MultipartReader(resp.headers, resp.content)
        names = []
        async for part in reader:
            names.append((part.name, part.filename))
            if part.name == "js":
                assert await part.read() == b'{"k": [1, 2]}'
            # The others are released (read to the void) by the next step.
        assert names == [("text", None), ("js", None), ("file", "data.bin")]
        assert reader.at_eof()

    async with aiohttp.ClientSession() as s, s.get(base + "/mp/form-data") as resp:
        reader = aiohttp.MultipartReader(resp.headers, resp.content)
        first = await reader.next()
        await first.release()
        assert first.at_eof() and await first.read() == b""
        await reader.next()
        big = await reader.next()
        assert await big.read_chunk(100) == BIG[:100]
        assert not big.at_eof()
        await reader.release()
        assert reader.at_eof()
        assert await reader.next() is None


async def test_reader_big_part_without_length(aiohttp: Any, base: str) -> None:
    # form-data parts have no Content-Length: the boundary is searched for.
    async with aiohttp.ClientSession() as s, s.get(base + "/mp/form-data") as resp:
        reader = aiohttp.MultipartReader(resp.headers, resp.content)
        await reader.next()
        await reader.next()
        big = await reader.next()
        assert big.headers["Content-Type"] == "application/octet-stream"
        data = await big.read()
        assert (len(data), _sha(bytes(data))) == (len(BIG), _sha(BIG))
        assert await reader.next() is None


async def test_reader_crafted_body(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s, s.get(base + "/crafted") as resp:
        reader = aiohttp.MultipartReader(resp.headers, resp.content)
        lines = await reader.next()
        assert [await lines.readline() for _ in range(4)] == [
            b"line1\r\n",
            b"line2\r\n",
            b"line3",
            b"",
        ]
        assert lines.at_eof()
        sized = await reader.next()
        assert sized.headers["Content-Length"] == "7"
        assert await sized.read() == b"exactly"
        skipped = await reader.next()
        assert skipped.filename == "skipped.txt"
        last = await reader.next()  # the skipped part was released on the way
        assert last.filename == "naïve.txt"
        assert await last.text() == "last"
        assert await reader.next() is None
        assert reader.at_eof()


async def test_reader_charset_part(aiohttp: Any, base: str) -> None:
    # text() decodes with the part's charset.
    async with aiohttp.ClientSession() as s, s.get(base + "/charset") as resp:
        reader = aiohttp.MultipartReader(resp.headers, resp.content)
        part = await reader.next()
        assert part.name == "t"
        assert await part.text() == "été"
        assert await reader.next() is None


async def test_reader_response_wrapper_releases(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s, s.get(base + "/crafted") as resp:
        wrapper = aiohttp.MultipartReader.from_response(resp)
        seen = 0
        async for _part in wrapper:
            seen += 1
        assert seen == 4
        assert wrapper.at_eof()


async def test_reader_errors(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s, s.get(base + "/plain") as resp:
        with pytest.raises(AssertionError, match="multipart/\\* content type expected"):
            aiohttp.MultipartReader(resp.headers, resp.content)
        with pytest.raises(ValueError, match="boundary missed"):
            aiohttp.MultipartReader({"Content-Type": "multipart/mixed"}, resp.content)
        with pytest.raises(ValueError, match="too long"):
            aiohttp.MultipartReader(
                {"Content-Type": "multipart/mixed; boundary=" + "b" * 71}, resp.content
            )
        # The body is no multipart body with this boundary.
        reader = aiohttp.MultipartReader(
            {"Content-Type": "multipart/mixed; boundary=zz"}, resp.content
        )
        with pytest.raises(ValueError, match="Could not find starting boundary"):
            await reader.next()


# -- BodyPartReader as a request body ------------------------------------------------
async def test_forward_a_part(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(base + "/mp/form-data") as resp:
            reader = aiohttp.MultipartReader(resp.headers, resp.content)
            await reader.next()
            await reader.next()
            part = await reader.next()
            p = aiohttp.get_payload(part)
            assert p.headers["Content-Disposition"] == (
                'attachment; name="file"; filename="data.bin"'
            )
            async with s.post(base + "/raw", data=part) as up:
                got = await up.json()
    raw = base64.b64decode(got["body"])
    assert (len(raw), _sha(raw)) == (len(BIG), _sha(BIG))
    assert got["te"] == "chunked"
    assert got["cd"] == 'attachment; name="file"; filename="data.bin"'


# -- Content-Disposition ---------------------------------------------------------------
@pytest.mark.parametrize(
    "header, expected",
    [
        ("inline", ("inline", {})),
        ('attachment; filename="foo.html"', ("attachment", {"filename": "foo.html"})),
        ("attachment; filename=foo.html", ("attachment", {"filename": "foo.html"})),
        ('ATTACHMENT; FileName="x"', ("attachment", {"filename": "x"})),
        (
            "attachment; filename*=UTF-8''na%C3%AFve.txt",
            ("attachment", {"filename*": "naïve.txt"}),
        ),
        (
            'attachment; filename*0="foo."; filename*1="html"',
            ("attachment", {"filename*0": "foo.", "filename*1": "html"}),
        ),
        ('attachment; filename="foo;bar.html"', ("attachment", {"filename": "foo;bar.html"})),
        ('form-data; name="a\\"b"', ("form-data", {"name": 'a"b'})),
        ("", (None, {})),
        (None, (None, {})),
    ],
)
def test_parse_content_disposition(aiohttp: Any, header: Any, expected: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert aiohttp.parse_content_disposition(header) == expected


@pytest.mark.parametrize(
    "header, warning, expected",
    [
        ("attachment; filename=foo bar.html", "BadContentDispositionHeader", (None, {})),
        ('"inline"', "BadContentDispositionHeader", (None, {})),
        ('attachment; filename="a"; filename="b"', "BadContentDispositionHeader", (None, {})),
        ("attachment; a", "BadContentDispositionHeader", (None, {})),
        ("attachment;", "BadContentDispositionHeader", ("attachment", {})),
        ("attachment; filename*=bad", "BadContentDispositionParam", ("attachment", {})),
        (
            "attachment; filename*=x-no-such-charset''%41",
            "BadContentDispositionParam",
            ("attachment", {}),
        ),
    ],
)
def test_parse_bad_content_disposition(
    aiohttp: Any, header: str, warning: str, expected: Any
) -> None:
    with pytest.warns(getattr(aiohttp, warning)):
        assert aiohttp.parse_content_disposition(header) == expected


def test_content_disposition_filename(aiohttp: Any) -> None:
    f = aiohttp.content_disposition_filename
    assert f({}) is None
    assert f({"filename": "a.txt"}) == "a.txt"
    assert f({"filename": "a.txt", "filename*": "b.txt"}) == "b.txt"
    assert f({"name": "n"}, "name") == "n"
    assert f({"filename*0": "foo.", "filename*1": "html"}) == "foo.html"
    assert f({"filename*0*": "UTF-8''na%C3%AF", "filename*1*": "ve.txt"}) == "naïve.txt"
    assert f({"filename*0": "a", "filename*2": "c"}) == "a"
    assert f({"filename*1": "b"}) is None
    assert f({"other": "x"}) is None


def test_writer_headers_are_a_cimultidict(aiohttp: Any) -> None:
    w = aiohttp.MultipartWriter()
    p = w.append("x", CIMultiDict({"X-A": "1"}))
    assert p.headers["x-a"] == "1"
    assert isinstance(p.headers, CIMultiDict)


_MEMORY_CHILD = """
import asyncio, sys, {target} as client

async def main(url, path):
    async with client.ClientSession({session_args}) as s:
        with open(path, "rb") as f:
            form = client.FormData()
            form.add_field("note", "big one")
            form.add_field("file", f)
            async with s.post(url, data=form) as r:
                got = await r.json()
        assert got["n"] > {size} and got["cl"] == str(got["n"]), got
    with open("/proc/self/status") as f:
        hwm = next(line for line in f if line.startswith("VmHWM:"))
    print(int(hwm.split()[1]) // 1024)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
@pytest.mark.timeout(120)
async def test_multipart_file_upload_in_bounded_memory(serve: Any, tmp_path: Any) -> None:
    size = 256 * 2**20
    path = tmp_path / "big.bin"
    with open(path, "wb") as f:
        f.truncate(size)  # sparse: reading it costs no disk

    async def up(request: web.Request) -> web.Response:
        n = 0
        async for chunk in request.content.iter_any():
            n += len(chunk)
        return web.json_response({"n": n, "cl": request.headers.get("Content-Length")})

    app = web.Application(client_max_size=2**31)
    app.router.add_post("/up", up)
    url = await serve(app)
    code = textwrap.dedent(_MEMORY_CHILD).format(
        target=TARGET, size=size, session_args=CHILD_SESSION_ARGS
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, url + "/up", str(path), stdout=PIPE, stderr=PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 100)
    finally:
        if proc.returncode is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    peak_mib = int(out.decode().strip())
    print(f"peak RSS {peak_mib} MiB")
    assert peak_mib < 100, f"peak RSS {peak_mib} MiB"
