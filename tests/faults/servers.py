"""A small library of misbehaving HTTP/1.1 servers on 127.0.0.1.

Each fault is a coroutine ``fault(reader, writer, conn)`` run on a connection after
a request (any path but ``/good``) arrived.  ``/good`` is always answered well, with
keep-alive, on whatever connection it comes: the request a test makes after a fault
goes to the same server, so a connection the fault poisoned and the client kept
would show.  A server runs on whichever event loop starts it (asyncio or uvloop).
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
import struct
import zlib
from collections.abc import Awaitable, Callable
from typing import Any, Optional

GOOD = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood"
PAYLOAD = b"".join(b"line %05d of a compressible body\n" % i for i in range(2000))


class Conn:
    """One accepted connection: its socket, and the request read so far."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.head = b""

    def write(self, data: bytes) -> None:
        self.writer.write(data)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_body(self) -> bytes:
        """The rest of the request after its head (Content-Length or chunked)."""
        head = self.head.lower()
        if b"transfer-encoding: chunked" in head:
            out = bytearray()
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    return bytes(out)
                out += await self.reader.readexactly(size + 2)
        for line in head.split(b"\r\n"):
            if line.startswith(b"content-length:"):
                return await self.reader.readexactly(int(line.split(b":")[1]))
        return b""

    async def until_closed(self) -> None:
        """Wait for the client to go away (reading and dropping what it sends)."""
        while await self.reader.read(65536):
            pass

    def reset(self) -> None:
        """Close with a TCP RST (SO_LINGER 0): no FIN, no close_notify."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    def abort(self) -> None:
        """Close the transport at once (TLS: no close_notify; TCP: a FIN)."""
        self.writer.transport.abort()


Fault = Callable[[Conn], Awaitable[None]]


class FaultServer:
    """A listening socket whose connections run ``fault`` on any request but /good."""

    def __init__(
        self, fault: Fault, ssl_ctx: Optional[ssl.SSLContext] = None, at_accept: bool = False
    ) -> None:
        self.fault = fault
        #: Run the fault on every connection as soon as it is accepted, before
        #: any request is read (/good is then never answered here).
        self.at_accept = at_accept
        self.ssl_ctx = ssl_ctx
        self.server: Optional[asyncio.AbstractServer] = None
        self.accepted = 0
        self.faults_run = 0
        self._handlers: set[asyncio.Task[Any]] = set()
        self._conns: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"{'https' if self.ssl_ctx else 'http'}://127.0.0.1:{port}"

    async def start(self) -> FaultServer:
        self.server = await asyncio.start_server(
            self._handle, "127.0.0.1", 0, ssl=self.ssl_ctx, limit=1 << 20
        )
        return self

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for w in list(self._conns):
            w.transport.abort()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5)
        if self.server is not None:
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.accepted += 1
        self._conns.add(writer)
        conn = Conn(reader, writer)
        try:
            if self.at_accept:
                self.faults_run += 1
                await self.fault(conn)
                return
            while True:
                try:
                    conn.head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                if conn.head.split(b" ", 2)[1] == b"/good":
                    await conn.read_body()
                    await conn.send(GOOD)
                    continue
                self.faults_run += 1
                await self.fault(conn)
                if writer.is_closing():
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError):
            pass
        finally:
            writer.close()
            self._handlers.discard(task)
            self._conns.discard(writer)


# ---------------------------------------------------------------------------
# the faults (each a ``Fault``); ``keep`` means the connection stays for /good
# ---------------------------------------------------------------------------


async def close_on_accept(c: Conn) -> None:
    """Close before reading anything (see FaultServer.at_accept)."""
    c.writer.close()


async def reset_on_accept(c: Conn) -> None:
    c.reset()


async def accept_close(c: Conn) -> None:
    await c.read_body()
    c.writer.close()


async def accept_reset(c: Conn) -> None:
    await c.read_body()
    c.reset()


async def never_answer(c: Conn) -> None:
    await c.until_closed()
    c.writer.close()


async def head_stall(c: Conn) -> None:
    await c.read_body()
    await c.send(b"HTTP/1.1 200 OK\r\nContent-Le")
    await c.until_closed()
    c.writer.close()


async def body_stall(c: Conn) -> None:
    await c.read_body()
    await c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
    await c.until_closed()
    c.writer.close()


DRIP_HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
DRIP_BODY = b"0123456789"
DRIP_TAIL = 10  # bytes of the head dripped too


async def drip(c: Conn) -> None:
    """The end of the head and the whole body, one byte every 10 ms (0.2 s)."""
    await c.read_body()
    data = DRIP_HEAD + DRIP_BODY
    cut = len(DRIP_HEAD) - DRIP_TAIL
    await c.send(data[:cut])
    for i in range(cut, len(data)):
        await asyncio.sleep(0.01)
        await c.send(data[i : i + 1])


async def reset_mid_head(c: Conn) -> None:
    await c.read_body()
    await c.send(b"HTTP/1.1 200 OK\r\nContent-Len")
    c.reset()


async def reset_mid_body_length(c: Conn) -> None:
    await c.read_body()
    await c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
    c.reset()


CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


async def reset_mid_body_chunked(c: Conn) -> None:
    await c.read_body()
    await c.send(CHUNKED_HEAD + b"a\r\n01234")
    c.reset()


async def reset_mid_chunk_size(c: Conn) -> None:
    await c.read_body()
    await c.send(CHUNKED_HEAD + b"a\r\n0123456789\r\n1")
    c.reset()


async def close_before_length(c: Conn) -> None:
    await c.read_body()
    await c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
    c.writer.close()


async def chunked_without_last(c: Conn) -> None:
    await c.read_body()
    await c.send(CHUNKED_HEAD + b"a\r\n0123456789\r\n")
    c.writer.close()


def cut_coded(coding: str) -> Fault:
    async def fault(c: Conn) -> None:
        await c.read_body()
        body = compress(coding, PAYLOAD)
        body = body[: len(body) // 2]
        head = b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n" % (
            coding.encode(),
            len(body),
        )
        await c.send(head + body)

    return fault


def compress(coding: str, data: bytes) -> bytes:
    if coding == "gzip":
        return gzip.compress(data)
    if coding == "deflate":
        return zlib.compress(data)
    if coding == "br":
        import brotli

        return bytes(brotli.compress(data))
    try:
        from compression import zstd  # type: ignore[import-not-found]
    except ImportError:
        from backports import zstd  # type: ignore[import-not-found,no-redef]
    return bytes(zstd.compress(data))


def _interim(head: bytes, n: int = 1000) -> Fault:
    async def fault(c: Conn) -> None:
        # The interim answers come before the body is read (as 100 Continue does).
        await c.send(head * n)
        await c.read_body()
        await c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal")

    return fault


interim_100 = _interim(b"HTTP/1.1 100 Continue\r\n\r\n")
interim_103 = _interim(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n")


def _head_with(extra: bytes, status_line: bytes = b"HTTP/1.1 200 OK") -> Fault:
    async def fault(c: Conn) -> None:
        await c.read_body()
        await c.send(status_line + b"\r\n" + extra + b"Content-Length: 2\r\n\r\nok")

    return fault


long_status_line = _head_with(b"", b"HTTP/1.1 200 " + b"O" * 9000)
long_field = _head_with(b"X-Long: " + b"v" * 9000 + b"\r\n")
many_fields = _head_with(b"".join(b"X-H%d: v\r\n" % i for i in range(200)))


async def more_than_announced(c: Conn) -> None:
    """Five bytes announced, and behind them a whole second response: a client
    that kept this connection would read "evil" as the next request's answer."""
    await c.read_body()
    await c.send(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst"
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"
    )


