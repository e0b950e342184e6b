"""HTTP/1.1 response parsing, checked against llhttp's response fixtures.

Each of the 84 raw responses in tests/data/llhttp/response-cases.json (read at
test time) is served by a loopback
socket to one ``GET /`` from a fresh ClientSession (ClientTimeout(total=10),
allow_redirects=False), then the connection is closed.  Eight messages of our own
(``own_*``) add what those fixtures lack: a message framed two ways (differing
Content-Lengths, Content-Length with Transfer-Encoding).  Per case:

* the request ends (no hang: asyncio.wait_for on top of the client timeout), either with a
  response whose ``read()`` completes or with a ``ClientError`` (not a TimeoutError, not
  any other exception, not a pyo3 panic);
* a message llhttp's strict mode rejects may only be accepted if ACCEPTED_DIFFERENCES says
  why, and a message llhttp accepts may only be rejected if REJECTED_DIFFERENCES says why
  (both checked exactly, so a change either way fails); a response that arrives over a
  later connection (the client retried) is not an acceptance of the case;
* a Content-Length (or chunked body) cut short by the close raises ClientPayloadError;
* an accepted response has the status and body of an independent reference decoder
  (``reference`` below: RFC 9112 section 6.3 framing, Content-Length / chunked / close);
* where the framing is ambiguous (differing Content-Lengths, Content-Length with
  Transfer-Encoding, a Transfer-Encoding not ending in a single ``chunked``, obs-fold in
  those fields, a bare CR in the head, a 101) and the client accepts the response, the
  server keeps that connection open for a second and then half-closes it, and a second
  request must reach it over a new connection with nothing written on the first.

``AIOXIDE_TEST_TARGET=aiohttp`` runs the same cases against aiohttp 3.14.5 (its own
difference tables are AIOHTTP_*).  Where the two clients differ:

ResponseError = ClientResponseError, PayloadError = ClientPayloadError; (E): llhttp's strict
mode rejects the message, (L): only a lenient llhttp mode accepts it.

=====================================================  ===================  =================
case                                                   aioxide              aiohttp
=====================================================  ===================  =================
connection: keep-alive disabled and 204 status (E),    204, b""             ResponseError
the same (lenient) (L)
connection: keep-alive disabled, content-length (E),   200, b"2ad73"        ResponseError
the same (lenient) (L)
invalid: Invalid space after start line (E)            ResponseError        retries the GET
(status line, CRLF, `` Host: foo``, close)                                  on a new conn.
sample: RTSP response, ICE response, HTTP version 0.9  ResponseError        200, b""
sample: Google 301 (219-byte body, then stray text)    301, the 219 bytes   ResponseError
transfer-encoding: No extension after semicolon (E)    200, b"aa"           ResponseError
transfer-encoding: No semicolon before chunk           PayloadError         ResponseError
extensions (E), Unbalanced chunk extensions quoting
(E)
=====================================================  ===================  =================

aiohttp's "Data after `Connection: close`" errors come from running llhttp without its
lenient data-after-close flag; its retry is the RFC 9112 section 9.3.1 retry of an
idempotent request after ServerDisconnectedError.  Everything else is the same in both:
outcome, exception class, status and body (the ClientPayloadError messages differ:
aioxide says "error reading a body from connection", aiohttp names the byte counts).
Both accept a 101 with an empty body and a fresh connection afterwards, bare-LF line
endings, and whitespace after a chunk size; both reject a bare CR and HTTP/5.6, and raise
ClientPayloadError for the three truncated Content-Length bodies (including the
``103 Early Hints`` case, whose 200 has Content-Length 17 and 16 body bytes) and for the
chunked body whose last chunk lacks the final CRLF.  Neither reuses a connection after
any ambiguous framing.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import TARGET, read_request_head

CASES_PATH = Path(__file__).resolve().parent / "data" / "llhttp" / "response-cases.json"

HANG_LIMIT = 20.0  # seconds; ClientTimeout(total=10) must have fired long before this
HOLD_OPEN = 1.0  # ambiguous framing: seconds connection 1 stays open after the raw bytes
REUSE_WINDOW = 2.0  # then how long it stays half-open to catch a reused connection
OK_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def _case_id(entry: dict[str, Any]) -> str:
    stem = Path(entry["file"]).stem
    return re.sub(r"[^0-9a-z]+", "_", f"{stem}-{entry['title']}".lower()).strip("_")


def _load_cases() -> list[dict[str, Any]]:
    entries = json.loads(CASES_PATH.read_text(encoding="utf-8"))
    cases = []
    for entry in entries:
        cases.append({**entry, "id": _case_id(entry), "data": entry["raw"].encode("latin-1")})
    ids = [c["id"] for c in cases]
    assert len(set(ids)) == len(ids), "case ids are not unique"
    return cases


CASES = _load_cases()


def _own(title: str, raw: bytes) -> dict[str, Any]:
    # llhttp's strict mode rejects every one of these (duplicate Content-Length, a list
    # in Content-Length, Content-Length with Transfer-Encoding: HPE_UNEXPECTED_CONTENT_LENGTH
    # / HPE_INVALID_CONTENT_LENGTH); aiohttp, which runs llhttp, rejects them all too.
    cid = "own_" + re.sub(r"[^0-9a-z]+", "_", title.lower()).strip("_")
    return {"id": cid, "title": title, "data": raw, "error": True, "lenient": False}


_CL_TE = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n"
OWN_CASES = [
    _own(
        "differing Content-Length 3 then 5",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde",
    ),
    _own(
        "differing Content-Length 5 then 3",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 3\r\n\r\nabcde",
    ),
    _own("differing Content-Length list", b"HTTP/1.1 200 OK\r\nContent-Length: 3, 5\r\n\r\nabcde"),
    _own(
        "identical duplicate Content-Length",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
    ),
    _own("identical Content-Length list", b"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc"),
    _own("Content-Length shorter than chunked", _CL_TE % 3 + b"3\r\nabc\r\n0\r\n\r\n"),
    _own("Content-Length longer than chunked", _CL_TE % 13 + b"3\r\nabc\r\n0\r\n\r\n"),
    _own(
        "Transfer-Encoding then Content-Length",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 100\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\n",
    ),
]
CASES_BY_ID = {c["id"]: c for c in CASES + OWN_CASES}
assert len(CASES_BY_ID) == len(CASES) + len(OWN_CASES), "case ids are not unique"


def _strict_error(case: dict[str, Any]) -> bool:
    """llhttp's strict mode rejects the message."""
    return bool(case["error"]) and not case["lenient"]


