"""A request body as the engine takes it (``prepare_body``): whole bytes,
or a source streamed in while the request runs (``Feeder``), a seekable one
offered again for a 307/308 (``Rewinder``).  Apart from payload.py (aiohttp's
Payload classes) so that neither it nor formdata.py imports the other: this
module uses both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, Awaitable, Callable
from urllib.parse import urlencode

from . import _interop, hdrs, payload
from ._aioxide import BodyWriter, body_channel
from ._bridge import call_engine
from .client_exceptions import ClientConnectionError
from .formdata import FormData
from .multipart import MultipartWriter
from .payload import (
    _FORBIDDEN_HEADER_CHARS_RE,
    CHANNEL_CAPACITY,
    CHUNK_SIZE,
    PAYLOAD_REGISTRY,
    BytesPayload,
    IOBasePayload,
    Payload,
    _payload_chunks,
    _payload_mem,
    close_source,
    internal_logger,
)

__all__ = ("Feeder", "Prepared", "Rewinder", "close_source", "prepare_body")


class Prepared:
    """A request body: bytes, or a source to stream, with its headers."""

    __slots__ = ("data", "source", "length", "content_type", "headers", "payload", "close_after")

    def __init__(
        self,
        data: bytes | None = None,
        source: Any = None,
        length: int | None = None,
        content_type: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.data = data
        self.source = source
        self.length = length
        self.content_type = content_type
        self.headers = headers or []
        self.payload: Any = None
        # A Payload whose bytes were taken: closed once the request is over
        # (as aiohttp closes the request's body), answered or failed.
        self.close_after: Payload | None = None


#: A request without a body (never changed: only a body's source is rewound).
_NO_BODY = Prepared()

_FRAMING = frozenset({"content-type", "content-length", "transfer-encoding"})


def _prepare_payload(p: Payload) -> Prepared:
    """A Payload as the engine takes it: whole bytes, or a stream and its size."""
    headers = p.headers
    content_type = headers.get(hdrs.CONTENT_TYPE)
    extra = [(str(k), v) for k, v in headers.items() if k.lower() not in _FRAMING]
    mem = _payload_mem(p, True)
    if mem is not None:
        prepared = Prepared(mem, content_type=content_type, headers=extra)
        prepared.close_after = p
        return prepared
    size = p.size
    prepared = Prepared(
        source=_body_source(p, size), length=size, content_type=content_type, headers=extra
    )
    prepared.payload = p
    return prepared


async def _body_source(p: Payload, length: int | None, close: bool = True) -> AsyncIterator[bytes]:
    """The chunks of a streamed body; the payload is closed afterwards (as
    aiohttp), unless the request closes it itself (it may send it again)."""
    chunks = _payload_chunks(p, True)
    try:
        if length is None:
            async for chunk in chunks:
                if chunk:
                    yield chunk
        else:
            # Never more than the Content-Length announced (aiohttp's writer
            # cuts the excess too).
            left = length
            async for chunk in chunks:
                if left <= 0:
                    break
                if len(chunk) > left:
                    chunk = chunk[:left]
                left -= len(chunk)
                if chunk:
                    yield chunk
    finally:
        await close_source(chunks)
        if close:
            await close_payload(p)


async def close_payload(p: Payload) -> None:
    """Close a request's Payload; a failing close() is logged, not raised."""
    try:
        await p.close()
    except Exception:  # pragma: no cover - a user's close() failing
        internal_logger.exception("Failed to close the request body %r", p)