async def early_413(c: Conn) -> None:
    """Answer 413 after the head, without reading the body, and close (the
    unread upload makes the kernel answer it with a reset)."""
    await c.send(
        b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo large"
    )
    c.writer.close()


async def early_413_reset(c: Conn) -> None:
    """Answer 413 after the head, without reading the body, and reset."""
    await c.send(
        b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo large"
    )
    c.reset()


def _reply_and_close(data: bytes) -> Fault:
    async def fault(c: Conn) -> None:
        await c.read_body()
        await c.send(data)
        c.writer.close()

    return fault


http09 = _reply_and_close(b"<html>an HTTP/0.9 answer: no status line</html>\n")
ssh_banner = _reply_and_close(b"SSH-2.0-OpenSSH_9.6\r\n")
bad_status = _reply_and_close(b"HTTP/1.1 2xx OK\r\nContent-Length: 2\r\n\r\nok")
binary_garbage = _reply_and_close(bytes(range(256)))


# -- TLS: the peer stops without close_notify -----------------------------------


async def tls_abort_framed(c: Conn) -> None:
    """A complete Content-Length answer, then the TCP close with no close_notify."""
    await c.read_body()
    await c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    c.abort()


async def tls_abort_mid_body(c: Conn) -> None:
    await c.read_body()
    await c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
    c.abort()


async def tls_abort_until_close(c: Conn) -> None:
    """A body delimited by the close, ended without close_notify (a truncation)."""
    await c.read_body()
    await c.send(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n0123456789")
    c.abort()


async def tls_abort_before_head(c: Conn) -> None:
    await c.read_body()
    c.abort()