# --- What the client under test is documented to do differently from llhttp -------------

# Cases llhttp's strict mode rejects (error and not lenient) that the client accepts anyway.
# The set of accepted strict-error cases must match exactly (per target).
_AFTER_CLOSE = (
    "Connection: close, then bytes after the framed message: the response is complete "
    "as framed and the stray bytes are dropped with the connection (llhttp's lenient "
    "data-after-close mode accepts it too)"
)
_UPGRADE = (
    "101 to a request that offered no Upgrade: returned as-is with an empty body "
    "(checked); the bytes after the head are not read as HTTP and the connection is "
    "not reused (checked: the next request goes over a new connection)"
)
_BARE_LF = (
    "lines end in a bare LF, which RFC 9112 section 2.2 lets a recipient accept; the body "
    "is checked against the reference decoder"
)
_CHUNK_SIZE_WS = (
    "whitespace after the chunk size; the size is unambiguous and the body is checked "
    "(aiohttp turns on llhttp's lenient_spaces_after_chunk_size)"
)
ACCEPTED_DIFFERENCES: dict[str, str] = {
    "connection_http_1_1_with_keep_alive_disabled_and_204_status": _AFTER_CLOSE,
    "connection_http_1_1_with_keep_alive_disabled_content_length": _AFTER_CLOSE,
    "connection_http_101_response_with_upgrade_and_content_length_header": _UPGRADE,
    "connection_http_101_response_with_upgrade_and_transfer_encoding_header": _UPGRADE,
    "invalid_only_lfs_present_and_no_body": _BARE_LF,
    "invalid_only_lfs_present": _BARE_LF,
    "sample_no_carriage_ret": _BARE_LF,
    "transfer_encoding_trailing_space_on_chunked_body": _CHUNK_SIZE_WS,
    "transfer_encoding_no_extension_after_semicolon": (
        "'2;' (a ';' with no extension name): hyper skips chunk extensions without "
        "validating them; the size is unambiguous and the body is checked"
    ),
}

