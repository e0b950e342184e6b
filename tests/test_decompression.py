"""Response body decompression (Content-Encoding) and the Accept-Encoding request header.

Reference behaviour (aiohttp 3.14.5):

* ``gzip`` and ``deflate`` (zlib-wrapped, and raw deflate sent as "deflate") are decoded;
  ``br`` needs the Brotli module and ``zstd`` needs ``compression.zstd`` /
  ``backports.zstd``; the token is matched case-insensitively.
* Response headers are left untouched after decoding: Content-Encoding and the
  (compressed) Content-Length stay as the server sent them.
* Unknown codings (``foo``, ``identity``, ``x-gzip``, lists like ``deflate, gzip``) are
  passed through undecoded.
* A body that cannot be decoded raises ``ClientPayloadError`` from ``resp.read()``
  (caused by http_exceptions.ContentEncodingError <- zlib.error).
* Default request header: ``Accept-Encoding: gzip, deflate`` plus ``, br`` when Brotli is
  importable and ``, zstd`` when zstd is; sent even with auto_decompress=False.
"""

from __future__ import annotations

import asyncio
import gzip
import importlib
import zlib
from typing import Any, Callable

import pytest
from aiohttp import web

from conftest import TARGET, read_request_head

PAYLOAD = b"".join(
    b"line %06d: the quick brown fox jumps over the lazy dog\n" % i for i in range(2000)
)  # ~112 KB, compresses well


def _has_module(*names: str) -> bool:
    for name in names:
        try:
            importlib.import_module(name)
            return True
        except ImportError:
            pass
    return False