class Rewinder:
    """Sends a seekable payload again from its start, when the engine asks
    (a 307/308 redirect keeps the body): aiohttp re-sends files so."""

    __slots__ = ("payload", "length", "loop", "bridge", "feeders", "feed_on")

    def __init__(self, prepared: Prepared, loop: asyncio.AbstractEventLoop, bridge: Any) -> None:
        self.payload: Payload = prepared.payload
        self.length = prepared.length
        self.loop = loop
        self.bridge = bridge
        self.feeders: list[Feeder] = []
        self.feed_on = False
        # The first pass must not close it: this request may send it again.
        prepared.source = _body_source(self.payload, self.length, close=False)

    @staticmethod
    def applies(prepared: Prepared) -> bool:
        p = getattr(prepared, "payload", None)
        return p is not None and _sendable_again(p)

    def __call__(self, token: Any) -> None:
        if self.payload.consumed:
            token.set(None)
            return
        again = Prepared(source=_body_source(self.payload, self.length, close=False))
        again.length = self.length
        feeder = Feeder(again)
        feeder.start(again.source, self.loop, self.bridge)
        self.feeders.append(feeder)
        token.set(feeder.reader)

    def answered(self, first: Feeder) -> None:
        """The request was answered: its bodies (the first pass's too) are fed
        to their end, or until the request stops reading them, before ``close``
        closes the payload (see ``keep_feeding``)."""
        self.feeders.insert(0, first)
        self.feed_on = True

    async def close(self) -> None:
        if not (self.feed_on and keep_feeding(self.feeders, self._close)):
            await self._close()

    async def _close(self) -> None:
        for f in self.feeders:
            f.stop()
        try:
            await self.payload.close()
        except Exception:  # pragma: no cover - a user's close() failing
            internal_logger.exception("Failed to close the request body %r", self.payload)


def _sendable_again(p: Payload) -> bool:
    """Whether a streamed payload can be sent again from its start (aiohttp
    re-sends it on a 307/308): a file that can seek back, or a multipart body
    (FormData with files) whose every part is in memory or such a file."""
    if p.consumed:
        return False
    if isinstance(p, IOBasePayload):
        return True
    if isinstance(p, MultipartWriter):
        return all(
            isinstance(part, BytesPayload) or _sendable_again(part) for part, _, _ in p._parts
        )
    return False


# -- prepare_body --------------------------------------------------------------
_PLAIN = (str, int, float)


def prepare_body(
    data: Any,
    json: Any,
    json_serialize: Callable[[Any], str],
    json_serialize_bytes: Callable[[Any], bytes] | None = None,
) -> Prepared:
    """The body of a request, as aiohttp's payload registry would make it."""
    if data is not None and json is not None:
        raise ValueError("data and json parameters can not be used at the same time")
    if json is not None:
        if json_serialize_bytes is not None:
            return Prepared(json_serialize_bytes(json), content_type="application/json")
        return Prepared(json_serialize(json).encode("utf-8"), content_type="application/json")
    if data is None:
        return _NO_BODY
    if not payload._custom_registry:  # (read each time: payload_type() sets it)
        # Fast path: no Payload object for the common bodies.
        if isinstance(data, bytes):
            return Prepared(data, content_type="application/octet-stream")
        if isinstance(data, str):
            return Prepared(data.encode("utf-8"), content_type="text/plain; charset=utf-8")
        if isinstance(data, (bytearray, memoryview)):
            return Prepared(bytes(data), content_type="application/octet-stream")
        if isinstance(data, dict):
            items: Any = data.items()
        elif isinstance(data, (list, tuple)):
            items = data
        else:
            items = None
        if items is not None and _plain_form(items):
            return Prepared(
                urlencode(list(items), doseq=True).encode(),
                content_type="application/x-www-form-urlencoded",
            )
    return _prepare_slow(data)


def _plain_form(items: Any) -> bool:
    """Fields that FormData would url-encode as they are (str names, plain values)."""
    names = []
    for item in items:
        if type(item) is not tuple or len(item) != 2:
            return False
        name, value = item
        if type(name) is not str or not isinstance(value, _PLAIN):
            return False
        names.append(name)
    return _FORBIDDEN_HEADER_CHARS_RE.search("".join(names)) is None


def _prepare_slow(data: Any) -> Prepared:

    if isinstance(data, FormData):
        data = data()
    elif _interop.is_form_data(data):
        data = data()  # aiohttp's FormData gives aiohttp's payload
    if _interop.is_payload(data):
        return _prepare_payload(data)
    try:
        p = PAYLOAD_REGISTRY.get(data, disposition=None)
    except payload.LookupError:  # (the registry's own, not the builtin)
        p = FormData(data)()
    return _prepare_payload(p)