# The same, for the reference run against aiohttp (AIOXIDE_TEST_TARGET=aiohttp).
AIOHTTP_ACCEPTED_DIFFERENCES: dict[str, str] = {
    "connection_http_101_response_with_upgrade_and_content_length_header": _UPGRADE,
    "connection_http_101_response_with_upgrade_and_transfer_encoding_header": _UPGRADE,
    "invalid_only_lfs_present_and_no_body": _BARE_LF,
    "invalid_only_lfs_present": _BARE_LF,
    "sample_no_carriage_ret": _BARE_LF,
    "transfer_encoding_trailing_space_on_chunked_body": _CHUNK_SIZE_WS,
}

# Cases llhttp accepts (strictly or in a lenient mode) with a complete body, or cannot be
# framed by the reference, that the client rejects with a ClientError.  Also checked
# exactly, so a change either way is noticed.  (Truncated bodies must be rejected.)
_BARE_CR = "a bare CR in the head; RFC 9112 section 2.2 allows rejecting the message"
_NOT_HTTP_1 = "not an HTTP/1.0 or HTTP/1.1 status line (hyper's parser accepts only those)"
REJECTED_DIFFERENCES: dict[str, str] = {
    "invalid_bare_cr_after_response_line_lenient": _BARE_CR,
    "lenient_version_invalid_http_version_lenient": _NOT_HTTP_1,
    "sample_rtsp_response": _NOT_HTTP_1,
    "sample_ice_response": _NOT_HTTP_1,
    "sample_http_version_0_9": _NOT_HTTP_1,
}
_AIOHTTP_AFTER_CLOSE = (
    "aiohttp's llhttp runs without lenient data-after-close: 'Data after `Connection: close`'"
)
AIOHTTP_REJECTED_DIFFERENCES: dict[str, str] = {
    "connection_http_1_1_with_keep_alive_disabled_content_length_lenient": _AIOHTTP_AFTER_CLOSE,
    "connection_http_1_1_with_keep_alive_disabled_and_204_status_lenient": _AIOHTTP_AFTER_CLOSE,
    "invalid_bare_cr_after_response_line_lenient": _BARE_CR,
    "lenient_version_invalid_http_version_lenient": "HTTP/5.6: 'Invalid HTTP version'",
    "sample_google_301": (
        "aiohttp parses the bytes after the complete 219-byte body as a pipelined "
        "response and fails the whole response with 'Bad status line'"
    ),
}

if TARGET == "aiohttp":
    EXPECTED_ACCEPTED, EXPECTED_REJECTED = (
        AIOHTTP_ACCEPTED_DIFFERENCES,
        AIOHTTP_REJECTED_DIFFERENCES,
    )
else:
    EXPECTED_ACCEPTED, EXPECTED_REJECTED = ACCEPTED_DIFFERENCES, REJECTED_DIFFERENCES


# --- Independent reference framing (RFC 9112), deliberately small and strict ------------

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: [^\r\n]*)?")
_HEADER = re.compile(rb"(" + _TOKEN + rb"):[ \t]*(.*?)[ \t]*")
_QUOTED = rb'"(?:[^"\\\r\n]|\\.)*"'
_CHUNK_EXT = rb"(?:[ \t]*;[ \t]*" + _TOKEN + rb"(?:[ \t]*=[ \t]*(?:" + _TOKEN + rb"|" + _QUOTED
_CHUNK_EXT += rb"))?)*"
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]+)(" + _CHUNK_EXT + rb")")
# Lenient: whitespace after the size, anything after a ';' (for accepted differences only).
_CHUNK_SIZE_LENIENT = re.compile(rb"([0-9A-Fa-f]+)[ \t]*(;[^\r\n]*)?")


