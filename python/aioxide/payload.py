"""Request bodies (``aiohttp.payload``): what ``data=`` and ``json=`` become.

Bytes at hand go to the engine whole.  A file object or an async iterable is
streamed: a feeder task on the event loop reads it (files in the default
executor) and pushes chunks into a bounded engine channel, so a large upload
never sits whole in memory.
"""

from __future__ import annotations

import asyncio
import io
import mimetypes
import os
from collections.abc import AsyncIterable, Mapping
from typing import Any, Callable
from urllib.parse import urlencode

from ._aioxide import BodyWriter, body_channel
from ._bridge import call_engine

__all__ = (
    "PAYLOAD_REGISTRY",
    "AsyncIterablePayload",
    "BufferedReaderPayload",
    "BytesIOPayload",
    "BytesPayload",
    "IOBasePayload",
    "JsonPayload",
    "Payload",
    "Prepared",
    "StringIOPayload",
    "StringPayload",
    "TextIOPayload",
    "get_payload",
    "payload_type",
    "prepare_body",
)

CHUNK_SIZE = 2**16
#: Chunks that may wait between the feeder and the connection.
CHANNEL_CAPACITY = 4


class Prepared:
    """A request body: bytes, or a source to stream, with its headers."""

    __slots__ = ("data", "source", "length", "content_type", "headers")

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


def _not_supported(what: str) -> NotImplementedError:
    return NotImplementedError(f"aioxide does not support {what} yet; see docs/COMPATIBILITY.md")


def _guess_filename(obj: Any) -> str | None:
    name = getattr(obj, "name", None)
    if name and isinstance(name, str) and name[0] != "<" and name[-1] != ">":
        return os.path.basename(name)
    return None


def _file_length(f: Any) -> int | None:
    """Bytes left in a file object, when it can tell."""
    try:
        pos = f.tell()
    except (OSError, AttributeError, ValueError):
        return None
    if isinstance(f, io.BytesIO):
        return len(f.getbuffer()) - pos
    try:
        size = os.fstat(f.fileno()).st_size
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        return None
    return max(size - pos, 0)


def prepare_body(data: Any, json: Any, json_serialize: Callable[[Any], str]) -> Prepared:
    """The body of a request, as aiohttp's payload registry would make it."""
    if data is not None and json is not None:
        raise ValueError("data and json parameters can not be used at the same time")
    if json is not None:
        return Prepared(json_serialize(json).encode("utf-8"), content_type="application/json")
    if data is None:
        return Prepared()
    if isinstance(data, bytes):
        return Prepared(data, content_type="application/octet-stream")
    if isinstance(data, (bytearray, memoryview)):
        return Prepared(bytes(data), content_type="application/octet-stream")
    if isinstance(data, str):
        return Prepared(data.encode("utf-8"), content_type="text/plain; charset=utf-8")
    if isinstance(data, io.StringIO):
        return Prepared(data.read().encode("utf-8"), content_type="text/plain; charset=utf-8")
    if isinstance(data, io.TextIOBase):
        return Prepared(data.read().encode("utf-8"), content_type="text/plain; charset=utf-8")
    if isinstance(data, io.BytesIO):
        # Already in memory: sent as bytes, so a redirect can send it again.
        return Prepared(data.read(), content_type="application/octet-stream")
    if isinstance(data, (io.IOBase, io.BufferedIOBase)) or (
        hasattr(data, "read") and not isinstance(data, (Mapping, list, tuple))
    ):
        filename = _guess_filename(data)
        content_type = "application/octet-stream"
        if filename is not None:
            content_type = mimetypes.guess_type(filename)[0] or content_type
        return Prepared(
            source=data, length=_file_length(data), content_type=content_type
        )
    if isinstance(data, AsyncIterable):
        return Prepared(source=data, content_type="application/octet-stream")
    if isinstance(data, (Mapping, list, tuple)):
        items = list(data.items()) if isinstance(data, Mapping) else list(data)
        if all(isinstance(v, (str, int, float)) for _, v in items):
            return Prepared(
                urlencode(items, doseq=True).encode(),
                content_type="application/x-www-form-urlencoded",
            )
    raise _not_supported(f"data of type {type(data).__name__}")


class Feeder:
    """Streams a body source into the engine while the request runs."""

    __slots__ = ("writer", "reader", "task", "error")

    def __init__(self, prepared: Prepared) -> None:
        self.writer, self.reader = body_channel(CHANNEL_CAPACITY, prepared.length)
        self.task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None

    def start(self, source: Any, loop: asyncio.AbstractEventLoop, bridge: Any) -> None:
        self.task = loop.create_task(self._run(source, loop, bridge))

    async def _run(self, source: Any, loop: asyncio.AbstractEventLoop, bridge: Any) -> None:
        writer: BodyWriter = self.writer
        try:
            if isinstance(source, AsyncIterable):
                async for chunk in source:
                    if not await _send(writer, bytes(chunk), loop, bridge):
                        return
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
        except asyncio.CancelledError:
            writer.abort("cancelled")
            raise
        except BaseException as e:  # the request fails with this
            self.error = e
            writer.abort(repr(e))

    def stop(self) -> None:
        """The request is over: stop feeding."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self.writer.close()


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


# Placeholders for aiohttp's payload classes (filled in by the FormData/multipart work).
class Payload:
    pass


class BytesPayload(Payload):
    pass


class StringPayload(BytesPayload):
    pass


class StringIOPayload(StringPayload):
    pass


class IOBasePayload(Payload):
    pass


class TextIOPayload(IOBasePayload):
    pass


class BytesIOPayload(IOBasePayload):
    pass


class BufferedReaderPayload(IOBasePayload):
    pass


class JsonPayload(BytesPayload):
    pass


class AsyncIterablePayload(Payload):
    pass


PAYLOAD_REGISTRY: Any = None


def get_payload(data: Any, *args: Any, **kwargs: Any) -> Payload:
    raise NotImplementedError("get_payload: not yet")


def payload_type(type: Any, *, order: Any = None) -> Callable[[Any], Any]:
    raise NotImplementedError("payload_type: not yet")
