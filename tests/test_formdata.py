"""FormData and request payloads: url-encoded and multipart forms, files
streamed from disk, per-field filename/content_type, quote_fields/charset,
async-iterable fields, Payload objects as bodies, errors, and reuse.

Forms go to a real aiohttp.web server, which reports what arrived (its own
``request.post()`` / ``request.multipart()`` and the raw bytes).  Every test
must pass against aiohttp 3.14.5 (AIOXIDE_TEST_TARGET=aiohttp).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import os
import threading
import warnings
from typing import Any

import pytest
from aiohttp import web
from multidict import MultiDict

from conftest import H2


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def _post(request: web.Request) -> web.Response:
    """What request.post() makes of the body, field by field."""
    form = await request.post()
    fields = []
    for name, value in form.items():
        if isinstance(value, str):
            fields.append({"name": name, "value": value})
        else:
            data = value.file.read()
            fields.append(
                {
                    "name": name,
                    "filename": value.filename,
                    "content_type": value.content_type,
                    "size": len(data),
                    "sha": _sha(data),
                }
            )
    return web.json_response({"fields": fields, "headers": _heads(request)})


async def _parts(request: web.Request) -> web.Response:
    """request.multipart(), part by part: headers and content."""
    reader = await request.multipart()
    parts = []
    async for part in reader:
        assert not isinstance(part, type(reader))
        h = hashlib.sha256()
        n = 0
        while True:
            chunk = await part.read_chunk(2**16)
            if not chunk:
                break
            h.update(chunk)
            n += len(chunk)
        parts.append(
            {
                "headers": [[k, v] for k, v in part.headers.items()],
                "name": part.name,
                "filename": part.filename,
                "size": n,
                "sha": h.hexdigest(),
            }
        )
    return web.json_response({"parts": parts, "headers": _heads(request)})


async def _raw(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response({"body": base64.b64encode(body).decode(), "headers": _heads(request)})


async def _download(request: web.Request) -> web.Response:
    return web.Response(body=b"z" * 300_000 + b"\n" + b"y" * 1000)


def _heads(request: web.Request) -> dict[str, Any]:
    h = request.headers
    return {
        "ct": h.get("Content-Type"),
        "cl": h.get("Content-Length"),
        "te": h.get("Transfer-Encoding"),
        "cd": h.get("Content-Disposition"),
        "all": [[k, v] for k, v in h.items()],
    }


@pytest.fixture
async def base(serve: Any) -> str:
    app = web.Application(client_max_size=2**30)
    app.router.add_post("/post", _post)
    app.router.add_post("/parts", _parts)
    app.router.add_post("/raw", _raw)
    app.router.add_get("/download", _download)
    return str(await serve(app))


async def _send(aiohttp: Any, url: str, data: Any, **kw: Any) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s, s.post(url, data=data, **kw) as resp:
        assert resp.status == 200, await resp.text()
        got: dict[str, Any] = await resp.json()
    if "body" in got:
        got["raw"] = base64.b64decode(got["body"])
    return got


def _boundary(ct: str) -> bytes:
    assert ct.startswith("multipart/form-data; boundary="), ct
    return ct.split("boundary=", 1)[1].strip('"').encode()


# -- url-encoded ---------------------------------------------------------------
async def test_urlencoded_form(aiohttp: Any, base: str) -> None:
    form = aiohttp.FormData({"a": "1", "b": "x y&z"})
    form.add_field("c", "é")
    assert form.is_multipart is False
    got = await _send(aiohttp, base + "/raw", form)
    assert got["raw"] == b"a=1&b=x+y%26z&c=%C3%A9"
    assert got["headers"]["ct"] == "application/x-www-form-urlencoded"
    assert got["headers"]["cl"] == str(len(got["raw"]))
    got = await _send(aiohttp, base + "/post", form)
    assert got["fields"] == [
        {"name": "a", "value": "1"},
        {"name": "b", "value": "x y&z"},
        {"name": "c", "value": "é"},
    ]


@pytest.mark.parametrize(
    "data",
    [
        {"k": "1", "n": 2, "f": 1.5},
        [("k", "1"), ("n", 2), ("f", 1.5)],
        MultiDict([("k", "1"), ("n", "2"), ("f", "1.5")]),
    ],
    ids=["dict", "list", "multidict"],
)
async def test_plain_data_is_urlencoded(aiohttp: Any, base: str, data: Any) -> None:
    got = await _send(aiohttp, base + "/raw", data)
    assert got["raw"] == b"k=1&n=2&f=1.5"
    assert got["headers"]["ct"] == "application/x-www-form-urlencoded"


async def test_urlencoded_values_as_aiohttp_spells_them(aiohttp: Any, base: str) -> None:
    # None and bools are str()-ed, a list value repeats the name (doseq).
    got = await _send(aiohttp, base + "/raw", {"n": None, "b": True, "l": [1, "x"]})
    assert got["raw"] == b"n=None&b=True&l=1&l=x"
    assert got["headers"]["ct"] == "application/x-www-form-urlencoded"


async def test_urlencoded_charset(aiohttp: Any, base: str) -> None:
    form = aiohttp.FormData({"k": "é"}, charset="latin-1")
    got = await _send(aiohttp, base + "/raw", form)
    assert got["raw"] == b"k=%E9"
    assert got["headers"]["ct"] == "application/x-www-form-urlencoded; charset=latin-1"


async def test_empty_form(aiohttp: Any, base: str) -> None:
    got = await _send(aiohttp, base + "/raw", aiohttp.FormData())
    assert got["raw"] == b""
    assert got["headers"]["ct"] == "application/x-www-form-urlencoded"
    assert got["headers"]["cl"] == "0"


# -- multipart -------------------------------------------------------------------
async def test_multipart_with_big_file_is_streamed(aiohttp: Any, base: str, tmp_path: Any) -> None:
    data = os.urandom(6 * 2**20 + 123)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    reads: list[tuple[int, int]] = []
    loop_thread = threading.get_ident()

    class Recording(io.FileIO):
        def read(self, size: int = -1) -> bytes:
            reads.append((size, threading.get_ident()))
            return super().read(size)

    with Recording(str(path), "r") as f:
        form = aiohttp.FormData()
        form.add_field("note", "hello")
        form.add_field("blob", f)
        assert form.is_multipart is True
        got = await _send(aiohttp, base + "/post", form)

    assert got["fields"][0] == {"name": "note", "value": "hello"}
    blob = got["fields"][1]
    assert blob["filename"] == "blob.bin"
    assert blob["content_type"] == "application/octet-stream"
    assert (blob["size"], blob["sha"]) == (len(data), _sha(data))
    # Every part's size is known: Content-Length, not chunked (as aiohttp).
    assert got["headers"]["te"] is None
    assert int(got["headers"]["cl"]) > len(data)
    # Streamed: read in bounded chunks, off the event loop's thread.
    assert len(reads) > 4
    assert all(0 < size <= 2**18 for size, _ in reads)
    assert all(tid != loop_thread for _, tid in reads)


async def test_multipart_file_exact_bytes_and_length(
    aiohttp: Any, base: str, tmp_path: Any
) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"line one\nline two\n")
    with open(path, "rb") as f:
        form = aiohttp.FormData()
        form.add_field("a", "1")
        form.add_field("doc", f)
        got = await _send(aiohttp, base + "/raw", form)
    b = _boundary(got["headers"]["ct"])
    assert got["raw"] == (
        b"--" + b + b"\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b'Content-Disposition: form-data; name="a"\r\n'
        b"\r\n"
        b"1\r\n"
        b"--" + b + b"\r\n"
        b"Content-Type: text/plain\r\n"
        b'Content-Disposition: form-data; name="doc"; filename="notes.txt"\r\n'
        b"\r\n"
        b"line one\nline two\n\r\n"
        b"--" + b + b"--\r\n"
    )
    assert got["headers"]["cl"] == str(len(got["raw"]))


async def test_filename_and_content_type_per_field(aiohttp: Any, base: str) -> None:
    form = aiohttp.FormData()
    form.add_field("bin", b"\x00\x01\x02", filename="x.dat", content_type="application/x-foo")
    form.add_field("csv", "a,b\n1,2\n", content_type="text/csv")
    form.add_field("mem", io.BytesIO(b"memory"), filename="m.json")
    form.add_field("named", io.BytesIO(b"q"))
    got = await _send(aiohttp, base + "/parts", form)
    parts = {p["name"]: p for p in got["parts"]}
    assert parts["bin"]["filename"] == "x.dat"
    assert ["Content-Type", "application/x-foo"] in parts["bin"]["headers"]
    assert parts["bin"]["sha"] == _sha(b"\x00\x01\x02")
    assert parts["csv"]["filename"] is None
    assert ["Content-Type", "text/csv"] in parts["csv"]["headers"]
    assert parts["mem"]["filename"] == "m.json"
    # The type is guessed from the file object's own name, not from filename=.
    assert ["Content-Type", "application/octet-stream"] in parts["mem"]["headers"]
    # A BytesIO without a name: the field name is the filename.
    assert parts["named"]["filename"] == "named"
    # form-data parts carry no Content-Length (RFC 7578 4.8).
    for p in got["parts"]:
        assert not [h for h in p["headers"] if h[0].lower() == "content-length"]


async def test_bytes_value_without_filename_warns_and_becomes_a_file(
    aiohttp: Any, base: str
) -> None:
    form = aiohttp.FormData()
    with pytest.warns(DeprecationWarning, match="passing bytes"):
        form.add_field("blob", b"abc")
    assert form.is_multipart
    got = await _send(aiohttp, base + "/post", form)
    assert got["fields"][0]["filename"] == "blob"
    assert got["fields"][0]["content_type"] == "application/octet-stream"


async def test_default_to_multipart(aiohttp: Any, base: str) -> None:
    form = aiohttp.FormData({"a": "1"}, default_to_multipart=True)
    assert form.is_multipart
    got = await _send(aiohttp, base + "/post", form)
    assert got["headers"]["ct"].startswith("multipart/form-data; boundary=")
    assert got["fields"] == [{"name": "a", "value": "1"}]


async def test_content_type_makes_it_multipart(aiohttp: Any) -> None:
    form = aiohttp.FormData({"a": "1"})
    assert not form.is_multipart
    form.add_field("b", "2", content_type="text/x-b")
    assert form.is_multipart


async def test_dict_with_file_is_multipart(aiohttp: Any, base: str, tmp_path: Any) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b"1,2\n")
    with open(path, "rb") as f:
        got = await _send(aiohttp, base + "/post", {"x": "y", "f": f})
    assert got["fields"][0] == {"name": "x", "value": "y"}
    assert got["fields"][1]["filename"] == "d.csv"
    assert got["fields"][1]["content_type"] == "text/csv"


async def test_quote_fields(aiohttp: Any, base: str) -> None:
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("ñame", "v", filename='fï "le".txt')
    form.add_field('q"t', "w")
    got = await _send(aiohttp, base + "/raw", form)
    raw = got["raw"]
    assert (
        b"Content-Disposition: form-data; name*=utf-8''%C3%B1ame; "
        b'filename="f%C3%AF%20%22le%22.txt"\r\n' in raw
    )
    assert b'Content-Disposition: form-data; name="q\\"t"\r\n' in raw

    form = aiohttp.FormData(quote_fields=False, default_to_multipart=True)
    form.add_field("ñame", "v", filename='fï "le".txt')
    got = await _send(aiohttp, base + "/raw", form)
    assert (
        'Content-Disposition: form-data; name="ñame"; filename="fï \\"le\\".txt"\r\n'.encode()
        in got["raw"]
    )
    got = await _send(aiohttp, base + "/post", form)
    assert got["fields"][0]["name"] == "ñame"


async def test_multipart_charset(aiohttp: Any, base: str) -> None:
    form = aiohttp.FormData(charset="latin-1", default_to_multipart=True)
    form.add_field("t", "é")
    got = await _send(aiohttp, base + "/raw", form)
    assert b"Content-Type: text/plain; charset=latin-1\r\n" in got["raw"]
    assert b"\r\n\r\n\xe9\r\n" in got["raw"]


async def test_async_iterable_field_is_chunked(aiohttp: Any, base: str) -> None:
    pieces = [os.urandom(50_000) for _ in range(8)]

    async def gen() -> Any:
        for p in pieces:
            await asyncio.sleep(0)
            yield p

    form = aiohttp.FormData()
    form.add_field("a", "1")
    form.add_field("stream", gen(), filename="s.bin")
    got = await _send(aiohttp, base + "/post", form)
    assert got["headers"]["te"] == "chunked" and got["headers"]["cl"] is None
    f = got["fields"][1]
    assert (f["filename"], f["size"], f["sha"]) == (
        "s.bin",
        sum(map(len, pieces)),
        _sha(b"".join(pieces)),
    )


# -- reuse -----------------------------------------------------------------------
async def _wait_closed(f: Any) -> None:
    for _ in range(200):  # aiohttp closes the file in the executor
        if f.closed:
            return
        await asyncio.sleep(0.01)


async def test_form_reuse(aiohttp: Any, base: str, tmp_path: Any) -> None:
    # url-encoded: built again for every request.
    form = aiohttp.FormData({"a": "1"})
    for _ in range(2):
        got = await _send(aiohttp, base + "/raw", form)
        assert got["raw"] == b"a=1"

    # multipart in memory: the same body again (fields are not added twice).
    form = aiohttp.FormData({"a": "1"}, default_to_multipart=True)
    bodies = []
    for _ in range(2):
        got = await _send(aiohttp, base + "/post", form)
        assert got["fields"] == [{"name": "a", "value": "1"}]
        bodies.append(got["headers"]["cl"])
    assert bodies[0] == bodies[1]

    # multipart with a file: the file is closed once the request is over,
    # so the form cannot be sent a second time.
    path = tmp_path / "once.txt"
    path.write_bytes(b"once")
    f = open(path, "rb")
    form = aiohttp.FormData()
    form.add_field("f", f)
    got = await _send(aiohttp, base + "/post", form)
    assert got["fields"][0]["size"] == 4
    await _wait_closed(f)
    assert f.closed
    with pytest.raises(ValueError, match="closed file"):
        await _send(aiohttp, base + "/post", form)


async def test_file_body_is_closed_after_the_request(
    aiohttp: Any, base: str, tmp_path: Any
) -> None:
    path = tmp_path / "body.bin"
    path.write_bytes(b"x" * 1000)
    f = open(path, "rb")
    got = await _send(aiohttp, base + "/raw", f)
    assert got["raw"] == b"x" * 1000
    assert got["headers"]["cd"] is None  # no Content-Disposition on a whole body
    await _wait_closed(f)
    assert f.closed


# -- Payload objects as bodies ------------------------------------------------------
async def test_payload_objects_as_body(aiohttp: Any, base: str, tmp_path: Any) -> None:
    got = await _send(
        aiohttp,
        base + "/raw",
        aiohttp.BytesPayload(b"abc", content_type="application/x-abc", headers={"X-P": "1"}),
    )
    assert got["raw"] == b"abc"
    assert got["headers"]["ct"] == "application/x-abc"
    assert ["x-p" if H2 else "X-P", "1"] in got["headers"]["all"]  # h2: lower-case names

    got = await _send(aiohttp, base + "/raw", aiohttp.StringPayload("é", encoding="latin-1"))
    assert (got["raw"], got["headers"]["ct"]) == (b"\xe9", "text/plain; charset=latin-1")

    got = await _send(aiohttp, base + "/raw", aiohttp.JsonPayload({"k": [1, 2]}))
    assert (got["raw"], got["headers"]["ct"]) == (b'{"k": [1, 2]}', "application/json")

    # An IOBase payload built by hand says attachment; filename=...
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.4")
    with open(path, "rb") as f:
        p = aiohttp.BufferedReaderPayload(f)
        assert p.size == 8 and p.filename == "report.pdf"
        got = await _send(aiohttp, base + "/raw", p)
    assert got["raw"] == b"%PDF-1.4"
    assert got["headers"]["ct"] == "application/pdf"
    assert got["headers"]["cd"] == 'attachment; filename="report.pdf"'
    assert got["headers"]["cl"] == "8"

    async def gen() -> Any:
        yield b"ab"
        yield b"cd"

    got = await _send(aiohttp, base + "/raw", aiohttp.AsyncIterablePayload(gen()))
    assert (got["raw"], got["headers"]["te"]) == (b"abcd", "chunked")


async def test_response_content_and_text_file_as_body(
    aiohttp: Any, base: str, tmp_path: Any
) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(base + "/download") as down:
            # A response body streamed into a request (StreamReaderPayload).
            async with s.post(base + "/raw", data=down.content) as up:
                got = await up.json()
    raw = base64.b64decode(got["body"])
    assert raw == b"z" * 300_000 + b"\n" + b"y" * 1000
    assert got["headers"]["te"] == "chunked"
    assert got["headers"]["ct"] == "application/octet-stream"

    path = tmp_path / "t.txt"
    path.write_text("héllo\n" * 10_000, encoding="utf-8")
    with open(path, encoding="utf-8") as f:
        got = await _send(aiohttp, base + "/raw", f)
    assert got["raw"] == "héllo\n".encode() * 10_000
    assert got["headers"]["cl"] == str(len(got["raw"]))
    assert got["headers"]["ct"] == "text/plain; charset=utf-8"


async def test_custom_payload_subclass_write(aiohttp: Any, base: str) -> None:
    class Repeat(aiohttp.Payload):
        def __init__(self, value: bytes, times: int) -> None:
            super().__init__(value, content_type="application/x-repeat")
            self._times = times

        @property
        def size(self) -> int:
            return len(self._value) * self._times

        def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
            return (self._value * self._times).decode(encoding, errors)

        async def write(self, writer: Any) -> None:
            for _ in range(self._times):
                await writer.write(self._value)

    got = await _send(aiohttp, base + "/raw", Repeat(b"xyz", 1000))
    assert got["raw"] == b"xyz" * 1000
    assert got["headers"]["cl"] == "3000"
    assert got["headers"]["ct"] == "application/x-repeat"

    form = aiohttp.FormData()
    form.add_field("r", Repeat(b"ab", 3), filename="r.bin")
    got = await _send(aiohttp, base + "/post", form)
    assert got["fields"][0]["sha"] == _sha(b"ababab")


async def test_get_payload_and_registry(aiohttp: Any) -> None:
    p = aiohttp.get_payload("héllo")
    assert isinstance(p, aiohttp.StringPayload)
    assert (p.size, p.content_type, p.encoding) == (6, "text/plain; charset=utf-8", "utf-8")
    assert isinstance(aiohttp.get_payload(io.BytesIO(b"ab")), aiohttp.BytesIOPayload)
    assert isinstance(aiohttp.get_payload(io.StringIO("ab")), aiohttp.StringIOPayload)
    assert isinstance(aiohttp.get_payload(b"ab"), aiohttp.BytesPayload)
    assert aiohttp.get_payload(p) is p
    with pytest.raises(TypeError, match="byte-ish"):
        aiohttp.BytesPayload("not bytes")
    with pytest.raises(TypeError, match="AsyncIterable"):
        aiohttp.AsyncIterablePayload([b"x"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ResourceWarning):
            aiohttp.BytesPayload(bytes(2**20 + 1))


async def test_payload_type_registration(aiohttp: Any, base: str) -> None:
    class Point:
        def __init__(self, x: int, y: int) -> None:
            self.x, self.y = x, y

    class PointPayload(aiohttp.BytesPayload):
        def __init__(self, value: Point, *args: Any, **kwargs: Any) -> None:
            kwargs.pop("disposition", None)
            super().__init__(
                f"{value.x},{value.y}".encode(), *args, content_type="text/x-point", **kwargs
            )

    registry = aiohttp.PAYLOAD_REGISTRY
    aiohttp.payload_type(Point)(PointPayload)
    try:
        got = await _send(aiohttp, base + "/raw", Point(3, 4))
        assert (got["raw"], got["headers"]["ct"]) == (b"3,4", "text/x-point")
        # The common bodies still go as before.
        got = await _send(aiohttp, base + "/raw", b"plain")
        assert (got["raw"], got["headers"]["ct"]) == (b"plain", "application/octet-stream")
        got = await _send(aiohttp, base + "/raw", {"a": "1"})
        assert got["raw"] == b"a=1"
    finally:
        registry._normal.remove((PointPayload, Point))
        del registry._normal_lookup[Point]


# -- errors ------------------------------------------------------------------------
def test_add_field_errors(aiohttp: Any) -> None:
    form = aiohttp.FormData()
    with pytest.raises(TypeError, match="filename must be an instance of str"):
        form.add_field("a", "1", filename=b"x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="content_type must be an instance of str"):
        form.add_field("a", "1", content_type=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Forbidden control character"):
        form.add_field("a\r\nX-Injected: 1", "1")
    with pytest.raises(ValueError, match="Forbidden control character"):
        form.add_field("a", "1", filename="x\n.txt")
    with pytest.raises(ValueError, match="Forbidden control character"):
        form.add_field("a", "1", content_type="text/plain\r\nX: y")


def test_fields_errors(aiohttp: Any) -> None:
    with pytest.raises(TypeError, match="Only io.IOBase, multidict and"):
        aiohttp.FormData(5)
    with pytest.raises(TypeError, match="Only io.IOBase, multidict and"):
        aiohttp.FormData([("a", "b", "c")])
    form = aiohttp.FormData()
    with pytest.raises(TypeError, match="Only io.IOBase, multidict and"):
        form.add_fields("just a string")
    # An IOBase alone is a field named after its file.
    form.add_fields(io.BytesIO(b"x"))
    assert form.is_multipart


async def test_unserializable_multipart_value(aiohttp: Any, base: str) -> None:
    form = aiohttp.FormData({"a": "1"}, default_to_multipart=True)
    form.add_field("n", 1)
    with pytest.raises(TypeError, match="Can not serialize value type"):
        form()


async def test_bad_bodies(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        with pytest.raises(TypeError, match="Only io.IOBase, multidict and"):
            await s.post(base + "/raw", data=object())
        with pytest.raises(TypeError, match="Only io.IOBase, multidict and"):
            await s.post(base + "/raw", data=[("a", "b", "c")])
        with pytest.raises(ValueError, match="Forbidden control character"):
            await s.post(base + "/raw", data={"a\n": "b"})
        with pytest.raises(ValueError, match="can not be used at the same time"):
            await s.post(base + "/raw", data={"a": "b"}, json={"a": "b"})
        # The session still works.
        async with s.post(base + "/raw", data={"a": "b"}) as resp:
            assert resp.status == 200


async def test_failing_payload_write(aiohttp: Any, base: str) -> None:
    class Bad(aiohttp.Payload):
        def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
            return ""

        async def write(self, writer: Any) -> None:
            await writer.write(b"x" * 10)
            raise ZeroDivisionError("boom")

    writer = aiohttp.MultipartWriter()
    writer.append_payload(Bad(None))
    async with aiohttp.ClientSession() as s:
        for data in (Bad(None), writer):
            with pytest.raises(aiohttp.ClientConnectionError) as info:
                async with s.post(base + "/raw", data=data):
                    pass  # pragma: no cover
            assert isinstance(info.value.__cause__, ZeroDivisionError)
        async with s.post(base + "/raw", data=b"ok") as resp:  # still usable
            assert resp.status == 200


async def test_deprecated_streamer_as_body(aiohttp: Any, serve: Any) -> None:
    """aiohttp's deprecated ``@streamer``: a coroutine writing the body to
    the writer it is given, with or without its own arguments."""

    async def handler(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response(
            {"body": body.decode(), "ct": request.content_type, "cl": request.content_length}
        )

    app = web.Application()
    app.router.add_post("/", handler)
    base = await serve(app)
    with pytest.warns(DeprecationWarning, match="@streamer is deprecated"):

        @aiohttp.streamer
        async def send(writer: Any, parts: int) -> None:
            for i in range(parts):
                await writer.write(b"part%d;" % i)

    with pytest.warns(DeprecationWarning, match="@streamer is deprecated"):

        @aiohttp.streamer
        async def send_two(writer: Any) -> None:
            await writer.write(b"a")
            await writer.write(b"b")

    async with aiohttp.ClientSession() as s:
        async with s.post(base + "/", data=send(3), headers={"Content-Length": "18"}) as resp:
            got = await resp.json()
        assert got == {"body": "part0;part1;part2;", "ct": "application/octet-stream", "cl": 18}
        async with s.post(base + "/", data=send_two) as resp:
            assert (await resp.json())["body"] == "ab"