@dataclass
class Expect:
    """What a correct client does with the first final response to GET /.

    kind "body": return ``body``; "truncated": raise ClientPayloadError; "trailer-incomplete"
    (a chunked body whose last chunk lacks the final CRLF): either.
    """

    status: int
    kind: str  # "body" | "truncated" | "trailer-incomplete"
    body: bytes


@dataclass
class Head:
    status: int
    headers: list[tuple[bytes, bytes]]
    end: int  # offset of the first body byte
    folded: set[bytes]  # lower-cased names of fields continued by obs-fold


def _parse_head(data: bytes, pos: int) -> Head | None:
    """One status line + header section from data[pos:]; None if malformed or incomplete.

    A line may end in CRLF or a bare LF (RFC 9112 section 2.2); a bare CR anywhere in
    the head makes it malformed.
    """
    lines: list[bytes] = []
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            return None
        line = data[pos:nl]
        pos = nl + 1
        if line.endswith(b"\r"):
            line = line[:-1]
        if b"\r" in line:
            return None
        if not line:
            break
        lines.append(line)
    if not lines:
        return None
    m = _STATUS_LINE.fullmatch(lines[0])
    if m is None:
        return None
    headers: list[tuple[bytes, bytes]] = []
    folded: set[bytes] = set()
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):
            if not headers:
                return None
            folded.add(headers[-1][0])
            continue
        h = _HEADER.fullmatch(line)
        if h is None:
            return None
        headers.append((h.group(1).lower(), h.group(2)))
    return Head(int(m.group(2)), headers, pos, folded)


def _codings(head: Head) -> list[bytes]:
    return [
        c.strip(b" \t").lower()
        for name, value in head.headers
        if name == b"transfer-encoding"
        for c in value.split(b",")
    ]


def _content_lengths(head: Head) -> list[bytes]:
    """All Content-Length values; a field may carry a comma-separated list."""
    return [
        v.strip(b" \t")
        for name, value in head.headers
        if name == b"content-length"
        for v in value.split(b",")
    ]


def _ambiguous_framing(data: bytes) -> str | None:
    """Why the first message's framing is ambiguous (read loosely from the raw text)."""
    head_end = re.search(rb"\r?\n\r?\n", data)
    head = data[: head_end.start() if head_end else len(data)]
    if re.match(rb"HTTP/1\.[01] 101[ \r\n]", head):
        return "101 Switching Protocols: what follows the head is not HTTP"
    if re.search(rb"\r(?!\n)", head):
        return "bare CR in the header section"
    fields: list[tuple[bytes, bytes]] = []
    for line in re.split(rb"\r?\n", head)[1:]:
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] = (fields[-1][0], fields[-1][1] + b" " + line.strip())
            if fields[-1][0] in (b"content-length", b"transfer-encoding"):
                return f"obs-fold continues {fields[-1][0].decode()}"
        elif b":" in line:
            name, _, value = line.partition(b":")
            fields.append((name.strip().lower(), value.strip(b" \t")))
    lengths = {
        v.strip(b" \t") for n, value in fields if n == b"content-length" for v in value.split(b",")
    }
    codings = [
        c.strip(b" \t").lower()
        for n, v in fields
        if n == b"transfer-encoding"
        for c in v.split(b",")
    ]
    if len(lengths) > 1:
        return "differing Content-Length values"
    if lengths and codings:
        return "Content-Length with Transfer-Encoding"
    if codings and (codings[-1] != b"chunked" or codings.count(b"chunked") != 1):
        return f"Transfer-Encoding {b', '.join(codings).decode()!r} does not end in one chunked"
    return None


def _decode_chunked(data: bytes, pos: int, lenient: bool) -> tuple[str, bytes] | None:
    size_line = _CHUNK_SIZE_LENIENT if lenient else _CHUNK_SIZE
    body = b""
    while True:
        nl = data.find(b"\r\n", pos)
        if nl < 0:
            return "truncated", body
        m = size_line.fullmatch(data[pos:nl])
        if m is None:
            return None
        size = int(m.group(1), 16)
        pos = nl + 2
        if size == 0:
            break
        if len(data) < pos + size + 2:
            return "truncated", body + data[pos : pos + size]
        if data[pos + size : pos + size + 2] != b"\r\n":
            return None
        body += data[pos : pos + size]
        pos += size + 2
    while True:  # trailer section, then the empty line
        nl = data.find(b"\r\n", pos)
        if nl < 0:
            return "trailer-incomplete", body
        if nl == pos:
            return "body", body
        pos = nl + 2


