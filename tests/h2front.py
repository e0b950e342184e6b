"""A test-only HTTP/2 front: h2c (prior knowledge) on 127.0.0.1:<free port>,
each stream relayed to an HTTP/1.1 origin (an aiohttp.web app) over its own
raw asyncio connection, and the answer relayed back.

What it does, as a reverse proxy would: ``:authority`` becomes ``Host``,
split ``cookie`` fields are joined again (RFC 9113 8.2.3), a request body of
unknown length goes chunked; the answer's fields are lower-cased and the
connection-specific ones dropped, its body (Content-Length, chunked or up to
EOF, 1xx answers skipped) streamed back under HTTP/2 flow control.  An origin
that breaks off in the middle of a body resets the stream (the h2 way to say
"truncated"); a client's reset closes the origin connection.  Bodies flow in
both directions with back-pressure: request data is acknowledged (the window
reopened) only once written to the origin, response data is sent only within
the peer's window.  Trailers and server push are not supported.  Every wait
is bounded by ``TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    Event,
    RemoteSettingsChanged,
    RequestReceived,
    StreamEnded,
    StreamReset,
    WindowUpdated,
)
from h2.exceptions import ProtocolError, StreamClosedError

TIMEOUT = 30.0  # bound on any single wait (a test's own timeouts are shorter)
READ_SIZE = 65536
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"upgrade",
        b"te",
        b"trailer",
    }
)


class UpstreamError(Exception):
    """The origin's answer ended early or could not be parsed."""


_RELAY_ERRORS = (
    UpstreamError,
    ValueError,
    ProtocolError,
    OSError,
    asyncio.TimeoutError,
    asyncio.IncompleteReadError,
    asyncio.LimitOverrunError,
)


@dataclass
class _Stream:
    """One request stream: its body queue (None = end) and its relay task."""

    body: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    ended_with_headers: bool = False
    unacked: int = 0  # received, not yet passed on: the window stays closed for it
    task: asyncio.Task[None] | None = None
    origin: asyncio.StreamWriter | None = None  # the relay's origin connection


class H2Front:
    """The listening front for one origin (host, port); ``url`` once started.

    ``H2Front.total_relayed`` counts the streams every front relayed (the
    suite's proof that a test went over HTTP/2)."""

    total_relayed = 0

    def __init__(self, origin_host: str, origin_port: int) -> None:
        self.origin = (origin_host, origin_port)
        self.streams_relayed = 0
        self._server: asyncio.AbstractServer | None = None
        self._conns: set[_Conn] = set()

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Conn(self, reader, writer)
        self._conns.add(conn)
        try:
            await conn.run()
        finally:
            self._conns.discard(conn)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._conns):
            await conn.abort()
        if self._server is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), TIMEOUT)


