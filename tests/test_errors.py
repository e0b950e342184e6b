"""Client error classes for network failures and malformed responses.

Every case checks (a) the exact public exception class aiohttp 3.14.5 raises, (b) that
it is raised promptly, and (c) that the same session then serves a good request to the
same server (the pool is not poisoned by the failed connection).

Reference behaviour (aiohttp 3.14.5, C parser), see also the module docstrings below:

* malformed status line / headers / framing headers -> exactly ``ClientResponseError``
  (status 400) raised by ``session.get()`` itself, chained
  ``from http_exceptions.HttpProcessingError`` (itself caused by the specific
  BadStatusLine / BadHttpMessage / LineTooLong);
* body cut short by the peer -> ``ClientPayloadError`` from ``resp.read()``, caused by
  http_exceptions.ContentLengthError / TransferEncodingError;
* peer closes before answering -> ``ServerDisconnectedError``;
* peer resets before answering -> ``ClientOSError`` (errno ECONNRESET);
* connection refused -> ``ClientConnectorError`` (os_error ConnectionRefusedError);
* name resolution failure -> ``ClientConnectorDNSError`` (os_error socket.gaierror);
* bad / non-HTTP URL -> ``InvalidUrlClientError`` / ``NonHttpUrlClientError``.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import struct
import time
from typing import Any

import pytest
from yarl import URL

from conftest import TARGET, read_request_head

PROMPT = 10.0  # seconds: an error must surface well within this
GOOD = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood"


def _abort_with_rst(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _server(bad: bytes, *, hold: bool, state: dict[str, Any] | None = None, rst: bool = False):
    """Raw server: ``/good`` gets a proper keep-alive answer; any other path gets the
    ``bad`` bytes, after which the server either holds the connection open until the
    client closes it (``hold``), resets it (``rst``) or closes it."""
    st = state if state is not None else {}
    st.setdefault("bad_closed", asyncio.Event())

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await read_request_head(reader)
            except asyncio.IncompleteReadError:
                return
            if head.split(b" ", 2)[1] == b"/good":
                writer.write(GOOD)
                await writer.drain()
                continue
            if bad:
                writer.write(bad)
                await writer.drain()
            if rst:
                await asyncio.sleep(0.1)
                _abort_with_rst(writer)
                return
            if hold:
                try:
                    await reader.read()  # until the client closes the connection
                finally:
                    st["bad_closed"].set()
            return

    return handler


async def _assert_session_still_works(s: Any, base: str) -> None:
    async with s.get(base + "/good") as resp:
        assert resp.status == 200
        assert await resp.read() == b"good"


# ---------------------------------------------------------------------------
# malformed response heads: ClientResponseError(status=400) from session.get()
# ---------------------------------------------------------------------------

_many_headers = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 20) for i in range(200))

HEAD_ERRORS = {
    "garbage_status_line": b"GARBAGE\r\n\r\n",
    "non_numeric_status_code": b"HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n",
    "two_different_content_lengths": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"
    ),
    # aiohttp rejects a repeated Content-Length even when the values agree.
    "two_identical_content_lengths": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"
    ),
    "content_length_and_chunked": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\n"
    ),
    "non_numeric_content_length": b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
    "negative_content_length": b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    "header_line_too_long": (
        b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 9000 + b"\r\nContent-Length: 0\r\n\r\n"
    ),
    "status_line_too_long": b"HTTP/1.1 200 " + b"O" * 9000 + b"\r\nContent-Length: 0\r\n\r\n",
    "header_without_colon": b"HTTP/1.1 200 OK\r\nBadHeader\r\nContent-Length: 0\r\n\r\n",
    # aiohttp's limit is 128 header fields.
    "too_many_headers": b"HTTP/1.1 200 OK\r\n" + _many_headers + b"Content-Length: 0\r\n\r\n",
}


@pytest.mark.parametrize("bad", list(HEAD_ERRORS.values()), ids=list(HEAD_ERRORS))
async def test_malformed_head_raises_client_response_error(
    aiohttp: Any, raw_server: Any, bad: bytes
) -> None:
    state: dict[str, Any] = {}
    # The server keeps the connection open: the error must come from parsing the
    # bytes, not from the connection closing.
    base = await raw_server(_server(bad, hold=True, state=state))
    async with aiohttp.ClientSession() as s:
        t0 = time.monotonic()
        with pytest.raises(aiohttp.ClientResponseError) as ei:
            await asyncio.wait_for(s.get(base + "/bad"), PROMPT)
        assert time.monotonic() - t0 < PROMPT
        assert ei.type is aiohttp.ClientResponseError
        assert ei.value.status == 400
        assert ei.value.request_info.url == URL(base + "/bad")
        assert ei.value.request_info.method == "GET"
        # The broken connection is closed, not returned to the pool.
        await asyncio.wait_for(state["bad_closed"].wait(), 5)
        await _assert_session_still_works(s, base)


async def test_invalid_chunk_size_raises(aiohttp: Any, raw_server: Any) -> None:
    # Head and broken chunked framing arrive together: aiohttp 3.14.5 fails the whole
    # response with ClientResponseError(400) (raised from session.get()); when the bad
    # chunk comes later its read() hangs.  aioxide always answers the head and raises
    # ClientPayloadError from read(), whenever the bad chunk arrives.
    bad = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
    base = await raw_server(_server(bad, hold=True))
    expected = aiohttp.ClientResponseError if TARGET == "aiohttp" else aiohttp.ClientPayloadError
    async with aiohttp.ClientSession() as s:
        with pytest.raises(expected) as ei:

            async def go() -> None:
                async with s.get(base + "/bad") as resp:
                    await resp.read()

            await asyncio.wait_for(go(), PROMPT)
        assert ei.type is expected
        if TARGET == "aiohttp":
            assert ei.value.status == 400
        await _assert_session_still_works(s, base)


async def test_long_header_and_many_headers_within_limits_are_accepted(
    aiohttp: Any, raw_server: Any
) -> None:
    value = b"a" * 8000
    headers = b"".join(b"X-H%d: %d\r\n" % (i, i) for i in range(120))
    ok = b"HTTP/1.1 200 OK\r\nX-Long: " + value + b"\r\n" + headers + b"Content-Length: 2\r\n\r\nok"
    base = await raw_server(_server(ok, hold=True))
    async with aiohttp.ClientSession() as s, s.get(base + "/fits") as resp:
        assert resp.status == 200
        assert resp.headers["X-Long"] == value.decode()
        assert resp.headers["X-H119"] == "119"
        assert len(resp.headers) == 122
        assert await resp.read() == b"ok"


# ---------------------------------------------------------------------------
# truncated bodies: ClientPayloadError from resp.read()
# ---------------------------------------------------------------------------

PAYLOAD_ERRORS = {
    "content_length_body_cut": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc",
    "chunked_closed_before_last_chunk": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"
    ),
    "chunked_closed_mid_chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
}


_CUT = "Response payload is not completed: "
# What each says, as aiohttp's parser words it (logged and searched for).
PAYLOAD_MESSAGES = {
    "content_length_body_cut": _CUT + "<ContentLengthError: 400, message='Not enough data to "
    "satisfy content length header (received 3 of 100 bytes).'>",
    "chunked_closed_before_last_chunk": _CUT + "<TransferEncodingError: 400, message='Not "
    "enough data to satisfy transfer length header.'>",
    "chunked_closed_mid_chunk": _CUT + "<TransferEncodingError: 400, message='Not enough data "
    "to satisfy transfer length header.'>",
}


@pytest.mark.parametrize("case", list(PAYLOAD_ERRORS))
async def test_truncated_body_raises_payload_error(
    aiohttp: Any, raw_server: Any, case: str
) -> None:
    bad = PAYLOAD_ERRORS[case]
    base = await raw_server(_server(bad, hold=False))
    async with aiohttp.ClientSession() as s:
        t0 = time.monotonic()
        async with s.get(base + "/bad") as resp:
            assert resp.status == 200
            with pytest.raises(aiohttp.ClientPayloadError) as ei:
                await asyncio.wait_for(resp.read(), PROMPT)
        assert time.monotonic() - t0 < PROMPT
        assert ei.type is aiohttp.ClientPayloadError
        assert str(ei.value) == PAYLOAD_MESSAGES[case]
        await _assert_session_still_works(s, base)


async def test_reset_mid_body_raises_payload_error(aiohttp: Any, raw_server: Any) -> None:
    bad = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc"
    base = await raw_server(_server(bad, hold=False, rst=True))
    async with aiohttp.ClientSession() as s:
        async with s.get(base + "/bad") as resp:
            assert resp.status == 200
            with pytest.raises(aiohttp.ClientPayloadError) as ei:
                await asyncio.wait_for(resp.read(), PROMPT)
        assert ei.type is aiohttp.ClientPayloadError
        await _assert_session_still_works(s, base)


# ---------------------------------------------------------------------------
# peer goes away before answering
# ---------------------------------------------------------------------------


async def test_server_closes_without_answering(aiohttp: Any, raw_server: Any) -> None:
    base = await raw_server(_server(b"", hold=False))
    async with aiohttp.ClientSession() as s:
        t0 = time.monotonic()
        with pytest.raises(aiohttp.ServerDisconnectedError) as ei:
            await asyncio.wait_for(s.get(base + "/bad"), PROMPT)
        assert time.monotonic() - t0 < PROMPT
        assert ei.type is aiohttp.ServerDisconnectedError
        assert isinstance(ei.value, aiohttp.ServerConnectionError)
        assert isinstance(ei.value, aiohttp.ClientConnectionError)
        assert not isinstance(ei.value, aiohttp.ClientResponseError)
        await _assert_session_still_works(s, base)


async def test_server_resets_without_answering(aiohttp: Any, raw_server: Any) -> None:
    base = await raw_server(_server(b"", hold=False, rst=True))
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientOSError) as ei:
            await asyncio.wait_for(s.get(base + "/bad"), PROMPT)
        assert ei.type is aiohttp.ClientOSError
        assert isinstance(ei.value, OSError)
        assert isinstance(ei.value, aiohttp.ClientConnectionError)
        assert ei.value.errno == errno.ECONNRESET
        await _assert_session_still_works(s, base)


# ---------------------------------------------------------------------------
# bodies delimited by connection close (no Content-Length, no chunking)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", [b"HTTP/1.1", b"HTTP/1.0"])
async def test_body_read_until_close(aiohttp: Any, raw_server: Any, version: bytes) -> None:
    body = bytes(range(256)) * 400  # 100 KiB, sent in several writes

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await read_request_head(reader)
            except asyncio.IncompleteReadError:
                return
            if head.split(b" ", 2)[1] == b"/good":
                writer.write(GOOD)
                await writer.drain()
                continue
            writer.write(version + b" 200 OK\r\n\r\n")
            for i in range(0, len(body), 16384):
                writer.write(body[i : i + 16384])
                await writer.drain()
            return  # closing the connection ends the body

    base = await raw_server(handler)
    async with aiohttp.ClientSession() as s:
        async with s.get(base + "/stream") as resp:
            assert resp.status == 200
            assert "Content-Length" not in resp.headers
            got = await asyncio.wait_for(resp.read(), PROMPT)
        assert got == body
        await _assert_session_still_works(s, base)


# ---------------------------------------------------------------------------
# connect-phase errors
# ---------------------------------------------------------------------------


async def test_connection_refused(aiohttp: Any, raw_server: Any, unused_port: int) -> None:
    good = await raw_server(_server(b"", hold=False))
    async with aiohttp.ClientSession() as s:
        t0 = time.monotonic()
        with pytest.raises(aiohttp.ClientConnectorError) as ei:
            await asyncio.wait_for(s.get(f"http://127.0.0.1:{unused_port}/"), PROMPT)
        assert time.monotonic() - t0 < PROMPT
        e = ei.value
        assert ei.type is aiohttp.ClientConnectorError
        assert not isinstance(e, aiohttp.ClientConnectorDNSError)
        assert isinstance(e, aiohttp.ClientOSError)
        assert isinstance(e, aiohttp.ClientConnectionError)
        assert isinstance(e, OSError)
        assert e.host == "127.0.0.1"
        assert e.port == unused_port
        assert isinstance(e.os_error, ConnectionRefusedError)
        assert e.errno == errno.ECONNREFUSED
        # The key's ssl is the request's ssl= (True by default), http too.
        assert e.ssl is True
        assert str(e).startswith(f"Cannot connect to host 127.0.0.1:{unused_port} ssl:default [")
        await _assert_session_still_works(s, good)


async def test_dns_failure(aiohttp: Any, raw_server: Any) -> None:
    # RFC 6761: ".invalid" never resolves; the local resolver answers NXDOMAIN.
    good = await raw_server(_server(b"", hold=False))
    async with aiohttp.ClientSession() as s:
        t0 = time.monotonic()
        with pytest.raises(aiohttp.ClientConnectorDNSError) as ei:
            await asyncio.wait_for(s.get("http://nonexistent.invalid/"), PROMPT)
        assert time.monotonic() - t0 < PROMPT
        e = ei.value
        assert ei.type is aiohttp.ClientConnectorDNSError
        assert isinstance(e, aiohttp.ClientConnectorError)
        assert isinstance(e, aiohttp.ClientOSError)
        assert isinstance(e, OSError)
        assert e.host == "nonexistent.invalid"
        assert e.port == 80
        assert isinstance(e.os_error, socket.gaierror)
        await _assert_session_still_works(s, good)


# ---------------------------------------------------------------------------
# URL validation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://", "http:///path", "/relative", "example.com", ""])
async def test_invalid_url(aiohttp: Any, raw_server: Any, url: str) -> None:
    good = await raw_server(_server(b"", hold=False))
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.InvalidUrlClientError) as ei:
            await asyncio.wait_for(s.get(url), PROMPT)
        assert ei.type is aiohttp.InvalidUrlClientError
        assert isinstance(ei.value, aiohttp.InvalidURL)
        assert isinstance(ei.value, aiohttp.ClientError)
        assert isinstance(ei.value, ValueError)
        assert ei.value.url == URL(url)
        await _assert_session_still_works(s, good)


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "mailto:a@b.c"])
async def test_non_http_url(aiohttp: Any, raw_server: Any, url: str) -> None:
    good = await raw_server(_server(b"", hold=False))
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.NonHttpUrlClientError) as ei:
            await asyncio.wait_for(s.get(url), PROMPT)
        assert ei.type is aiohttp.NonHttpUrlClientError
        assert isinstance(ei.value, aiohttp.ClientError)
        assert not isinstance(ei.value, aiohttp.InvalidURL)
        await _assert_session_still_works(s, good)