def reference(data: bytes, *, lenient: bool = False) -> Expect | None:
    """The first final response to GET /, framed per RFC 9112 section 6.3.

    Returns None where the message is malformed, ambiguous or not plain HTTP/1.x: a
    client may then reject it, and what it returns is not compared.  ``lenient`` lets
    malformed chunk-size lines through, to check what a client that accepts them returns.
    """
    pos = 0
    while True:
        while data.startswith(b"\r\n", pos):  # empty lines before a status line
            pos += 2
        head = _parse_head(data, pos)
        if head is None:
            return None
        if 100 <= head.status < 200 and head.status != 101:
            pos = head.end  # interim response: the final one follows
            continue
        break
    if head.status == 101:  # the connection leaves HTTP: no message body (RFC 9110 15.2.2)
        return Expect(101, "body", b"")
    if head.folded & {b"content-length", b"transfer-encoding"}:
        return None
    rest = data[head.end :]
    if head.status in (204, 304):
        return Expect(head.status, "body", b"")
    codings = _codings(head)
    lengths = _content_lengths(head)
    if codings:  # Transfer-Encoding overrides any Content-Length (rule 3)
        if codings != [b"chunked"]:
            return None
        decoded = _decode_chunked(data, head.end, lenient)
        if decoded is None:
            return None
        return Expect(head.status, *decoded)
    if lengths:
        if len(set(lengths)) != 1 or not lengths[0].isdigit():
            return None  # rule 5: invalid framing
        n = int(lengths[0])
        return Expect(head.status, "body" if len(rest) >= n else "truncated", rest[:n])
    return Expect(head.status, "body", rest)  # delimited by the server closing


def test_reference_decoder() -> None:
    chunked = b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;a="b;c"\r\nabc\r\n'
    assert reference(chunked + b"0\r\n\r\n") == Expect(200, "body", b"abc")
    assert reference(chunked + b"0\r\nX: y\r\n\r\n") == Expect(200, "body", b"abc")
    assert reference(chunked + b"0\r\n") == Expect(200, "trailer-incomplete", b"abc")
    assert reference(chunked + b"5\r\nde") == Expect(200, "truncated", b"abcde")
    assert reference(chunked.replace(b"3;", b"3 x;") + b"0\r\n\r\n") is None
    cl = b"HTTP/1.1 404 Nope\r\nContent-Length: 3\r\n\r\n"
    assert reference(cl + b"abcdef") == Expect(404, "body", b"abc")
    assert reference(cl + b"ab") == Expect(404, "truncated", b"ab")
    interim = b"HTTP/1.1 100 Continue\r\n\r\n\r\n"
    assert reference(interim + cl + b"xyz") == Expect(404, "body", b"xyz")
    assert reference(b"HTTP/1.0 200 OK\nA: b\n\nrest") == Expect(200, "body", b"rest")
    assert reference(b"HTTP/1.1 200 OK\rA: b\r\n\r\n") is None
    assert reference(b"HTTP/1.1 101 Up\r\nContent-Length: 2\r\n\r\nab") == Expect(101, "body", b"")
    assert reference(b"HTTP/1.1 304 OK\r\nContent-Length: 9\r\n\r\n") == Expect(304, "body", b"")
    assert reference(cl.replace(b"3", b"3\r\nContent-Length: 4") + b"abcd") is None
    assert reference(cl.replace(b"3", b"3 , 3") + b"abcd") == Expect(404, "body", b"abc")
    assert reference(cl.replace(b"3", b"3, 4") + b"abcd") is None
    lenient = chunked.replace(b'3;a="b;c"', b"3 \t") + b"0;\r\n\r\n"
    assert reference(lenient) is None
    assert reference(lenient, lenient=True) == Expect(200, "body", b"abc")
    assert _ambiguous_framing(cl.replace(b"3", b"3\r\nContent-Length: 4")) is not None
    assert _ambiguous_framing(cl.replace(b"3", b"3, 4")) is not None
    assert _ambiguous_framing(cl.replace(b"3", b"3\r\nTransfer-Encoding: chunked")) is not None
    assert _ambiguous_framing(cl.replace(b"3", b"3\r\ncontent-length: 3")) is None
    assert _ambiguous_framing(chunked) is None