class _Conn:
    """One client connection: the h2 state machine and its streams."""

    def __init__(
        self, front: H2Front, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.front = front
        self.reader = reader
        self.writer = writer
        config = H2Configuration(client_side=False, header_encoding=None)
        self.h2 = H2Connection(config=config)
        self.streams: dict[int, _Stream] = {}
        self.window_open = asyncio.Event()

    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data and not self.writer.is_closing():
            self.writer.write(data)

    async def run(self) -> None:
        self.h2.initiate_connection()
        self.flush()
        try:
            while True:
                data = await self.reader.read(READ_SIZE)
                if not data:
                    break
                try:
                    events = self.h2.receive_data(data)
                except ProtocolError:
                    self.flush()
                    break
                if not all(self._on_event(e) for e in events):
                    break
                self.flush()
        except ConnectionError:
            pass
        finally:
            await self.abort()

    async def abort(self) -> None:
        for stream in list(self.streams.values()):
            if stream.task is not None:
                stream.task.cancel()
        tasks = [s.task for s in self.streams.values() if s.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=TIMEOUT)
        self.streams.clear()
        self.writer.close()

    def _on_event(self, event: Event) -> bool:
        """Handle one event; False when the connection is over."""
        if isinstance(event, RequestReceived):
            stream = self.streams[event.stream_id] = _Stream()
            relay = _Relay(self, event.stream_id, stream, list(event.headers or ()))
            stream.task = asyncio.ensure_future(relay.run())
            if event.stream_ended is not None:
                stream.ended_with_headers = True
                stream.body.put_nowait(None)
        elif isinstance(event, DataReceived):
            stream_or_none = self.streams.get(event.stream_id)
            if stream_or_none is None:
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            else:
                stream_or_none.body.put_nowait(event.data)
                stream_or_none.unacked += len(event.data)
                # The window reopens once the relay wrote the data (_Relay._pump).
                self._ack_later(event.stream_id, event.flow_controlled_length - len(event.data))
        elif isinstance(event, StreamEnded):
            if event.stream_id in self.streams:
                self.streams[event.stream_id].body.put_nowait(None)
        elif isinstance(event, StreamReset):
            gone = self.streams.pop(event.stream_id, None)
            if gone is not None and gone.origin is not None:
                gone.origin.close()  # the origin learns of the reset at once
            if gone is not None and gone.task is not None:
                gone.task.cancel()
        elif isinstance(event, (WindowUpdated, RemoteSettingsChanged)):
            self.window_open.set()
        elif isinstance(event, ConnectionTerminated):
            return False
        return True

    def _ack_later(self, stream_id: int, padding: int) -> None:
        if padding > 0:
            self.h2.acknowledge_received_data(padding, stream_id)

    def ack(self, stream_id: int, n: int) -> None:
        """Reopen the window for ``n`` bytes the relay has passed on."""
        if n <= 0:
            return
        with contextlib.suppress(StreamClosedError, ProtocolError):
            self.h2.acknowledge_received_data(n, stream_id)
            self.flush()

    def reset(self, stream_id: int, code: ErrorCodes) -> None:
        with contextlib.suppress(StreamClosedError, ProtocolError):
            self.h2.reset_stream(stream_id, code)
            self.flush()

    async def send_body(self, stream_id: int, data: bytes) -> None:
        """Send ``data`` on the stream within the flow-control windows."""
        view = memoryview(data)
        while view:
            window = self.h2.local_flow_control_window(stream_id)
            size = min(window, self.h2.max_outbound_frame_size, len(view))
            if size <= 0:
                self.window_open.clear()
                await asyncio.wait_for(self.window_open.wait(), TIMEOUT)
                continue
            self.h2.send_data(stream_id, view[:size].tobytes())
            self.flush()
            view = view[size:]
        await asyncio.wait_for(self.writer.drain(), TIMEOUT)


class _Relay:
    """One stream relayed to the origin over a new HTTP/1.1 connection."""

    def __init__(
        self, conn: _Conn, stream_id: int, stream: _Stream, fields: list[tuple[bytes, bytes]]
    ) -> None:
        self.conn = conn
        self.stream_id = stream_id
        self.stream = stream
        self.fields = fields
        self.method = b"GET"

    async def run(self) -> None:
        writer: asyncio.StreamWriter | None = None
        try:
            reader, writer_ = await asyncio.wait_for(
                asyncio.open_connection(*self.conn.front.origin), TIMEOUT
            )
            writer = self.stream.origin = writer_
            self.conn.front.streams_relayed += 1
            H2Front.total_relayed += 1
            await self._exchange(reader, writer_)
        except _RELAY_ERRORS:
            self.conn.reset(self.stream_id, ErrorCodes.INTERNAL_ERROR)
        except asyncio.CancelledError:
            self.conn.reset(self.stream_id, ErrorCodes.CANCEL)
            raise
        finally:
            self.conn.streams.pop(self.stream_id, None)
            # What the origin never took still counts in the connection's window.
            self.conn.ack(self.stream_id, self.stream.unacked)
            if writer is not None:
                writer.close()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        chunked = self._write_head(writer)
        pump = asyncio.ensure_future(self._pump(writer, chunked))
        try:
            status, fields = await _read_head(reader)
            await self._answer(reader, status, fields)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await pump

    def _write_head(self, writer: asyncio.StreamWriter) -> bool:
        """Write the HTTP/1.1 request head; True when the body goes chunked."""
        pseudo = {k: v for k, v in self.fields if k.startswith(b":")}
        self.method = pseudo.get(b":method", b"GET")
        lines = [self.method + b" " + pseudo.get(b":path", b"/") + b" HTTP/1.1"]
        if b":authority" in pseudo:
            lines.append(b"host: " + pseudo[b":authority"])
        cookies = [v for k, v in self.fields if k == b"cookie"]
        names = {k for k, _ in self.fields}
        for k, v in self.fields:
            if not k.startswith(b":") and k != b"cookie" and k not in HOP_BY_HOP:
                lines.append(k + b": " + v)
        if cookies:
            lines.append(b"cookie: " + b"; ".join(cookies))
        chunked = b"content-length" not in names and not self.stream.ended_with_headers
        if chunked:
            lines.append(b"transfer-encoding: chunked")
        writer.write(b"\r\n".join(lines) + b"\r\n\r\n")
        return chunked

    async def _pump(self, writer: asyncio.StreamWriter, chunked: bool) -> None:
        """Pass the request body on, reopening the window as it is written."""
        while True:
            data = await asyncio.wait_for(self.stream.body.get(), TIMEOUT)
            if data is None:
                if chunked:
                    writer.write(b"0\r\n\r\n")
                await asyncio.wait_for(writer.drain(), TIMEOUT)
                return
            if data:
                writer.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
                await asyncio.wait_for(writer.drain(), TIMEOUT)
            self.stream.unacked -= len(data)
            self.conn.ack(self.stream_id, len(data))

    async def _answer(
        self, reader: asyncio.StreamReader, status: int, fields: list[tuple[bytes, bytes]]
    ) -> None:
        names = {k for k, _ in fields}
        no_body = self.method == b"HEAD" or status in (204, 304)
        listed = b",".join(v for k, v in fields if k == b"connection").lower().split(b",")
        drop = HOP_BY_HOP | {name.strip() for name in listed}
        out = [(b":status", str(status).encode())]
        out += [(k, v) for k, v in fields if k not in drop]
        self.conn.h2.send_headers(self.stream_id, out, end_stream=no_body)
        self.conn.flush()
        if no_body:
            return
        if b"chunked" in b",".join(v.lower() for k, v in fields if k == b"transfer-encoding"):
            pieces = _chunked(reader)
        elif b"content-length" in names:
            length = int(next(v for k, v in fields if k == b"content-length"))
            pieces = _sized(reader, length)
        else:
            pieces = _until_eof(reader)
        async for piece in pieces:
            await self.conn.send_body(self.stream_id, piece)
        self.conn.h2.end_stream(self.stream_id)
        self.conn.flush()


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    line = await asyncio.wait_for(reader.readuntil(b"\n"), TIMEOUT)
    return line.rstrip(b"\r\n")


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, list[tuple[bytes, bytes]]]:
    """The final answer's status and fields (lower-cased names); 1xx skipped."""
    while True:
        parts = (await _read_line(reader)).split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise UpstreamError(f"bad status line {parts!r}")
        fields: list[tuple[bytes, bytes]] = []
        for _ in range(1000):
            line = await _read_line(reader)
            if not line:
                break
            name, sep, value = line.partition(b":")
            if not sep:
                raise UpstreamError(f"bad field {line!r}")
            fields.append((name.strip().lower(), value.strip()))
        else:
            raise UpstreamError("too many fields")
        status = int(parts[1])
        if status >= 200 or status == 101:
            return status, fields


async def _sized(reader: asyncio.StreamReader, length: int) -> AsyncIterator[bytes]:
    while length > 0:
        data = await asyncio.wait_for(reader.read(min(length, READ_SIZE)), TIMEOUT)
        if not data:
            raise UpstreamError("the origin closed before Content-Length")
        length -= len(data)
        yield data


async def _chunked(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    while True:
        size = int((await _read_line(reader)).split(b";")[0].strip() or b"x", 16)
        if size == 0:
            while await _read_line(reader):  # trailers, dropped
                pass
            return
        async for piece in _sized(reader, size):
            yield piece
        if await _read_line(reader):
            raise UpstreamError("chunk not followed by CRLF")


async def _until_eof(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    while True:
        data = await asyncio.wait_for(reader.read(READ_SIZE), TIMEOUT)
        if not data:
            return
        yield data