class Feeder:
    """Streams a body source into the engine while the request runs."""

    __slots__ = ("writer", "reader", "task", "error", "stopping")

    def __init__(self, prepared: Prepared) -> None:
        self.writer, self.reader = body_channel(CHANNEL_CAPACITY, prepared.length)
        self.task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None
        self.stopping = False

    def start(self, source: Any, loop: asyncio.AbstractEventLoop, bridge: Any) -> None:
        self.task = loop.create_task(self._run(source, loop, bridge))

    async def _run(self, source: Any, loop: asyncio.AbstractEventLoop, bridge: Any) -> None:
        writer: BodyWriter = self.writer
        try:
            if isinstance(source, AsyncIterable):
                it = source.__aiter__()
                try:
                    async for chunk in it:
                        if type(chunk) is not bytes:
                            chunk = _bytes_like(chunk)
                        if not await _send(writer, chunk, loop, bridge):
                            return
                finally:
                    await close_source(it)
            else:
                read = source.read
                while True:
                    chunk = await loop.run_in_executor(None, read, CHUNK_SIZE)
                    if not chunk:
                        break
                    if isinstance(chunk, str):
                        chunk = chunk.encode("utf-8")
                    if not await _send(writer, chunk, loop, bridge):
                        return
            writer.close()
        except asyncio.CancelledError as e:
            writer.abort("cancelled")
            if self.stopping:
                raise
            # (Raised by the source itself, not a stop: its failure, as any.)
            self.error = e
        except BaseException as e:  # the request fails with this
            self.error = e
            writer.abort(repr(e))

    async def raise_source_error(self) -> None:
        """The request failed: a failing body source is the cause to report
        (as aiohttp), as a ClientConnectionError."""
        if self.task is not None and not self.task.done():
            await asyncio.wait([self.task], timeout=1)
        if self.error is not None:
            raise ClientConnectionError(
                f"Failed to send bytes into the underlying connection: {self.error!r}"
            ) from self.error

    def stop(self) -> None:
        """The request is over: stop feeding."""
        if self.task is not None and not self.task.done():
            self.stopping = True
            self.task.cancel()
        self.writer.close()


def _bytes_like(chunk: Any) -> bytes:
    """A chunk from an async iterable body: bytes-like, as aiohttp's writer
    takes (``bytes(1000)`` would make a thousand zero bytes of an int)."""
    try:
        return memoryview(chunk).tobytes()
    except TypeError:
        raise TypeError(f"a body chunk must be bytes-like, not {type(chunk).__name__!r}") from None


async def _send(
    writer: BodyWriter, chunk: bytes, loop: asyncio.AbstractEventLoop, bridge: Any
) -> bool:
    """Queue a chunk; False when the request no longer reads its body."""
    if not chunk:
        return True
    try:
        if writer.try_send(chunk):
            return True
    except ConnectionError:
        return False
    return bool(await call_engine(loop, bridge, writer.send, chunk))


#: Feeding that goes on after its request was answered (the loop holds a
#: task only weakly).
_FEEDING: set[asyncio.Task[None]] = set()


def keep_feeding(feeders: list[Feeder], after: Callable[[], Awaitable[None]] | None = None) -> bool:
    """The request was answered while its body is still being fed: a server
    may answer before it read an upload, or stream its answer as it reads it.
    Its feeders go on until their source ends or the request stops reading
    the body (the engine drops it with the response or its connection), then
    ``after`` runs; stopping them now would end the body early as if it were
    complete.  False when none is still feeding."""
    tasks = [f.task for f in feeders if f.task is not None and not f.task.done()]
    if not tasks:
        return False
    task = asyncio.ensure_future(_feed_on(feeders, tasks, after))
    _FEEDING.add(task)
    task.add_done_callback(_FEEDING.discard)
    return True


async def _feed_on(
    feeders: list[Feeder],
    tasks: list[asyncio.Task[None]],
    after: Callable[[], Awaitable[None]] | None,
) -> None:
    try:
        await asyncio.wait(tasks)
    finally:
        for f in feeders:
            f.stop()
        if after is not None:
            await after()
