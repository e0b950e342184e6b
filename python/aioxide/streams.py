"""``resp.content``: aiohttp's StreamReader API over the engine's body stream.

The buffer lives here, laid out as aiohttp's (a deque of pieces, an offset
into the first one, a cursor), and every read method is aiohttp's algorithm
over it, so ``readline`` and friends cost no engine round trip.  Where aiohttp
waits for its protocol to feed data, this reader asks the engine for the next
piece (``Response.chunk``: whatever the engine has gathered, up to the high
water mark) or, for ``read()``, for the whole rest at once
(``Response.read_all``).  An engine task owns the body and reads ahead into
the bridge's feed; a wait given up (``asyncio.wait_for`` on a read, a
cancelled task) drops only the waiter: what arrives stays for the next read,
and the connection lives until the response is released or closed.

A reader built without an engine response (``raw=None``) is fed with
``feed_data``/``feed_eof`` as aiohttp's is.

Differences from aiohttp (the engine does not report them):

- ``total_raw_bytes`` of a compressed body comes from the engine's count of
  undecoded bytes; see :attr:`StreamReader.total_compressed_bytes`.
"""

from __future__ import annotations

import asyncio
import collections
import sys
import warnings
from textwrap import indent
from typing import Any, Awaitable, Callable, Generic, TypeVar

from .helpers import DEFAULT_CHUNK_SIZE, internal_logger

__all__ = (
    "EMPTY_PAYLOAD",
    "AsyncStreamIterator",
    "EofStream",
    "LineTooLong",
    "StreamReader",
)

_T = TypeVar("_T")

#: The default buffer limit: aiohttp 3.14's ``read_bufsize`` (256 KiB).
DEFAULT_LIMIT = DEFAULT_CHUNK_SIZE

# The most one engine call is asked for (it returns what has arrived, up to this).
_MAX_PIECE = 1 << 30
# The least: a small read_bufsize is aiohttp's buffer limit, not the size of
# what one read takes from the socket (64 KiB and more there).
_MIN_PIECE = 1 << 16


class EofStream(Exception):
    """eof stream indication."""


# -- aiohttp.http_exceptions (the part StreamReader raises) --------------------
class HttpProcessingError(Exception):
    """HTTP error with a code, a message and headers (``aiohttp.http_exceptions``)."""

    code = 0
    message = ""
    headers: Any = None

    def __init__(self, *, code: int | None = None, message: str = "", headers: Any = None) -> None:
        if code is not None:
            self.code = code
        self.headers = headers
        self.message = message

    def __str__(self) -> str:
        msg = indent(self.message, "  ")
        return f"{self.code}, message:\n{msg}"

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__}: {self.code}, message={self.message!r}>"


class BadHttpMessage(HttpProcessingError):
    code = 400
    message = "Bad Request"

    def __init__(self, message: str, *, headers: Any = None) -> None:
        super().__init__(message=message, headers=headers)
        self.args = (message,)


class LineTooLong(BadHttpMessage):
    """A line (``readline``/``readuntil``) longer than the limit."""

    def __init__(
        self, line: str | bytes, limit: str | int = "Unknown", actual_size: str = "Unknown"
    ) -> None:
        super().__init__(f"Got more than {limit} bytes when reading: {line!r}.")
        self.args = (line, limit, actual_size)


# -- iterators ----------------------------------------------------------------
class AsyncStreamIterator(Generic[_T]):
    __slots__ = ("read_func",)

    def __init__(self, read_func: Callable[[], Awaitable[_T]]) -> None:
        self.read_func = read_func

    def __aiter__(self) -> "AsyncStreamIterator[_T]":
        return self

    async def __anext__(self) -> _T:
        try:
            rv = await self.read_func()
        except EofStream:
            raise StopAsyncIteration from None
        if rv == b"":
            raise StopAsyncIteration
        return rv


class ChunkTupleAsyncStreamIterator:
    __slots__ = ("_stream",)

    def __init__(self, stream: "StreamReader") -> None:
        self._stream = stream

    def __aiter__(self) -> "ChunkTupleAsyncStreamIterator":
        return self

    async def __anext__(self) -> tuple[bytes, bool]:
        rv = await self._stream.readchunk()
        if rv == (b"", False):
            raise StopAsyncIteration
        return rv