def _zstd_compress() -> Callable[[bytes], bytes]:
    for name in ("compression.zstd", "backports.zstd"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        return mod.compress  # type: ignore[no-any-return]
    pytest.skip("no zstd module (compression.zstd / backports.zstd) available")


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


def _response(encoding: str | None, body: bytes, *, chunked: bool = False, chunk: int = 7) -> bytes:
    head = b"HTTP/1.1 200 OK\r\n"
    if encoding is not None:
        head += b"Content-Encoding: " + encoding.encode() + b"\r\n"
    if not chunked:
        return head + b"Content-Length: %d\r\n\r\n" % len(body) + body
    out = [head + b"Transfer-Encoding: chunked\r\n\r\n"]
    for i in range(0, len(body), chunk):
        piece = body[i : i + chunk]
        out.append(b"%x\r\n%s\r\n" % (len(piece), piece))
    out.append(b"0\r\n\r\n")
    return b"".join(out)


def _canned(response: bytes, heads: list[bytes] | None = None):
    """Raw server answering every request on a connection with ``response``."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await read_request_head(reader)
            except asyncio.IncompleteReadError:
                return
            if heads is not None:
                heads.append(head)
            writer.write(response)
            await writer.drain()

    return handler


def _header_values(head: bytes, name: bytes) -> list[bytes]:
    out = []
    for line in head.split(b"\r\n")[1:]:
        if b":" in line:
            k, v = line.split(b":", 1)
            if k.strip().lower() == name.lower():
                out.append(v.strip())
    return out


# ---------------------------------------------------------------------------
# codings
# ---------------------------------------------------------------------------

CODECS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,  # RFC 1950 zlib wrapper, the correct form
    "raw-deflate": _raw_deflate,  # bare RFC 1951 stream labelled "deflate"
}


def _encoding_name(codec: str) -> str:
    return "deflate" if codec == "raw-deflate" else codec


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("codec", list(CODECS))
async def test_decodes(aiohttp: Any, raw_server: Any, codec: str, chunked: bool) -> None:
    body = CODECS[codec](PAYLOAD)
    assert body != PAYLOAD and len(body) < len(PAYLOAD) // 4
    enc = _encoding_name(codec)
    url = await raw_server(_canned(_response(enc, body, chunked=chunked, chunk=1000)))
    async with aiohttp.ClientSession() as s, s.get(url + "/") as resp:
        assert resp.status == 200
        assert await resp.read() == PAYLOAD
        # Headers describe the wire form and are not rewritten.
        assert resp.headers["Content-Encoding"] == enc
        if chunked:
            assert "Content-Length" not in resp.headers
        else:
            assert resp.headers["Content-Length"] == str(len(body))


async def test_brotli(aiohttp: Any, raw_server: Any) -> None:
    brotli = pytest.importorskip("brotli")
    body = brotli.compress(PAYLOAD)
    url = await raw_server(_canned(_response("br", body, chunked=True, chunk=500)))
    async with aiohttp.ClientSession() as s, s.get(url + "/") as resp:
        assert await resp.read() == PAYLOAD
        assert resp.headers["Content-Encoding"] == "br"


async def test_zstd(aiohttp: Any, raw_server: Any) -> None:
    compress = _zstd_compress()
    body = compress(PAYLOAD)
    url = await raw_server(_canned(_response("zstd", body, chunked=True, chunk=500)))
    async with aiohttp.ClientSession() as s, s.get(url + "/") as resp:
        assert await resp.read() == PAYLOAD
        assert resp.headers["Content-Encoding"] == "zstd"


async def test_gzip_with_tiny_chunks(aiohttp: Any, raw_server: Any) -> None:
    # Chunk boundaries fall inside the gzip header and everywhere else.
    small = PAYLOAD[:3000]
    body = gzip.compress(small)
    url = await raw_server(_canned(_response("gzip", body, chunked=True, chunk=3)))
    async with aiohttp.ClientSession() as s, s.get(url + "/") as resp:
        assert await resp.read() == small


async def test_coding_token_is_case_insensitive(aiohttp: Any, raw_server: Any) -> None:
    body = gzip.compress(PAYLOAD)
    url = await raw_server(_canned(_response("GZIP", body)))
    async with aiohttp.ClientSession() as s, s.get(url + "/") as resp:
        assert await resp.read() == PAYLOAD
        assert resp.headers["Content-Encoding"] == "GZIP"


async def test_concatenated_gzip_members(aiohttp: Any, raw_server: Any) -> None:
    a, b = PAYLOAD[:5000], PAYLOAD[5000:9000]
    body = gzip.compress(a) + gzip.compress(b)
    url = await raw_server(_canned(_response("gzip", body)))
    async with aiohttp.ClientSession() as s, s.get(url + "/") as resp:
        assert await resp.read() == a + b


async def test_streamed_decoding_large_body(aiohttp: Any, raw_server: Any) -> None:
    big = PAYLOAD * 20  # ~2.2 MB decoded, highly compressible
    body = gzip.compress(big)
    url = await raw_server(_canned(_response("gzip", body, chunked=True, chunk=4096)))
    async with aiohttp.ClientSession() as s, s.get(url + "/") as resp:
        first = await resp.content.readexactly(10)
        assert first == big[:10]
        parts = [first]
        async for piece in resp.content.iter_chunked(65536):
            assert len(piece) <= 65536
            parts.append(piece)
    assert b"".join(parts) == big


async def test_empty_gzip_body_and_204(aiohttp: Any, raw_server: Any) -> None:
    url = await raw_server(_canned(_response("gzip", b"")))
    async with aiohttp.ClientSession() as s, s.get(url + "/") as resp:
        assert resp.status == 200
        assert await resp.read() == b""
    url2 = await raw_server(_canned(b"HTTP/1.1 204 No Content\r\nContent-Encoding: gzip\r\n\r\n"))
    async with aiohttp.ClientSession() as s, s.get(url2 + "/") as resp:
        assert resp.status == 204
        assert await resp.read() == b""


@pytest.mark.parametrize(
    "enc", ["foo", "identity", "deflate, gzip"] + (["x-gzip"] if TARGET == "aiohttp" else [])
)
async def test_unhandled_codings_pass_through(aiohttp: Any, raw_server: Any, enc: str) -> None:
    body = gzip.compress(PAYLOAD)
    url = await raw_server(_canned(_response(enc, body)))
    async with aiohttp.ClientSession() as s, s.get(url + "/") as resp:
        assert resp.status == 200
        assert await resp.read() == body
        assert resp.headers["Content-Encoding"] == enc


@pytest.mark.skipif(TARGET == "aiohttp", reason="aiohttp leaves x-gzip encoded")
async def test_x_gzip_is_gzip(aiohttp: Any, raw_server: Any) -> None:
    # RFC 9110 8.4.1.3: a recipient SHOULD treat x-gzip as gzip (aiohttp does not).
    url = await raw_server(_canned(_response("x-gzip", gzip.compress(PAYLOAD))))
    async with aiohttp.ClientSession() as s, s.get(url + "/") as resp:
        assert await resp.read() == PAYLOAD


# ---------------------------------------------------------------------------
# auto_decompress=False
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("codec", list(CODECS))
async def test_auto_decompress_false_returns_raw_bytes(
    aiohttp: Any, raw_server: Any, codec: str
) -> None:
    body = CODECS[codec](PAYLOAD)
    enc = _encoding_name(codec)
    url = await raw_server(_canned(_response(enc, body)))
    async with aiohttp.ClientSession(auto_decompress=False) as s:
        assert s.auto_decompress is False
        async with s.get(url + "/") as resp:
            assert await resp.read() == body
            assert resp.headers["Content-Encoding"] == enc


async def test_auto_decompress_per_request_override(aiohttp: Any, raw_server: Any) -> None:
    body = gzip.compress(PAYLOAD)
    url = await raw_server(_canned(_response("gzip", body)))
    async with aiohttp.ClientSession() as s:
        assert s.auto_decompress is True
        async with s.get(url + "/", auto_decompress=False) as resp:
            assert await resp.read() == body
        async with s.get(url + "/") as resp:
            assert await resp.read() == PAYLOAD
    s = aiohttp.ClientSession(auto_decompress=False)
    async with s, s.get(url + "/", auto_decompress=True) as resp:
        assert await resp.read() == PAYLOAD


# ---------------------------------------------------------------------------
# corrupt bodies
# ---------------------------------------------------------------------------

CORRUPT = {
    "gzip-not-gzip": ("gzip", b"0123456789" * 10),
    "gzip-trailing-garbage": ("gzip", gzip.compress(PAYLOAD) + b"abcde"),
    "deflate-not-deflate": ("deflate", b"\x78" + b"\xff" * 50),
    "deflate-trailing-garbage": ("deflate", zlib.compress(PAYLOAD) + b"abcde"),
}


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("case", list(CORRUPT))
async def test_corrupt_body_raises_payload_error(
    aiohttp: Any, raw_server: Any, case: str, chunked: bool
) -> None:
    enc, body = CORRUPT[case]
    url = await raw_server(_canned(_response(enc, body, chunked=chunked, chunk=4096)))
    async with aiohttp.ClientSession() as s:
        async with s.get(url + "/") as resp:
            assert resp.status == 200
            with pytest.raises(aiohttp.ClientPayloadError) as ei:
                await asyncio.wait_for(resp.read(), 10)
        assert ei.type is aiohttp.ClientPayloadError
        # The session is still usable afterwards.
        good = await raw_server(_canned(_response("gzip", gzip.compress(b"fine"))))
        async with s.get(good + "/") as resp:
            assert await resp.read() == b"fine"


# ---------------------------------------------------------------------------
# Accept-Encoding
# ---------------------------------------------------------------------------


def _expected_accept_encoding() -> bytes:
    if TARGET != "aiohttp":
        # aioxide decodes br and zstd itself, so it always offers them.
        return b"gzip, deflate, br, zstd"
    # Same rule as aiohttp.client_reqrep._gen_default_accept_encoding().
    enc = ["gzip", "deflate"]
    if _has_module("brotlicffi", "brotli"):
        enc.append("br")
    if _has_module("compression.zstd", "backports.zstd"):
        enc.append("zstd")
    return ", ".join(enc).encode()


@pytest.mark.parametrize("auto_decompress", [True, False])
async def test_default_accept_encoding(
    aiohttp: Any, raw_server: Any, auto_decompress: bool
) -> None:
    heads: list[bytes] = []
    url = await raw_server(_canned(_response(None, b"ok"), heads))
    s = aiohttp.ClientSession(auto_decompress=auto_decompress)
    async with s, s.get(url + "/") as resp:
        assert await resp.read() == b"ok"
    assert len(heads) == 1
    assert _header_values(heads[0], b"Accept-Encoding") == [_expected_accept_encoding()]


async def test_explicit_accept_encoding_replaces_default(aiohttp: Any, raw_server: Any) -> None:
    heads: list[bytes] = []
    url = await raw_server(_canned(_response(None, b"ok"), heads))
    s = aiohttp.ClientSession()
    async with s, s.get(url + "/", headers={"Accept-Encoding": "identity"}) as resp:
        assert await resp.read() == b"ok"
    s = aiohttp.ClientSession(headers={"accept-encoding": "gzip"})
    async with s, s.get(url + "/") as resp:
        assert await resp.read() == b"ok"
    assert _header_values(heads[0], b"Accept-Encoding") == [b"identity"]
    assert _header_values(heads[1], b"Accept-Encoding") == [b"gzip"]


async def test_round_trip_with_compressing_server(aiohttp: Any, serve: Any) -> None:
    # A real server that compresses according to the client's Accept-Encoding.
    async def handler(request: web.Request) -> web.Response:
        resp = web.Response(body=PAYLOAD)
        resp.enable_compression()
        return resp

    app = web.Application()
    app.router.add_get("/", handler)
    url = await serve(app)
    async with aiohttp.ClientSession() as s, s.get(url + "/") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Encoding"] in ("gzip", "deflate", "br", "zstd")
        assert await resp.read() == PAYLOAD


@pytest.mark.skipif(
    TARGET == "aiohttp", reason="aiohttp returns a truncated br/zstd body as if complete"
)
@pytest.mark.parametrize("codec", ["br", "zstd"])
async def test_truncated_br_and_zstd_raise_payload_error(
    aiohttp: Any, raw_server: Any, codec: str
) -> None:
    if codec == "br":
        brotli = pytest.importorskip("brotli")
        body = brotli.compress(PAYLOAD)
    else:
        body = _zstd_compress()(PAYLOAD)
    # A complete Content-Length framing around half a compressed stream.
    url = await raw_server(_canned(_response(codec, body[: len(body) // 2])))
    async with aiohttp.ClientSession() as s, s.get(url + "/") as resp:
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()


def _streaming_compressors() -> dict[str, Callable[[bytes], bytes]]:
    """Each coding's streaming compressor, as servers use them: compress()
    then flush(), which can leave a large output behind a tiny input."""
    out: dict[str, Callable[[bytes], bytes]] = {
        "gzip": lambda b: (lambda c: c.compress(b) + c.flush())(zlib.compressobj(wbits=31)),
        "deflate": lambda b: (lambda c: c.compress(b) + c.flush())(zlib.compressobj()),
    }
    for name in ("compression.zstd", "backports.zstd"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        out["zstd"] = lambda b, m=mod: (lambda c: c.compress(b) + c.flush())(m.ZstdCompressor())
        break
    if _has_module("brotli"):
        import brotli

        out["br"] = lambda b: (lambda c: c.process(b) + c.finish())(brotli.Compressor())
    return out


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
@pytest.mark.parametrize("chunked", [False, True])
async def test_highly_compressible_body_read_in_small_pieces(
    aiohttp: Any, raw_server: Any, coding: str, chunked: bool
) -> None:
    # 2 MiB of one byte compresses to a few hundred bytes: the decoder's output
    # buffer fills many times from one input piece; none of that is the end.
    compressors = _streaming_compressors()
    if coding not in compressors:
        pytest.skip(f"no {coding} compressor here")
    plain = b"a" * (2 * 1024 * 1024)
    body = compressors[coding](plain)
    url = await raw_server(_canned(_response(coding, body, chunked=chunked, chunk=64)))
    async with aiohttp.ClientSession() as s, s.get(url + "/") as resp:
        got = bytearray()
        async for piece in resp.content.iter_chunked(1024):
            assert len(piece) <= 1024
            got += piece
        assert len(got) == len(plain) and bytes(got) == plain
    async with aiohttp.ClientSession() as s, s.get(url + "/") as resp:
        assert await resp.read() == plain
