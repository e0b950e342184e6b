"""Request bodies (``aiohttp.payload``): what ``data=`` and ``json=`` become.

Bytes at hand go to the engine whole.  A file object or an async iterable is
streamed: a feeder task on the event loop reads it (files in the default
executor) and pushes chunks into a bounded engine channel, so a large upload
never sits whole in memory.

The common bodies (bytes, str, a plain form dict, ``json=``) take a fast path
that builds no Payload object.  Everything else goes through aiohttp's payload
registry, as aiohttp does: a :class:`Payload` is then turned into bytes (when
it is all in memory) or into an async iterable of chunks (``_body_source``).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import io
import json as _json_mod
import logging
import mimetypes
import os
import re
import sys
import threading
import warnings
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from itertools import chain
from typing import IO, Any, Callable, Final, TextIO
from urllib.parse import quote

from multidict import CIMultiDict

from . import hdrs
from .helpers import _SENTINEL, parse_mimetype, sentinel
from .streams import StreamReader

__all__ = (
    "PAYLOAD_REGISTRY",
    "AsyncIterablePayload",
    "BufferedReaderPayload",
    "BytesIOPayload",
    "BytesPayload",
    "IOBasePayload",
    "JsonBytesPayload",
    "JsonPayload",
    "Payload",
    "StringIOPayload",
    "StringPayload",
    "TextIOPayload",
    "get_payload",
    "payload_type",
)

CHUNK_SIZE = 2**16
#: Chunks that may wait between the feeder and the connection.
CHANNEL_CAPACITY = 4
#: aiohttp warns (ResourceWarning) about bytes bodies larger than this.
TOO_LARGE_BYTES_BODY: Final[int] = 2**20
_CLOSE_FUTURES: set[asyncio.Future[None]] = set()

internal_logger = logging.getLogger("aioxide.internal")


# -- header helpers (aiohttp.helpers / aiohttp.http_writer) ------------------
CHAR = {chr(i) for i in range(0, 128)}
CTL = {chr(i) for i in range(0, 32)} | {chr(127)}
SEPARATORS = {
    "(", ")", "<", ">", "@", ",", ";", ":", "\\", '"',
    "/", "[", "]", "?", "=", "{", "}", " ", chr(9),
}  # fmt: skip
TOKEN = CHAR ^ CTL ^ SEPARATORS
QCONTENT = {chr(i) for i in range(0x20, 0x7F)} | {"\t"}
not_qtext_re = re.compile(r"[^\041\043-\133\135-\176]")
_FORBIDDEN_HEADER_CHARS_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _safe_header(string: str) -> str:
    if _FORBIDDEN_HEADER_CHARS_RE.search(string) is not None:
        raise ValueError(
            "Forbidden control character detected in headers. Potential header injection attack."
        )
    return string


def guess_filename(obj: Any, default: str | None = None) -> str | None:
    name = getattr(obj, "name", None)
    if name and isinstance(name, str) and name[0] != "<" and name[-1] != ">":
        return os.path.basename(name)
    return default


def quoted_string(content: str) -> str:
    """Return 7-bit content as quoted-string (RFC 5322)."""
    if not (QCONTENT > set(content)):
        raise ValueError(f"bad content for quoted-string {content!r}")
    return not_qtext_re.sub(lambda x: "\\" + x.group(0), content)


def content_disposition_header(
    disptype: str, quote_fields: bool = True, _charset: str = "utf-8", **params: str
) -> str:
    """A MIME ``Content-Disposition`` value (RFC 2183, RFC 7578 4.2), as aiohttp."""
    if not disptype or not (TOKEN > set(disptype)):
        raise ValueError(f"bad content disposition type {disptype!r}")

    value = disptype
    if params:
        lparams = []
        for key, val in params.items():
            if not key or not (TOKEN > set(key)):
                raise ValueError(f"bad content disposition parameter {key!r}={val!r}")
            if quote_fields:
                if key.lower() == "filename":
                    qval = quote(val, "", encoding=_charset)
                    lparams.append((key, '"%s"' % qval))
                else:
                    try:
                        qval = quoted_string(val)
                    except ValueError:
                        qval = "".join((_charset, "''", quote(val, "", encoding=_charset)))
                        lparams.append((key + "*", qval))
                    else:
                        lparams.append((key, '"%s"' % qval))
            else:
                qval = val.replace("\\", "\\\\").replace('"', '\\"')
                lparams.append((key, '"%s"' % qval))
        sparams = "; ".join("=".join(pair) for pair in lparams)
        value = "; ".join((value, sparams))
    return value


if sys.version_info >= (3, 13):
    _guess_type = mimetypes.guess_file_type
else:
    _guess_type = mimetypes.guess_type


# -- the registry --------------------------------------------------------------
class LookupError(Exception):
    """Raised when no payload factory is found for the given data type."""


class Order(str, enum.Enum):
    normal = "normal"
    try_first = "try_first"
    try_last = "try_last"


#: Set once anyone registers a payload factory: the fast path of
#: ``prepare_body`` then defers to the registry.
_custom_registry = False


def get_payload(data: Any, *args: Any, **kwargs: Any) -> "Payload":
    return PAYLOAD_REGISTRY.get(data, *args, **kwargs)


def register_payload(factory: type["Payload"], type: Any, *, order: Order = Order.normal) -> None:
    PAYLOAD_REGISTRY.register(factory, type, order=order)


class payload_type:
    """Class decorator registering a Payload factory for a type."""

    def __init__(self, type: Any, *, order: Order = Order.normal) -> None:
        self.type = type
        self.order = order

    def __call__(self, factory: type["Payload"]) -> type["Payload"]:
        register_payload(factory, self.type, order=self.order)
        return factory


_PayloadRegistryItem = tuple[type["Payload"], Any]


class PayloadRegistry:
    """Payload registry (as aiohttp's)."""

    __slots__ = ("_first", "_normal", "_last", "_normal_lookup")

    def __init__(self) -> None:
        self._first: list[_PayloadRegistryItem] = []
        self._normal: list[_PayloadRegistryItem] = []
        self._last: list[_PayloadRegistryItem] = []
        self._normal_lookup: dict[Any, type[Payload]] = {}

    def get(self, data: Any, *args: Any, **kwargs: Any) -> "Payload":
        if self._first:
            for factory, type_ in self._first:
                if isinstance(data, type_):
                    return factory(data, *args, **kwargs)
        lookup_factory = self._normal_lookup.get(type(data))
        if lookup_factory is not None:
            return lookup_factory(data, *args, **kwargs)
        if isinstance(data, Payload):
            return data
        for factory, type_ in chain(self._normal, self._last):
            if isinstance(data, type_):
                return factory(data, *args, **kwargs)
        raise LookupError()

    def register(
        self,
        factory: type["Payload"],
        type: Any,
        *,
        order: Order = Order.normal,
        _builtin: bool = False,
    ) -> None:
        global _custom_registry
        if order is Order.try_first:
            self._first.append((factory, type))
        elif order is Order.normal:
            self._normal.append((factory, type))
            if isinstance(type, Iterable):
                for t in type:
                    self._normal_lookup[t] = factory
            else:
                self._normal_lookup[type] = factory
        elif order is Order.try_last:
            self._last.append((factory, type))
        else:
            raise ValueError(f"Unsupported order {order!r}")
        if not _builtin:
            _custom_registry = True


# -- payloads ------------------------------------------------------------------
class Payload(ABC):
    """A request body (or a multipart part), as aiohttp's."""

    _default_content_type: str = "application/octet-stream"
    _size: int | None = None
    _consumed: bool = False
    _autoclose: bool = False

    def __init__(
        self,
        value: Any,
        headers: Any = None,
        content_type: str | None | _SENTINEL = sentinel,
        filename: str | None = None,
        encoding: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._encoding = encoding
        self._filename = filename
        self._headers: CIMultiDict[str] = CIMultiDict()
        self._value = value
        if content_type is not sentinel and content_type is not None:
            assert isinstance(content_type, str)
            self._headers[hdrs.CONTENT_TYPE] = content_type
        elif self._filename is not None:
            guessed = _guess_type(self._filename)[0]
            if guessed is None:
                guessed = self._default_content_type
            self._headers[hdrs.CONTENT_TYPE] = guessed
        else:
            self._headers[hdrs.CONTENT_TYPE] = self._default_content_type
        if headers:
            self._headers.update(headers)

    @property
    def size(self) -> int | None:
        """Size of the payload in bytes (None when unknown)."""
        return self._size

    @property
    def filename(self) -> str | None:
        """Filename of the payload."""
        return self._filename

    @property
    def headers(self) -> CIMultiDict[str]:
        """Custom item headers."""
        return self._headers

    @property
    def _binary_headers(self) -> bytes:
        return (
            "".join(
                _safe_header(k) + ": " + _safe_header(v) + "\r\n" for k, v in self.headers.items()
            ).encode("utf-8")
            + b"\r\n"
        )

    @property
    def encoding(self) -> str | None:
        """Payload encoding."""
        return self._encoding

    @property
    def content_type(self) -> str:
        """Content type."""
        return self._headers[hdrs.CONTENT_TYPE]

    @property
    def consumed(self) -> bool:
        """Whether the payload has been consumed and cannot be reused."""
        return self._consumed

    @property
    def autoclose(self) -> bool:
        """Whether the payload holds no resource that needs closing."""
        return self._autoclose

    def set_content_disposition(
        self,
        disptype: str,
        quote_fields: bool = True,
        _charset: str = "utf-8",
        **params: Any,
    ) -> None:
        """Sets ``Content-Disposition`` header."""
        self._headers[hdrs.CONTENT_DISPOSITION] = content_disposition_header(
            disptype, quote_fields=quote_fields, _charset=_charset, **params
        )

    @abstractmethod
    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        """Return string representation of the value."""

    @abstractmethod
    async def write(self, writer: Any) -> None:
        """Write payload to the writer stream."""

    async def write_with_length(self, writer: Any, content_length: int | None) -> None:
        """Write payload, at most ``content_length`` bytes (None: all)."""
        await self.write(writer)

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        actual_encoding = self._encoding or encoding
        return self.decode(actual_encoding, errors).encode(actual_encoding)

    def _close(self) -> None:  # noqa: B027 - a no-op unless overridden (as aiohttp)
        """Synchronous, non-blocking close (kept for backwards compatibility)."""

    async def close(self) -> None:
        """Close the payload if it holds any resources."""
        self._close()

    # -- aioxide: how the body reaches the engine ----------------------------
    def _mem(self) -> bytes | None:
        """The whole body when it is in memory (no I/O needed), else None."""
        return None

    def _chunks(self) -> AsyncIterator[bytes]:
        """The body as chunks (only for aioxide's own payload classes)."""
        raise NotImplementedError


async def _write_chunks(
    chunks: AsyncIterator[bytes], writer: Any, content_length: int | None
) -> None:
    """Write ``chunks`` to ``writer``, at most ``content_length`` bytes."""
    remaining = content_length
    async for chunk in chunks:
        if remaining is None:
            await writer.write(chunk)
            continue
        await writer.write(chunk[:remaining])
        remaining -= len(chunk)
        if remaining <= 0:
            break  # the rest is not read (a source may never end)


class BytesPayload(Payload):
    _value: bytes
    _autoclose = True

    def __init__(self, value: bytes | bytearray | memoryview, *args: Any, **kwargs: Any) -> None:
        if "content_type" not in kwargs:
            kwargs["content_type"] = "application/octet-stream"

        super().__init__(value, *args, **kwargs)

        if isinstance(value, memoryview):
            self._size = value.nbytes
        elif isinstance(value, (bytes, bytearray)):
            self._size = len(value)
        else:
            raise TypeError(f"value argument must be byte-ish, not {type(value)!r}")

        if self._size > TOO_LARGE_BYTES_BODY:
            warnings.warn(
                "Sending a large body directly with raw bytes might"
                " lock the event loop. You should probably pass an "
                "io.BytesIO object instead",
                ResourceWarning,
                stacklevel=2,
                source=self,
            )

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return self._value.decode(encoding, errors)

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return self._value

    async def write(self, writer: Any) -> None:
        await writer.write(self._value)

    async def write_with_length(self, writer: Any, content_length: int | None) -> None:
        if content_length is not None:
            await writer.write(self._value[:content_length])
        else:
            await writer.write(self._value)

    def _mem(self) -> bytes:
        v = self._value
        return v if type(v) is bytes else bytes(v)

    async def _chunks(self) -> AsyncIterator[bytes]:
        yield self._mem()


class StringPayload(BytesPayload):
    def __init__(
        self,
        value: str,
        *args: Any,
        encoding: str | None = None,
        content_type: str | None = None,
        **kwargs: Any,
    ) -> None:
        if encoding is None:
            if content_type is None:
                real_encoding = "utf-8"
                content_type = "text/plain; charset=utf-8"
            else:
                mimetype = parse_mimetype(content_type)
                real_encoding = mimetype.parameters.get("charset", "utf-8")
        else:
            if content_type is None:
                content_type = "text/plain; charset=%s" % encoding
            real_encoding = encoding

        super().__init__(
            value.encode(real_encoding),
            *args,
            encoding=real_encoding,
            content_type=content_type,
            **kwargs,
        )


class StringIOPayload(StringPayload):
    def __init__(self, value: IO[str], *args: Any, **kwargs: Any) -> None:
        super().__init__(value.read(), *args, **kwargs)


#: What a file payload made without IOBasePayload.__init__ locks with.
_NO_LOCK = contextlib.nullcontext()


class IOBasePayload(Payload):
    _value: io.IOBase
    _start_position: int | None = None
    #: Held by each read of the file in the executor, with the seek before it.
    _io_lock: threading.Lock | None = None

    def __init__(
        self, value: IO[Any], disposition: str | None = "attachment", *args: Any, **kwargs: Any
    ) -> None:
        if "filename" not in kwargs:
            kwargs["filename"] = guess_filename(value)

        super().__init__(value, *args, **kwargs)
        self._io_lock = threading.Lock()

        if self._filename is not None and disposition is not None:
            if hdrs.CONTENT_DISPOSITION not in self.headers:
                self.set_content_disposition(disposition, filename=self._filename)

    def _set_or_restore_start_position(self) -> None:
        """Set or restore the start position of the file-like object."""
        if self._start_position is None:
            try:
                self._start_position = self._value.tell()
            except (OSError, AttributeError):
                self._consumed = True  # cannot seek: cannot be sent again
            return
        try:
            self._value.seek(self._start_position)
        except (OSError, AttributeError):
            self._consumed = True

    def _read_and_available_len(
        self, remaining_content_len: int | None
    ) -> tuple[int | None, bytes]:
        self._set_or_restore_start_position()
        size = self.size
        return size, self._value.read(
            min(CHUNK_SIZE, size or CHUNK_SIZE, remaining_content_len or CHUNK_SIZE)
        )

    def _read(self, remaining_content_len: int | None) -> bytes:
        data: bytes = self._value.read(remaining_content_len or CHUNK_SIZE)
        return data

    @property
    def size(self) -> int | None:
        """Bytes from the start position to the end of the file (None: unknown)."""
        try:
            if self._start_position is None:
                self._start_position = self._value.tell()
            return os.fstat(self._value.fileno()).st_size - self._start_position
        except (AttributeError, OSError):
            return None

    async def write(self, writer: Any) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(self, writer: Any, content_length: int | None) -> None:
        await _write_chunks(self._chunks(content_length), writer, content_length)

    async def _chunks(self, limit: int | None = None) -> AsyncIterator[bytes]:
        # Reads happen in the default executor, a chunk at a time, and stop at
        # the size known when reading began, or at ``limit`` (as aiohttp).
        loop = asyncio.get_running_loop()
        available, chunk, pos = await loop.run_in_executor(None, self._first_read, limit)
        if limit is not None:
            available = limit if available is None else min(available, limit)
        written = 0
        while chunk:
            if available is not None and written + len(chunk) > available:
                chunk = chunk[: available - written]
            written += len(chunk)
            yield chunk
            if available is not None and written >= available:
                return
            want = CHUNK_SIZE if available is None else min(CHUNK_SIZE, available - written)
            chunk, pos = await loop.run_in_executor(None, self._read_at, pos, want)

    # A body sent again (a retry on a fresh connection, a 307) starts a second
    # pass over the file while a read of the first may still be running in
    # the executor: each pass reads from where its own last read ended.

    def _first_read(self, limit: int | None) -> tuple[int | None, bytes, Any]:
        with self._io_lock or _NO_LOCK:
            size, chunk = self._read_and_available_len(limit)
            return size, chunk, self._position()

    def _read_at(self, pos: Any, want: int) -> tuple[bytes, Any]:
        with self._io_lock or _NO_LOCK:
            if pos is not None:
                self._value.seek(pos)
            return self._read(want), self._position()

    def _position(self) -> Any:
        """Where the file is (None: it cannot seek, or it is read once)."""
        if self._consumed or self._start_position is None:
            return None
        try:
            return self._value.tell()
        except (OSError, AttributeError, ValueError):
            return None

    def _close(self) -> None:
        if self._consumed:
            return
        self._consumed = True
        # Closed in the executor, not awaited (as aiohttp).
        loop = asyncio.get_running_loop()
        close_future = loop.run_in_executor(None, self._value.close)
        _CLOSE_FUTURES.add(close_future)
        close_future.add_done_callback(_CLOSE_FUTURES.remove)

    async def close(self) -> None:
        self._close()

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return self._read_all().decode(encoding, errors)

    def _read_all(self) -> bytes:
        self._set_or_restore_start_position()
        return b"".join(self._value.readlines())

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._read_all)


class TextIOPayload(IOBasePayload):
    _value: io.TextIOBase

    def __init__(
        self,
        value: TextIO,
        *args: Any,
        encoding: str | None = None,
        content_type: str | None = None,
        **kwargs: Any,
    ) -> None:
        if encoding is None:
            if content_type is None:
                encoding = "utf-8"
                content_type = "text/plain; charset=utf-8"
            else:
                mimetype = parse_mimetype(content_type)
                encoding = mimetype.parameters.get("charset", "utf-8")
        else:
            if content_type is None:
                content_type = "text/plain; charset=%s" % encoding

        super().__init__(value, *args, content_type=content_type, encoding=encoding, **kwargs)

    def _read_and_available_len(
        self, remaining_content_len: int | None
    ) -> tuple[int | None, bytes]:
        self._set_or_restore_start_position()
        size = self.size
        chunk = self._value.read(
            min(CHUNK_SIZE, size or CHUNK_SIZE, remaining_content_len or CHUNK_SIZE)
        )
        return size, chunk.encode(self._encoding) if self._encoding else chunk.encode()

    def _read(self, remaining_content_len: int | None) -> bytes:
        chunk = self._value.read(remaining_content_len or CHUNK_SIZE)
        return chunk.encode(self._encoding) if self._encoding else chunk.encode()

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        self._set_or_restore_start_position()
        return self._value.read()

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        loop = asyncio.get_running_loop()
        actual_encoding = self._encoding or encoding

        def _read_and_encode() -> bytes:
            self._set_or_restore_start_position()
            return self._value.read().encode(actual_encoding, errors)

        return await loop.run_in_executor(None, _read_and_encode)


class BytesIOPayload(IOBasePayload):
    _value: io.BytesIO
    _size: int
    _autoclose = True

    def __init__(self, value: io.BytesIO, *args: Any, **kwargs: Any) -> None:
        super().__init__(value, *args, **kwargs)
        with self._value.getbuffer() as buf:
            self._size = len(buf) - self._value.tell()

    @property
    def size(self) -> int:
        return self._size

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        self._set_or_restore_start_position()
        return self._value.read().decode(encoding, errors)

    async def write(self, writer: Any) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(self, writer: Any, content_length: int | None) -> None:
        await _write_chunks(self._chunks(content_length), writer, content_length)

    async def _chunks(self, limit: int | None = None) -> AsyncIterator[bytes]:
        self._set_or_restore_start_position()
        pos = self._value.tell()
        first = True
        left = limit
        while left is None or left > 0:
            self._value.seek(pos)  # (another pass may have moved it meanwhile)
            chunk = self._value.read(CHUNK_SIZE if left is None else min(CHUNK_SIZE, left))
            if not chunk:
                return
            pos += len(chunk)
            if left is not None:
                left -= len(chunk)
            if not first:
                await asyncio.sleep(0)  # a large buffer must not block the loop
            first = False
            yield chunk

    def _mem(self) -> bytes:
        self._set_or_restore_start_position()
        return self._value.read()

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        self._set_or_restore_start_position()
        return self._value.read()

    async def close(self) -> None:
        """In memory: nothing to close."""


class BufferedReaderPayload(IOBasePayload):
    _value: io.BufferedIOBase

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        self._set_or_restore_start_position()
        return self._value.read().decode(encoding, errors)


class JsonPayload(BytesPayload):
    def __init__(
        self,
        value: Any,
        encoding: str = "utf-8",
        content_type: str = "application/json",
        dumps: Callable[[Any], str] = _json_mod.dumps,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            dumps(value).encode(encoding),
            *args,
            content_type=content_type,
            encoding=encoding,
            **kwargs,
        )


class JsonBytesPayload(BytesPayload):
    """JSON payload for encoders that return bytes directly."""

    def __init__(
        self,
        value: Any,
        dumps: Callable[[Any], bytes],
        content_type: str = "application/json",
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(dumps(value), *args, content_type=content_type, **kwargs)


class AsyncIterablePayload(Payload):
    _iter: AsyncIterator[bytes] | None = None
    _value: AsyncIterable[bytes]
    _cached_chunks: list[bytes] | None = None
    _autoclose = True

    def __init__(self, value: AsyncIterable[bytes], *args: Any, **kwargs: Any) -> None:
        if not isinstance(value, AsyncIterable):
            raise TypeError(
                "value argument must support "
                "collections.abc.AsyncIterable interface, "
                f"got {type(value)!r}"
            )

        if "content_type" not in kwargs:
            kwargs["content_type"] = "application/octet-stream"

        super().__init__(value, *args, **kwargs)

        self._iter = value.__aiter__()

    async def write(self, writer: Any) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(self, writer: Any, content_length: int | None) -> None:
        await _write_chunks(self._chunks(), writer, content_length)

    async def _chunks(self) -> AsyncIterator[bytes]:
        if self._cached_chunks is not None:
            for chunk in self._cached_chunks:
                yield chunk
            return
        it = self._iter
        if it is None:
            return
        # Advancing the iterator cannot be undone: the payload cannot be replayed.
        self._consumed = True
        try:
            while True:
                try:
                    chunk = await it.__anext__()
                except StopAsyncIteration:
                    self._iter = None
                    return
                yield chunk
        finally:
            if self._iter is not None:
                # Left before its end (the request was cancelled or failed):
                # the user's generator is closed now, not by the collector.
                self._iter = None
                await close_source(it)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        if self._cached_chunks is not None:
            return b"".join(self._cached_chunks).decode(encoding, errors)
        raise TypeError("Unable to decode - content not cached. Call as_bytes() first.")

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        if self._cached_chunks is not None:
            return b"".join(self._cached_chunks)
        if self._iter is None:
            return b""
        chunks: list[bytes] = []
        async for chunk in self._iter:
            chunks.append(chunk)
        self._iter = None
        self._cached_chunks = chunks
        return b"".join(chunks)


class StreamReaderPayload(AsyncIterablePayload):
    def __init__(self, value: StreamReader, *args: Any, **kwargs: Any) -> None:
        super().__init__(value.iter_any(), *args, **kwargs)


PAYLOAD_REGISTRY = PayloadRegistry()
for _factory, _type in (
    (BytesPayload, (bytes, bytearray, memoryview)),
    (StringPayload, str),
    (StringIOPayload, io.StringIO),
    (TextIOPayload, io.TextIOBase),
    (BytesIOPayload, io.BytesIO),
    (BufferedReaderPayload, (io.BufferedReader, io.BufferedRandom)),
    (IOBasePayload, io.IOBase),
    (StreamReaderPayload, StreamReader),
):
    PAYLOAD_REGISTRY.register(_factory, _type, _builtin=True)
# try_last: more specialised async iterables (multipart's BodyPartReader) go first.
PAYLOAD_REGISTRY.register(AsyncIterablePayload, AsyncIterable, order=Order.try_last, _builtin=True)

# The write methods whose bytes ``_chunks``/``_mem`` reproduce; a subclass that
# overrides them is driven through its own write() instead (``_Adapter``).
_NATIVE_WRITE: set[Any] = {
    BytesPayload.write,
    IOBasePayload.write,
    BytesIOPayload.write,
    AsyncIterablePayload.write,
}
_NATIVE_WRITE_WITH_LENGTH: set[Any] = {
    BytesPayload.write_with_length,
    IOBasePayload.write_with_length,
    BytesIOPayload.write_with_length,
    AsyncIterablePayload.write_with_length,
}


def _native(p: Payload, top: bool) -> bool:
    """Whether ``p``'s bytes are those of its ``_chunks``.

    ``top``: p is the request body, written with write_with_length (a
    multipart part is written with write, as aiohttp does).
    """
    cls = type(p)
    if top:
        wwl = cls.write_with_length
        if wwl is not Payload.write_with_length:
            return wwl in _NATIVE_WRITE_WITH_LENGTH
    return cls.write in _NATIVE_WRITE


def _payload_mem(p: Payload, top: bool) -> bytes | None:
    return p._mem() if _native(p, top) else None


def _payload_chunks(p: Payload, top: bool) -> AsyncIterator[bytes]:
    return p._chunks() if _native(p, top) else _adapt(p, top)


class _QueueWriter:
    """The writer handed to a foreign Payload.write: chunks go into a queue."""

    def __init__(self, queue: asyncio.Queue[Any]) -> None:
        self._queue = queue
        self.buffer_size = 0
        self.output_size = 0

    async def write(self, chunk: Any, *args: Any, **kwargs: Any) -> None:
        if chunk:
            data = bytes(chunk)
            self.buffer_size += len(data)
            self.output_size += len(data)
            await self._queue.put(data)

    async def drain(self) -> None:
        pass

    async def write_eof(self, chunk: bytes = b"") -> None:
        if chunk:
            await self.write(chunk)


_DONE = object()


async def _adapt(p: Payload, top: bool) -> AsyncIterator[bytes]:
    """Run ``p.write`` (a Payload subclass of the user's) and yield what it writes."""
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=CHANNEL_CAPACITY)
    writer = _QueueWriter(queue)

    async def run() -> None:
        try:
            if top:
                await p.write_with_length(writer, None)
            else:
                await p.write(writer)
        except asyncio.CancelledError:
            raise  # the reader is gone
        except BaseException as e:  # handed over to the reader, raised there
            await queue.put((_DONE, e))
            return
        await queue.put((_DONE, None))

    task = asyncio.get_running_loop().create_task(run())
    try:
        while True:
            item = await queue.get()
            if type(item) is tuple:
                if item[1] is not None:
                    raise item[1]
                return
            yield item
    finally:
        if not task.done():
            task.cancel()


async def close_source(it: Any) -> None:
    """Close an async generator a request body came from, once the request
    no longer reads it (exhausted, cancelled or failed): its ``finally``
    runs now, not when it is garbage collected."""
    aclose = getattr(it, "aclose", None)
    if aclose is None:
        return
    try:
        await aclose()
    except Exception:  # the request's own outcome is what is reported
        pass