def test_documented_differences_name_real_cases() -> None:
    for table in (ACCEPTED_DIFFERENCES, AIOHTTP_ACCEPTED_DIFFERENCES):
        for cid in table:
            assert cid in CASES_BY_ID and _strict_error(CASES_BY_ID[cid]), cid
    for table in (REJECTED_DIFFERENCES, AIOHTTP_REJECTED_DIFFERENCES):
        for cid in table:
            assert cid in CASES_BY_ID and not _strict_error(CASES_BY_ID[cid]), cid
            expect = reference(CASES_BY_ID[cid]["data"])
            assert expect is None or expect.kind == "body", cid


# --- The loopback server and the client side ---------------------------------------------


class _RawServer:
    """Connection 1 gets the raw case bytes, later ones a valid 200 "ok".

    After the raw bytes connection 1 stays open for ``hold_open`` seconds (0 unless the
    framing is ambiguous), so that a client which wrongly keeps the connection for reuse
    does reuse it, then it is half-closed (FIN) and read for REUSE_WINDOW more seconds.
    Whatever the client writes on it after the first request lands in ``reused``.
    """

    def __init__(self, data: bytes, hold_open: float = 0.0) -> None:
        self.data = data
        self.hold_open = hold_open
        self.connections = 0
        self.reused = bytearray()
        self.first_done = asyncio.Event()
        self.url = ""
        self._server: asyncio.AbstractServer | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/"

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for w in self._writers:
            w.close()
        await self._server.wait_closed()

    async def _watch(
        self, reader: asyncio.StreamReader, seconds: float, *, until_data: bool
    ) -> None:
        """Collect what the client writes for up to `seconds`; stop early at its EOF."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), left)
            except TimeoutError:
                return
            if not chunk:
                return
            self.reused += chunk
            if until_data:
                return

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        first = self.connections == 1
        self._writers.append(writer)
        try:
            if first:
                await read_request_head(reader)
                writer.write(self.data)
                await writer.drain()
                if self.hold_open:
                    await self._watch(reader, self.hold_open, until_data=True)
                if writer.can_write_eof():
                    writer.write_eof()
                await self._watch(reader, REUSE_WINDOW, until_data=False)
            else:
                while True:
                    await read_request_head(reader)
                    writer.write(OK_RESPONSE)
                    await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            if first:
                self.first_done.set()


@dataclass
class Outcome:
    status: int | None = None
    body: bytes | None = None
    error: BaseException | None = None
    retried: bool = False  # the response came over a later connection (a retry)

    @property
    def accepted(self) -> bool:
        """The client returned the response carried by the raw case bytes."""
        return self.error is None and not self.retried

    def describe(self) -> str:
        if self.error is None:
            retried = "retried on a new connection, got " if self.retried else ""
            return f"{retried}response {self.status} with body {self.body!r}"
        return f"{type(self.error).__module__}.{type(self.error).__qualname__}: {self.error}"


async def _get(client: Any, session: Any, url: str) -> Outcome:
    """GET url; a response whose body was read, or a ClientError. Anything else fails."""

    async def fetch() -> Outcome:
        try:
            async with session.get(url, allow_redirects=False) as resp:
                body = await resp.read()
                return Outcome(resp.status, body)
        except client.ClientError as exc:
            if isinstance(exc, asyncio.TimeoutError):
                pytest.fail(f"client timed out (hang) with {type(exc).__name__}: {exc}")
            return Outcome(error=exc)

    try:
        return await asyncio.wait_for(fetch(), HANG_LIMIT)
    except asyncio.TimeoutError as exc:
        pytest.fail(f"no outcome (hang): {type(exc).__name__}: {exc!r}")
    except BaseException as exc:  # a pyo3 PanicException is a BaseException
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        pytest.fail(f"raised a non-ClientError: {type(exc).__module__}.{type(exc).__name__}: {exc}")


async def _check_case(aiohttp: Any, case: dict[str, Any]) -> None:
    cid = case["id"]
    data: bytes = case["data"]
    ambiguous = _ambiguous_framing(data)
    strict_expect = reference(data)
    expect = strict_expect or reference(data, lenient=True)
    server = _RawServer(data, HOLD_OPEN if ambiguous else 0.0)
    await server.start()
    second: Outcome | None = None
    try:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            first = await _get(aiohttp, session, server.url)
            first.retried = server.connections > 1
            if ambiguous and first.accepted:
                second = await _get(aiohttp, session, server.url)
        if second is not None:
            await asyncio.wait_for(server.first_done.wait(), HOLD_OPEN + REUSE_WINDOW + 5)
    finally:
        await server.close()

    problems: list[str] = []
    if _strict_error(case):
        if first.accepted and cid not in EXPECTED_ACCEPTED:
            problems.append(
                "llhttp strict mode rejects this message but the client accepted it "
                "(not in ACCEPTED_DIFFERENCES)"
            )
        if not first.accepted and cid in EXPECTED_ACCEPTED:
            problems.append("listed in ACCEPTED_DIFFERENCES but the client now rejects it")
    elif strict_expect is None or strict_expect.kind == "body":  # truncation: see below
        if not first.accepted and cid not in EXPECTED_REJECTED:
            problems.append(
                "llhttp accepts this message but the client rejected it "
                "(not in REJECTED_DIFFERENCES)"
            )
        if first.accepted and cid in EXPECTED_REJECTED:
            problems.append("listed in REJECTED_DIFFERENCES but the client now accepts it")

    if strict_expect is not None and strict_expect.kind == "truncated":
        if not isinstance(first.error, aiohttp.ClientPayloadError):
            problems.append(
                f"body is truncated (only {len(strict_expect.body)} bytes sent): "
                "expected ClientPayloadError"
            )
    elif (
        strict_expect is not None
        and strict_expect.kind == "trailer-incomplete"
        and not first.accepted
        and not isinstance(first.error, aiohttp.ClientPayloadError)
    ):
        problems.append(
            "chunked message ends before its final CRLF: "
            "return the whole body or raise ClientPayloadError"
        )
    elif (
        expect is not None
        and first.accepted
        and (first.status, first.body) != (expect.status, expect.body)
    ):
        problems.append(f"expected response {expect.status} with body {expect.body!r}")

    if ambiguous and first.accepted:
        assert second is not None
        if server.reused:
            problems.append(
                f"framing is ambiguous ({ambiguous}) but the client then wrote "
                f"{bytes(server.reused)[:80]!r} on the same connection"
            )
        if server.connections != 2 or (second.status, second.body) != (200, b"ok"):
            problems.append(
                f"framing is ambiguous ({ambiguous}): the second request should get 200 "
                f"'ok' over a new connection; got {second.describe()} after "
                f"{server.connections} connection(s)"
            )

    assert not problems, (
        f"{cid}: raw={data[:200]!r}{'...' if len(data) > 200 else ''}\n"
        f"  llhttp: error={case['error']} lenient={case['lenient']}; "
        f"reference: {expect}; ambiguous framing: {ambiguous}\n"
        f"  client: {first.describe()}\n  - " + "\n  - ".join(problems)
    )


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
async def test_response_case(aiohttp: Any, case: dict[str, Any]) -> None:
    await _check_case(aiohttp, case)


@pytest.mark.parametrize("case", OWN_CASES, ids=[c["id"] for c in OWN_CASES])
async def test_own_framing_case(aiohttp: Any, case: dict[str, Any]) -> None:
    """The README's "framed two ways" rule; none of llhttp's response fixtures has one."""
    await _check_case(aiohttp, case)
