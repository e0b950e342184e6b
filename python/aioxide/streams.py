"""``resp.content``: aiohttp's StreamReader API over the engine's body stream.

The buffer lives here (so ``readline`` and friends cost no engine round
trip); each refill is one engine call that returns whatever the engine has
gathered, up to the size asked for.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any, AsyncIterator, Awaitable, Callable, Generic, TypeVar

from ._bridge import call_engine

__all__ = ("EMPTY_PAYLOAD", "EofStream", "StreamReader", "AsyncStreamIterator")

_T = TypeVar("_T")

DEFAULT_LIMIT = 2**16


class EofStream(Exception):
    """eof stream indication."""


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


class StreamReader:
    """A response body stream with aiohttp's reading methods."""

    def __init__(
        self,
        raw: Any,
        loop: asyncio.AbstractEventLoop | None,
        bridge: Any,
        *,
        body: bytes | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> None:
        self._raw = raw
        self._loop = loop
        self._bridge = bridge
        self._buffer: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._eof = body is not None or raw is None
        self._exception: BaseException | None = None
        self._low_water = limit
        self._high_water = limit * 2
        self.total_bytes = 0
        self._eof_callbacks: list[Callable[[], None]] = []
        if body:
            self._buffer.append(body)
            self._size = len(body)
            self.total_bytes = len(body)

    def __repr__(self) -> str:
        info = [self.__class__.__name__]
        if self._size:
            info.append("%d bytes" % self._size)
        if self._eof:
            info.append("eof")
        return "<%s>" % " ".join(info)

    # -- state -----------------------------------------------------------
    def exception(self) -> BaseException | None:
        return self._exception

    def set_exception(self, exc: BaseException, exc_cause: BaseException | None = None) -> None:
        self._exception = exc

    def is_eof(self) -> bool:
        """True when the engine has delivered the whole body."""
        return self._eof

    def at_eof(self) -> bool:
        """True when the whole body was delivered and the buffer is empty."""
        return self._eof and not self._size

    def on_eof(self, callback: Callable[[], None]) -> None:
        if self._eof:
            callback()
        else:
            self._eof_callbacks.append(callback)

    def _set_eof(self) -> None:
        self._eof = True
        cbs, self._eof_callbacks = self._eof_callbacks, []
        for cb in cbs:
            cb()

    async def wait_eof(self) -> None:
        while not self._eof:
            await self._fill(self._high_water)

    def get_read_buffer_limits(self) -> tuple[int, int]:
        return (self._low_water, self._high_water)

    @property
    def total_raw_bytes(self) -> int:
        """Bytes received from the network (before decompression)."""
        if self._raw is None:
            return self.total_bytes
        return int(self._raw.raw_bytes()) or self.total_bytes

    # -- engine ----------------------------------------------------------
    async def _fill(self, n: int) -> bool:
        """Fetch the next piece (at most ``n`` bytes); False at the end."""
        if self._exception is not None:
            raise self._exception
        if self._eof:
            return False
        assert self._loop is not None
        try:
            data = await call_engine(self._loop, self._bridge, self._raw.chunk, n)
        except asyncio.CancelledError:
            raise
        except BaseException as e:
            self._exception = e
            raise
        if data is None:
            self._set_eof()
            return False
        self._buffer.append(data)
        self._size += len(data)
        self.total_bytes += len(data)
        return True

    def _take(self, n: int) -> bytes:
        """Up to ``n`` bytes from the buffer (n < 0: all)."""
        if n < 0 or n >= self._size:
            if len(self._buffer) == 1:
                data = self._buffer.popleft()
            else:
                data = b"".join(self._buffer)
                self._buffer.clear()
            self._size = 0
            return data
        parts = []
        need = n
        while need:
            head = self._buffer[0]
            if len(head) <= need:
                parts.append(self._buffer.popleft())
                need -= len(head)
            else:
                parts.append(head[:need])
                self._buffer[0] = head[need:]
                need = 0
        self._size -= n
        return parts[0] if len(parts) == 1 else b"".join(parts)

    # -- reading ---------------------------------------------------------
    async def read(self, n: int = -1) -> bytes:
        if self._exception is not None:
            raise self._exception
        if n == 0:
            return b""
        if n < 0:
            if not self._eof:
                assert self._loop is not None
                try:
                    rest = await call_engine(self._loop, self._bridge, self._raw.read_all)
                except asyncio.CancelledError:
                    raise
                except BaseException as e:
                    self._exception = e
                    raise
                if rest:
                    self._buffer.append(rest)
                    self._size += len(rest)
                    self.total_bytes += len(rest)
                self._set_eof()
            return self._take(-1)
        if not self._size:
            await self._fill(n)
        return self._take(n)

    async def readany(self) -> bytes:
        if self._exception is not None:
            raise self._exception
        if not self._size:
            await self._fill(self._high_water)
        if not self._size:
            return b""
        data = self._buffer.popleft()
        self._size -= len(data)
        return data

    async def readchunk(self) -> tuple[bytes, bool]:
        """The next chunk and whether it ended an HTTP chunk.

        The engine does not keep HTTP chunk boundaries: every chunk is
        reported as not ending one; ``(b"", False)`` marks the end.
        """
        if self._exception is not None:
            raise self._exception
        if not self._size:
            await self._fill(self._high_water)
        if not self._size:
            return (b"", False)
        data = self._buffer.popleft()
        self._size -= len(data)
        return (data, False)

    async def readexactly(self, n: int) -> bytes:
        if self._exception is not None:
            raise self._exception
        while self._size < n:
            if not await self._fill(max(n - self._size, 1)):
                partial = self._take(-1)
                raise asyncio.IncompleteReadError(partial, n)
        return self._take(n)

    async def readline(self, *, max_line_length: int | None = None) -> bytes:
        return await self.readuntil(b"\n", max_size=max_line_length)

    async def readuntil(self, separator: bytes = b"\n", *, max_size: int | None = None) -> bytes:
        if self._exception is not None:
            raise self._exception
        seplen = len(separator)
        if seplen == 0:
            raise ValueError("Separator should be at least one-byte string")
        limit = max_size or self._high_water
        while True:
            if self._size:
                buf = self._buffer[0] if len(self._buffer) == 1 else b"".join(self._buffer)
                if len(self._buffer) > 1:
                    self._buffer.clear()
                    self._buffer.append(buf)
                idx = buf.find(separator)
                if idx >= 0:
                    return self._take(idx + seplen)
                if self._size > limit:
                    raise ValueError("Chunk too big")
            if not await self._fill(self._high_water):
                return self._take(-1)

    def read_nowait(self, n: int = -1) -> bytes:
        if self._exception is not None:
            raise self._exception
        return self._take(n)

    def unread_data(self, data: bytes) -> None:
        if data:
            self._buffer.appendleft(data)
            self._size += len(data)

    # -- iteration -------------------------------------------------------
    def iter_chunked(self, n: int) -> AsyncStreamIterator[bytes]:
        """Yield chunks of up to ``n`` bytes."""
        return AsyncStreamIterator(lambda: self.read(n))

    def iter_any(self) -> AsyncStreamIterator[bytes]:
        """Yield chunks as they arrive."""
        return AsyncStreamIterator(self.readany)

    def iter_chunks(self) -> ChunkTupleAsyncStreamIterator:
        """Yield (data, end_of_http_chunk) tuples."""
        return ChunkTupleAsyncStreamIterator(self)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return AsyncStreamIterator(self.readline)

    # -- feeding (used for complete bodies and by tests) -------------------
    def feed_data(self, data: bytes) -> None:
        if data:
            self._buffer.append(data)
            self._size += len(data)
            self.total_bytes += len(data)

    def feed_eof(self) -> None:
        self._set_eof()


class EmptyStreamReader(StreamReader):
    def __init__(self) -> None:
        super().__init__(None, None, None, body=b"")

    def __repr__(self) -> str:
        return "<%s>" % self.__class__.__name__


EMPTY_PAYLOAD = EmptyStreamReader()
