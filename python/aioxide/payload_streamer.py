"""aiohttp's deprecated ``@streamer``: a coroutine that writes a request
body to the writer it is given, used as ``data=``::

    @aioxide.streamer
    async def file_sender(writer, file_name=None):
        with open(file_name, "rb") as f:
            chunk = f.read(2**16)
            while chunk:
                await writer.write(chunk)
                chunk = f.read(2**16)

    async with session.post(url, data=file_sender(file_name="huge_file")) as resp:
        ...

Async generators do the same without a decorator (aiohttp says so too).
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from .payload import PAYLOAD_REGISTRY, Payload

__all__ = ("streamer",)


class _stream_wrapper:
    def __init__(
        self,
        coro: Callable[..., Awaitable[None]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self.coro = types.coroutine(coro)
        self.args = args
        self.kwargs = kwargs

    async def __call__(self, writer: Any) -> None:
        await self.coro(writer, *self.args, **self.kwargs)


class streamer:
    def __init__(self, coro: Callable[..., Awaitable[None]]) -> None:
        warnings.warn(
            "@streamer is deprecated, use async generators instead",
            DeprecationWarning,
            stacklevel=2,
        )
        self.coro = coro

    def __call__(self, *args: Any, **kwargs: Any) -> _stream_wrapper:
        return _stream_wrapper(self.coro, args, kwargs)


class StreamWrapperPayload(Payload):
    async def write(self, writer: Any) -> None:
        await self._value(writer)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("Unable to decode.")


class StreamPayload(StreamWrapperPayload):
    def __init__(self, value: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(value(), *args, **kwargs)

    async def write(self, writer: Any) -> None:
        await self._value(writer)


# (Registered as aioxide's own payloads: they leave the registry's fast path on.)
PAYLOAD_REGISTRY.register(StreamWrapperPayload, _stream_wrapper, _builtin=True)
PAYLOAD_REGISTRY.register(StreamPayload, streamer, _builtin=True)