def _set_exception(fut: "asyncio.Future[Any]", exc: BaseException, cause: Any) -> None:
    if fut.done():
        return
    if cause is not None and cause is not exc:
        exc.__cause__ = cause
    fut.set_exception(exc)


class StreamReader:
    """A response body stream with aiohttp's reading methods.

    Supports asynchronous iteration by line, chunk or as available::

        async for line in reader:
            ...
        async for chunk in reader.iter_chunked(1024):
            ...
        async for slice in reader.iter_any():
            ...
    """

    __slots__ = (
        "_raw",
        "_bridge",
        "_loop",
        "_low_water",
        "_high_water",
        "_low_water_chunks",
        "_high_water_chunks",
        "_size",
        "_cursor",
        "_http_chunk_splits",
        "_buffer",
        "_buffer_offset",
        "_eof",
        "_waiter",
        "_eof_waiter",
        "_exception",
        "_eof_callbacks",
        "_eof_counter",
        "_compressed",
        "_raw_seen",
        "_raw_length",
        "total_bytes",
        "_owner",
        "_detached",
        "__weakref__",
    )

    def __init__(
        self,
        raw: Any,
        loop: asyncio.AbstractEventLoop | None,
        bridge: Any,
        *,
        body: bytes | None = None,
        limit: int = DEFAULT_LIMIT,
        compressed: bool = False,
        raw_length: int | None = None,
        chunked: bool = False,
    ) -> None:
        """``raw``: the engine response whose body this reads (None: fed by
        ``feed_data``); ``body``: the whole body, already read (the reader
        starts at EOF with it buffered); ``limit``: ``read_bufsize``;
        ``compressed``: the engine decodes a Content-Encoding;
        ``raw_length``: the undecoded length when announced (Content-Length);
        ``chunked``: the body is chunked (the engine reports where each HTTP
        chunk ended, for ``readchunk()``).
        """
        self._raw = raw
        self._bridge = bridge
        self._loop = loop
        self._low_water = limit
        self._high_water = limit * 2
        self._high_water_chunks = max(4, limit // 16)
        self._low_water_chunks = self._high_water_chunks // 2
        self._size = 0
        self._cursor = 0
        self._http_chunk_splits: collections.deque[int] | None = None
        self._buffer: collections.deque[bytes] = collections.deque()
        self._buffer_offset = 0
        self._eof = False
        self._waiter: asyncio.Future[Any] | None = None
        self._eof_waiter: asyncio.Future[None] | None = None
        self._exception: BaseException | None = None
        self._eof_callbacks: list[Callable[[], None]] = []
        self._eof_counter = 0
        self._compressed = compressed
        self._raw_seen = 0
        self._raw_length = raw_length
        self.total_bytes = 0
        # The connector the body's connection belongs to (set by the
        # response): once it is closed, no read waits for the engine.
        self._owner: Any = None
        self._detached = False
        if body is not None:
            if body:
                self._buffer.append(body)
                self._size = self.total_bytes = len(body)
            self._eof = True
        if chunked and raw is not None:
            self._http_chunk_splits = collections.deque()
            self._note_chunk_ends()

    def __repr__(self) -> str:
        info = [self.__class__.__name__]
        if self._size:
            info.append("%d bytes" % self._size)
        if self._eof:
            info.append("eof")
        if self._low_water != DEFAULT_CHUNK_SIZE:
            info.append("low=%d high=%d" % (self._low_water, self._high_water))
        if self._waiter:
            info.append("w=%r" % self._waiter)
        if self._exception:
            info.append("e=%r" % self._exception)
        return "<%s>" % " ".join(info)

    # -- iteration -------------------------------------------------------
    def __aiter__(self) -> AsyncStreamIterator[bytes]:
        return AsyncStreamIterator(self.readline)

    def iter_chunked(self, n: int) -> AsyncStreamIterator[bytes]:
        """Yield chunks of up to ``n`` bytes."""
        self.set_read_chunk_size(n)
        return AsyncStreamIterator(lambda: self.read(n))

    def iter_any(self) -> AsyncStreamIterator[bytes]:
        """Yield all available data as soon as it is received."""
        return AsyncStreamIterator(self.readany)

    def iter_chunks(self) -> ChunkTupleAsyncStreamIterator:
        """Yield ``(data, end_of_http_chunk)`` tuples, as ``readchunk()`` returns them."""
        return ChunkTupleAsyncStreamIterator(self)

    # -- limits and state ----------------------------------------------------
    def get_read_buffer_limits(self) -> tuple[int, int]:
        return (self._low_water, self._high_water)

    def set_read_chunk_size(self, n: int) -> None:
        """Raise the buffer limits to the consumer's chunk size."""
        if n > self._low_water:
            self._low_water = n
            self._high_water = n * 2

    def exception(self) -> BaseException | None:
        """The error the body ended with, if any."""
        return self._exception

    def set_exception(self, exc: BaseException, exc_cause: BaseException | None = None) -> None:
        self._exception = exc
        self._eof_callbacks.clear()
        waiter = self._waiter
        if waiter is not None and self._raw is None:
            # (An engine read is completed by the engine; it raises this on return.)
            self._waiter = None
            _set_exception(waiter, exc, exc_cause)
        eof_waiter = self._eof_waiter
        if eof_waiter is not None:
            self._eof_waiter = None
            _set_exception(eof_waiter, exc, exc_cause)

    def on_eof(self, callback: Callable[[], None]) -> None:
        if self._eof:
            try:
                callback()
            except Exception:
                internal_logger.exception("Exception in eof callback")
        else:
            self._eof_callbacks.append(callback)

    def feed_eof(self) -> None:
        self._eof = True
        waiter = self._waiter
        if waiter is not None and self._raw is None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        eof_waiter = self._eof_waiter
        if eof_waiter is not None:
            self._eof_waiter = None
            if not eof_waiter.done():
                eof_waiter.set_result(None)
        for cb in self._eof_callbacks:
            try:
                cb()
            except Exception:
                internal_logger.exception("Exception in eof callback")
        self._eof_callbacks.clear()

    def is_eof(self) -> bool:
        """True once the whole body has been received (some may be unread)."""
        return self._eof

    def at_eof(self) -> bool:
        """True when the whole body was received and the buffer is empty."""
        return self._eof and not self._buffer

    async def wait_eof(self) -> None:
        """Wait until the whole body has been received (it stays readable)."""
        while not self._eof:
            if self._raw is not None and self._waiter is None:
                # Nobody else is pulling from the engine: pull into the buffer.
                await self._wait("wait_eof")
                continue
            assert self._eof_waiter is None
            self._eof_waiter = self._get_loop().create_future()
            try:
                if self._raw is None:
                    await self._eof_waiter
                else:
                    # Another coroutine is reading: wait for its piece, then look again.
                    reading = self._waiter
                    assert reading is not None
                    await asyncio.wait(
                        [reading, self._eof_waiter], return_when=asyncio.FIRST_COMPLETED
                    )
                    if self._eof_waiter.done():
                        self._eof_waiter.result()
            finally:
                self._eof_waiter = None

    @property
    def total_compressed_bytes(self) -> int | None:
        """Undecoded body bytes received so far when the body is being decoded
        (a Content-Encoding), else None (as aiohttp).

        aioxide counts them in the engine, which keeps the count once the
        body has ended; an announced Content-Length is the count at the end.
        """
        if not self._compressed:
            return None
        self._note_raw_bytes()
        if self._eof and self._raw_length is not None:
            return self._raw_length
        return self._raw_seen

    @property
    def total_raw_bytes(self) -> int:
        """Body bytes received from the network, before decompression."""
        compressed = self.total_compressed_bytes
        if compressed is None:
            return self.total_bytes
        return compressed

    def unread_data(self, data: bytes) -> None:
        """Put ``data`` back at the head of the buffer (deprecated, as in aiohttp)."""
        warnings.warn(
            "unread_data() is deprecated and will be removed in future releases (#3260)",
            DeprecationWarning,
            stacklevel=2,
        )
        if not data:
            return
        if self._buffer_offset:
            self._buffer[0] = self._buffer[0][self._buffer_offset :]
            self._buffer_offset = 0
        self._size += len(data)
        self._cursor -= len(data)
        self._buffer.appendleft(data)
        self._eof_counter = 0

    def feed_data(self, data: bytes, size: int = 0) -> bool:
        assert not self._eof, "feed_data after feed_eof"
        if not data:
            return False
        data_len = len(data)
        self._size += data_len
        self._buffer.append(data)
        self.total_bytes += data_len
        waiter = self._waiter
        if waiter is not None and self._raw is None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        return False

    def begin_http_chunk_receiving(self) -> None:
        if self._http_chunk_splits is None:
            if self.total_bytes:
                raise RuntimeError(
                    "Called begin_http_chunk_receiving when some data was already fed"
                )
            self._http_chunk_splits = collections.deque()

    def end_http_chunk_receiving(self) -> None:
        if self._http_chunk_splits is None:
            raise RuntimeError(
                "Called end_chunk_receiving without calling begin_chunk_receiving first"
            )
        pos = self._http_chunk_splits[-1] if self._http_chunk_splits else 0
        if self.total_bytes == pos:
            return
        self._http_chunk_splits.append(self.total_bytes)
        waiter = self._waiter
        if waiter is not None and self._raw is None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # -- waiting for data ----------------------------------------------------
    def _get_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop

    def _connection_gone(self) -> bool:
        """The body's connection is gone with its session (the connector was
        closed): aiohttp's protocol is disconnected then."""
        if self._detached:
            return True
        owner = self._owner
        return owner is not None and self._raw is not None and bool(owner.closed)

    def _detach(self) -> None:
        """As aiohttp's closed connection: what had arrived stays readable
        (buffered here), nothing more is waited for; the connection is
        closed."""
        if self._detached:
            return
        self._detached = True
        raw = self._raw
        try:
            data, at_end = raw.take_ready()
        except BaseException as e:
            if self._exception is None:
                self.set_exception(e)
            raw.close()
            raise
        self._note_raw_bytes()
        if not at_end:
            raw.close()
        if data:
            self.feed_data(data)
            if self._http_chunk_splits is not None:
                self._note_chunk_ends()
        if at_end:
            self.feed_eof()

    async def _wait(self, func_name: str) -> None:
        """Wait for more data: the engine's next piece, or a feed_* call."""
        if self._connection_gone():
            # aiohttp's StreamReader._wait on a disconnected protocol (each
            # time; not kept as the stream's exception).
            self._detach()
            if self._buffer or self._eof:
                return
            raise RuntimeError("Connection closed.")
        if self._waiter is not None:
            raise RuntimeError(
                "%s() called while another coroutine is already waiting for incoming data"
                % func_name
            )
        waiter = self._waiter = self._get_loop().create_future()
        raw = self._raw
        if raw is None:
            try:
                await waiter
            finally:
                self._waiter = None
            return
        data = await self._engine_call(
            waiter,
            self._take_piece,
            raw.chunk,
            self._bridge,
            waiter,
            max(min(self._high_water, _MAX_PIECE), _MIN_PIECE),
        )
        if self._exception is not None:
            # Released or closed while the engine was reading.
            raise self._exception
        self._take_piece(data)

    def _take_piece(self, data: bytes | None) -> None:
        """The engine's next piece into the buffer (None: the end)."""
        self._note_raw_bytes()
        if data is None:
            self.feed_eof()
        else:
            self.feed_data(data)
            if self._http_chunk_splits is not None:
                self._note_chunk_ends()

    async def _read_rest(self) -> None:
        """Buffer the whole rest of the body in one engine call."""
        if self._waiter is not None:
            raise RuntimeError(
                "read() called while another coroutine is already waiting for incoming data"
            )
        if self._connection_gone():
            self._detach()
            if not self._eof:
                # As aiohttp's read(): what had arrived is consumed, then
                # the wait for more raises.
                self._read_nowait(-1)
                raise RuntimeError("Connection closed.")
            return
        raw = self._raw
        self._note_raw_bytes()
        waiter = self._waiter = self._get_loop().create_future()
        rest = await self._engine_call(waiter, self._take_rest, raw.read_all, self._bridge, waiter)
        if self._exception is not None:
            raise self._exception
        self._take_rest(rest)

    def _take_rest(self, rest: bytes | None) -> None:
        """The whole rest of the body into the buffer, then the end."""
        if rest:
            self.feed_data(rest)
            if self._http_chunk_splits is not None:
                self._note_chunk_ends()
        self.feed_eof()

    async def _engine_call(
        self, waiter: Any, keep: Callable[[Any], None], start: Any, *args: Any
    ) -> Any:
        """Start an engine read that completes ``waiter``; await it (an
        abandoned wait drops only this waiter, never the stream or its data;
        a failure is kept as the stream's exception).  What was delivered
        just as the wait was abandoned goes to ``keep``: ``asyncio.timeout``
        and 3.12's ``wait_for`` cancel a task whose future already holds its
        result."""
        try:
            rid = start(*args)
            try:
                return await waiter
            except asyncio.CancelledError:
                if not waiter.done() or waiter.cancelled():
                    self._bridge.abort(rid)
                elif waiter.exception() is None:
                    keep(waiter.result())
                elif self._exception is None:
                    self.set_exception(waiter.exception())
                raise
        except asyncio.CancelledError:
            raise
        except BaseException as e:
            if self._exception is None:
                self.set_exception(e)
            raise
        finally:
            self._waiter = None

    def _note_chunk_ends(self) -> None:
        """Take the engine's HTTP chunk ends within what was fed (aiohttp's
        ``end_http_chunk_receiving``, called as its parser meets them)."""
        splits = self._http_chunk_splits
        assert splits is not None
        splits.extend(self._raw.chunk_ends(self.total_bytes))

    def _note_raw_bytes(self) -> None:
        """Keep the engine's count of bytes received (for total_raw_bytes)."""
        if self._compressed and self._raw is not None:
            n = int(self._raw.raw_bytes())
            if n > self._raw_seen:
                self._raw_seen = n

    # -- reading -------------------------------------------------------------
    async def readline(self, *, max_line_length: int | None = None) -> bytes:
        """Read up to and including the next newline (or to the end of the body)."""
        return await self.readuntil(max_size=max_line_length)

    async def readuntil(self, separator: bytes = b"\n", *, max_size: int | None = None) -> bytes:
        """Read up to and including ``separator`` (or to EOF).

        LineTooLong when more than ``max_size`` (default: the high water mark)
        bytes were read without the line ending within them.
        """
        seplen = len(separator)
        if seplen == 0:
            raise ValueError("Separator should be at least one-byte string")
        if self._exception is not None:
            raise self._exception

        chunk = b""
        chunk_size = 0
        not_enough = True
        max_size = max_size or self._high_water

        while not_enough:
            while self._buffer and not_enough:
                offset = self._buffer_offset
                n = -1
                if chunk and seplen > 1:
                    # The separator may straddle data already read and this piece.
                    tail = chunk[1 - seplen :]
                    head = self._buffer[0][offset : offset + seplen - 1]
                    ichar = (tail + head).find(separator)
                    if ichar != -1:
                        n = ichar + seplen - len(tail)
                if n == -1:
                    ichar = self._buffer[0].find(separator, offset)
                    if ichar != -1:
                        n = ichar - offset + seplen
                data = self._read_nowait_chunk(n)
                chunk += data
                chunk_size += len(data)
                if n != -1:
                    not_enough = False
                if chunk_size > max_size:
                    raise LineTooLong(chunk[:100] + b"...", max_size)

            if self._eof:
                break
            if not_enough:
                await self._wait("readuntil")

        return chunk

    async def read(self, n: int = -1) -> bytes:
        """Read up to n bytes as soon as some are there; with n=-1, the rest of the body."""
        if self._exception is not None:
            raise self._exception

        if __debug__:
            if self._eof and not self._buffer:
                self._eof_counter += 1
                if self._eof_counter > 5:
                    internal_logger.warning(
                        "Multiple access to StreamReader in eof state, might be infinite loop.",
                        stack_info=True,
                    )

        if not n:
            return b""

        if n < 0:
            self.set_read_chunk_size(sys.maxsize)
            if self._raw is not None and not self._eof:
                await self._read_rest()
            blocks = []
            while True:
                block = await self.readany()
                if not block:
                    break
                blocks.append(block)
            return blocks[0] if len(blocks) == 1 else b"".join(blocks)

        self.set_read_chunk_size(n)
        while not self._buffer and not self._eof:
            await self._wait("read")
        return self._read_nowait(n)

    async def readany(self) -> bytes:
        """Read whatever is buffered, waiting for data if there is none; b'' at the end."""
        if self._exception is not None:
            raise self._exception
        while not self._buffer and not self._eof:
            await self._wait("readany")
        return self._read_nowait(-1)

    async def readchunk(self) -> tuple[bytes, bool]:
        """Return ``(data, end_of_http_chunk)``.

        ``end_of_http_chunk`` tells whether ``data`` ends an HTTP chunk of a
        chunked response (else it is False); ``(b"", False)`` marks the end
        of the body, as in aiohttp.
        """
        while True:
            if self._exception is not None:
                raise self._exception

            while self._http_chunk_splits:
                pos = self._http_chunk_splits.popleft()
                if pos == self._cursor:
                    return (b"", True)
                if pos > self._cursor:
                    return (self._read_nowait(pos - self._cursor), True)
                internal_logger.warning(
                    "Skipping HTTP chunk end due to data consumption beyond chunk boundary"
                )

            if self._buffer:
                return (self._read_nowait_chunk(-1), False)

            if self._eof:
                # (b"", False) signifies the end of the stream.
                return (b"", False)

            await self._wait("readchunk")

    async def readexactly(self, n: int) -> bytes:
        """Read exactly n bytes; asyncio.IncompleteReadError if the body ends first."""
        if self._exception is not None:
            raise self._exception
        blocks: list[bytes] = []
        while n > 0:
            block = await self.read(n)
            if not block:
                partial = b"".join(blocks)
                raise asyncio.IncompleteReadError(partial, len(partial) + n)
            blocks.append(block)
            n -= len(block)
        return b"".join(blocks)

    def read_nowait(self, n: int = -1) -> bytes:
        """What is buffered now, at most ``n`` bytes (all for n=-1); never waits."""
        if self._exception is not None:
            raise self._exception
        if self._waiter and not self._waiter.done():
            raise RuntimeError("Called while some coroutine is waiting for incoming data.")
        return self._read_nowait(n)

    def _read_nowait_chunk(self, n: int) -> bytes:
        first_buffer = self._buffer[0]
        offset = self._buffer_offset
        if n != -1 and len(first_buffer) - offset > n:
            data = first_buffer[offset : offset + n]
            self._buffer_offset += n
        elif offset:
            self._buffer.popleft()
            data = first_buffer[offset:]
            self._buffer_offset = 0
        else:
            data = self._buffer.popleft()

        data_len = len(data)
        self._size -= data_len
        self._cursor += data_len

        chunk_splits = self._http_chunk_splits
        # Drop chunk ends that the data read has gone past.
        while chunk_splits and chunk_splits[0] < self._cursor:
            chunk_splits.popleft()
        return data

    def _read_nowait(self, n: int) -> bytes:
        """At most ``n`` buffered bytes, or the whole buffer if n == -1."""
        if not self._eof and self._raw is not None:
            # The total timeout holds for a reader that never waits (its
            # data always buffered), as aiohttp's timer's assert_timeout.
            self._raw.check_deadline()
        if n == -1:
            count = len(self._buffer)
            if count == 1:
                return self._read_nowait_chunk(-1)
            return b"".join([self._read_nowait_chunk(-1) for _ in range(count)])

        chunks: list[bytes] = []
        while self._buffer:
            chunk = self._read_nowait_chunk(n)
            chunks.append(chunk)
            n -= len(chunk)
            if n == 0:
                break
        return b"".join(chunks) if chunks else b""


class EmptyStreamReader(StreamReader):
    """The body of a response that has none (HEAD, 204, 304, 1xx), as aiohttp's."""

    __slots__ = ("_read_eof_chunk",)

    def __init__(self) -> None:
        super().__init__(None, None, None, body=b"")
        self._read_eof_chunk = False

    def __repr__(self) -> str:
        return "<%s>" % self.__class__.__name__

    def exception(self) -> BaseException | None:
        return None

    def set_exception(self, exc: BaseException, exc_cause: BaseException | None = None) -> None:
        pass

    def on_eof(self, callback: Callable[[], None]) -> None:
        try:
            callback()
        except Exception:
            internal_logger.exception("Exception in eof callback")

    def feed_eof(self) -> None:
        pass

    def is_eof(self) -> bool:
        return True

    def at_eof(self) -> bool:
        return True

    async def wait_eof(self) -> None:
        return

    def feed_data(self, data: bytes, n: int = 0) -> bool:
        return False

    def set_read_chunk_size(self, n: int) -> None:
        return

    async def readline(self, *, max_line_length: int | None = None) -> bytes:
        return b""

    async def read(self, n: int = -1) -> bytes:
        return b""

    async def readany(self) -> bytes:
        return b""

    async def readchunk(self) -> tuple[bytes, bool]:
        if not self._read_eof_chunk:
            self._read_eof_chunk = True
            return (b"", False)
        return (b"", True)

    async def readexactly(self, n: int) -> bytes:
        raise asyncio.IncompleteReadError(b"", n)

    def read_nowait(self, n: int = -1) -> bytes:
        return b""


EMPTY_PAYLOAD: StreamReader = EmptyStreamReader()
