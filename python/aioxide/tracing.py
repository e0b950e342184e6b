"""Client tracing (``aiohttp.tracing``): TraceConfig, its signals and parameters.

``TraceConfig`` holds one signal per event of a request's life; the session
builds a ``Trace`` per (request, TraceConfig) whose ``send_*`` coroutines call
each handler of a signal with ``(session, trace_config_ctx, params)``, in the
order they were appended, as aiohttp does.

The signals are aiohttp's ``aiosignal.Signal`` API without the dependency: a
list of coroutine functions (any list method adds or removes one; used as a
decorator it appends) that is frozen when the session takes the TraceConfig,
after which it cannot change and ``send`` may be called.

The ``Trace*Params`` classes are frozen, slotted classes with aiohttp's fields
in aiohttp's order (positional construction, equality, hashing and repr as its
attrs classes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import MutableSequence
from types import SimpleNamespace
from typing import (
    TYPE_CHECKING,
    Any,
    Awaitable,
    Callable,
    Generic,
    Iterable,
    Iterator,
    TypeVar,
    overload,
)

if TYPE_CHECKING:
    from multidict import CIMultiDict
    from yarl import URL

    from .client import ClientSession
    from .client_reqrep import ClientResponse

__all__ = (
    "TraceConfig",
    "TraceRequestStartParams",
    "TraceRequestEndParams",
    "TraceRequestExceptionParams",
    "TraceConnectionQueuedStartParams",
    "TraceConnectionQueuedEndParams",
    "TraceConnectionCreateStartParams",
    "TraceConnectionCreateEndParams",
    "TraceConnectionReuseconnParams",
    "TraceDnsResolveHostStartParams",
    "TraceDnsResolveHostEndParams",
    "TraceDnsCacheHitParams",
    "TraceDnsCacheMissParams",
    "TraceRequestRedirectParams",
    "TraceRequestChunkSentParams",
    "TraceResponseChunkReceivedParams",
    "TraceRequestHeadersSentParams",
)

_T = TypeVar("_T")
_Receiver = Callable[..., Awaitable[object]]


class FrozenList(MutableSequence[_T], Generic[_T]):
    """A list that can be frozen (``frozenlist.FrozenList``'s behaviour).

    Once ``freeze()`` is called any change raises RuntimeError; a frozen list is
    hashable.
    """

    __slots__ = ("_frozen", "_items")

    def __init__(self, items: Iterable[_T] | None = None) -> None:
        self._frozen = False
        self._items: list[_T] = list(items) if items is not None else []

    @property
    def frozen(self) -> bool:
        return self._frozen

    def freeze(self) -> None:
        self._frozen = True

    def _check(self) -> None:
        if self._frozen:
            raise RuntimeError("Cannot modify frozen list.")

    @overload
    def __getitem__(self, index: int) -> _T: ...

    @overload
    def __getitem__(self, index: slice) -> FrozenList[_T]: ...

    def __getitem__(self, index: int | slice) -> _T | FrozenList[_T]:
        if isinstance(index, slice):
            return FrozenList(self._items[index])
        return self._items[index]

    @overload
    def __setitem__(self, index: int, value: _T) -> None: ...

    @overload
    def __setitem__(self, index: slice, value: Iterable[_T]) -> None: ...

    def __setitem__(self, index: int | slice, value: Any) -> None:
        self._check()
        self._items[index] = value

    def __delitem__(self, index: int | slice) -> None:
        self._check()
        del self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[_T]:
        return iter(self._items)

    def __reversed__(self) -> Iterator[_T]:
        return reversed(self._items)

    def __eq__(self, other: object) -> bool:
        return list(self) == other

    def __hash__(self) -> int:
        if not self._frozen:
            raise RuntimeError("Cannot hash unfrozen list.")
        return hash(tuple(self))

    def insert(self, pos: int, item: _T) -> None:
        self._check()
        self._items.insert(pos, item)

    def __repr__(self) -> str:
        return f"<FrozenList(frozen={self._frozen}, {self._items!r})>"


class Signal(FrozenList[_Receiver]):
    """A list of coroutine functions called by ``send`` (``aiosignal.Signal``'s API)."""

    __slots__ = ("_owner",)

    def __init__(self, owner: object) -> None:
        super().__init__()
        self._owner = owner

    def __repr__(self) -> str:
        return f"<Signal owner={self._owner}, frozen={self.frozen}, {list(self)!r}>"

    async def send(self, *args: Any, **kwargs: Any) -> None:
        """Call every receiver in order with the arguments; the signal must be frozen."""
        if not self.frozen:
            raise RuntimeError("Cannot send non-frozen signal.")
        for receiver in self:
            await receiver(*args, **kwargs)

    def __call__(self, func: _Receiver) -> _Receiver:
        """Decorator: append ``func`` to the signal and return it."""
        self.append(func)
        return func


class TraceConfig:
    """First-class used to trace requests launched via ClientSession objects."""

    def __init__(self, trace_config_ctx_factory: type[SimpleNamespace] = SimpleNamespace) -> None:
        self._on_request_start = Signal(self)
        self._on_request_chunk_sent = Signal(self)
        self._on_response_chunk_received = Signal(self)
        self._on_request_end = Signal(self)
        self._on_request_exception = Signal(self)
        self._on_request_redirect = Signal(self)
        self._on_connection_queued_start = Signal(self)
        self._on_connection_queued_end = Signal(self)
        self._on_connection_create_start = Signal(self)
        self._on_connection_create_end = Signal(self)
        self._on_connection_reuseconn = Signal(self)
        self._on_dns_resolvehost_start = Signal(self)
        self._on_dns_resolvehost_end = Signal(self)
        self._on_dns_cache_hit = Signal(self)
        self._on_dns_cache_miss = Signal(self)
        self._on_request_headers_sent = Signal(self)

        self._trace_config_ctx_factory = trace_config_ctx_factory

    def trace_config_ctx(self, trace_request_ctx: Any = None) -> SimpleNamespace:
        """Return a new trace_config_ctx instance."""
        return self._trace_config_ctx_factory(trace_request_ctx=trace_request_ctx)

    def freeze(self) -> None:
        self._on_request_start.freeze()
        self._on_request_chunk_sent.freeze()
        self._on_response_chunk_received.freeze()
        self._on_request_end.freeze()
        self._on_request_exception.freeze()
        self._on_request_redirect.freeze()
        self._on_connection_queued_start.freeze()
        self._on_connection_queued_end.freeze()
        self._on_connection_create_start.freeze()
        self._on_connection_create_end.freeze()
        self._on_connection_reuseconn.freeze()
        self._on_dns_resolvehost_start.freeze()
        self._on_dns_resolvehost_end.freeze()
        self._on_dns_cache_hit.freeze()
        self._on_dns_cache_miss.freeze()
        self._on_request_headers_sent.freeze()

    @property
    def on_request_start(self) -> Signal:
        return self._on_request_start

    @property
    def on_request_chunk_sent(self) -> Signal:
        return self._on_request_chunk_sent

    @property
    def on_response_chunk_received(self) -> Signal:
        return self._on_response_chunk_received

    @property
    def on_request_end(self) -> Signal:
        return self._on_request_end

    @property
    def on_request_exception(self) -> Signal:
        return self._on_request_exception

    @property
    def on_request_redirect(self) -> Signal:
        return self._on_request_redirect

    @property
    def on_connection_queued_start(self) -> Signal:
        return self._on_connection_queued_start

    @property
    def on_connection_queued_end(self) -> Signal:
        return self._on_connection_queued_end

    @property
    def on_connection_create_start(self) -> Signal:
        return self._on_connection_create_start

    @property
    def on_connection_create_end(self) -> Signal:
        return self._on_connection_create_end

    @property
    def on_connection_reuseconn(self) -> Signal:
        return self._on_connection_reuseconn

    @property
    def on_dns_resolvehost_start(self) -> Signal:
        return self._on_dns_resolvehost_start

    @property
    def on_dns_resolvehost_end(self) -> Signal:
        return self._on_dns_resolvehost_end

    @property
    def on_dns_cache_hit(self) -> Signal:
        return self._on_dns_cache_hit

    @property
    def on_dns_cache_miss(self) -> Signal:
        return self._on_dns_cache_miss

    @property
    def on_request_headers_sent(self) -> Signal:
        return self._on_request_headers_sent


# Frozen and slotted like aiohttp's attrs classes, with their ``__weakref__`` slot
# (``__slots__`` is spelled out: dataclass(slots=True) needs Python 3.10).


@dataclasses.dataclass(frozen=True)
class TraceRequestStartParams:
    """Parameters sent by the `on_request_start` signal"""

    __slots__ = ("method", "url", "headers", "__weakref__")
    method: str
    url: URL
    headers: CIMultiDict[str]


@dataclasses.dataclass(frozen=True)
class TraceRequestChunkSentParams:
    """Parameters sent by the `on_request_chunk_sent` signal"""

    __slots__ = ("method", "url", "chunk", "__weakref__")
    method: str
    url: URL
    chunk: bytes


@dataclasses.dataclass(frozen=True)
class TraceResponseChunkReceivedParams:
    """Parameters sent by the `on_response_chunk_received` signal"""

    __slots__ = ("method", "url", "chunk", "__weakref__")
    method: str
    url: URL
    chunk: bytes


@dataclasses.dataclass(frozen=True)
class TraceRequestEndParams:
    """Parameters sent by the `on_request_end` signal"""

    __slots__ = ("method", "url", "headers", "response", "__weakref__")
    method: str
    url: URL
    headers: CIMultiDict[str]
    response: ClientResponse


@dataclasses.dataclass(frozen=True)
class TraceRequestExceptionParams:
    """Parameters sent by the `on_request_exception` signal"""

    __slots__ = ("method", "url", "headers", "exception", "__weakref__")
    method: str
    url: URL
    headers: CIMultiDict[str]
    exception: BaseException


@dataclasses.dataclass(frozen=True)
class TraceRequestRedirectParams:
    """Parameters sent by the `on_request_redirect` signal"""

    __slots__ = ("method", "url", "headers", "response", "__weakref__")
    method: str
    url: URL
    headers: CIMultiDict[str]
    response: ClientResponse


@dataclasses.dataclass(frozen=True)
class TraceConnectionQueuedStartParams:
    """Parameters sent by the `on_connection_queued_start` signal"""

    __slots__ = ("__weakref__",)


@dataclasses.dataclass(frozen=True)
class TraceConnectionQueuedEndParams:
    """Parameters sent by the `on_connection_queued_end` signal"""

    __slots__ = ("__weakref__",)


@dataclasses.dataclass(frozen=True)
class TraceConnectionCreateStartParams:
    """Parameters sent by the `on_connection_create_start` signal"""

    __slots__ = ("__weakref__",)


@dataclasses.dataclass(frozen=True)
class TraceConnectionCreateEndParams:
    """Parameters sent by the `on_connection_create_end` signal"""

    __slots__ = ("__weakref__",)


@dataclasses.dataclass(frozen=True)
class TraceConnectionReuseconnParams:
    """Parameters sent by the `on_connection_reuseconn` signal"""

    __slots__ = ("__weakref__",)


@dataclasses.dataclass(frozen=True)
class TraceDnsResolveHostStartParams:
    """Parameters sent by the `on_dns_resolvehost_start` signal"""

    __slots__ = ("host", "__weakref__")
    host: str


@dataclasses.dataclass(frozen=True)
class TraceDnsResolveHostEndParams:
    """Parameters sent by the `on_dns_resolvehost_end` signal"""

    __slots__ = ("host", "__weakref__")
    host: str


@dataclasses.dataclass(frozen=True)
class TraceDnsCacheHitParams:
    """Parameters sent by the `on_dns_cache_hit` signal"""

    __slots__ = ("host", "__weakref__")
    host: str


@dataclasses.dataclass(frozen=True)
class TraceDnsCacheMissParams:
    """Parameters sent by the `on_dns_cache_miss` signal"""

    __slots__ = ("host", "__weakref__")
    host: str


@dataclasses.dataclass(frozen=True)
class TraceRequestHeadersSentParams:
    """Parameters sent by the `on_request_headers_sent` signal"""

    __slots__ = ("method", "url", "headers", "__weakref__")
    method: str
    url: URL
    headers: CIMultiDict[str]


class Trace:
    """Internal dependency holder class.

    Keeps together what sending a signal needs: the session, the TraceConfig
    and this request's trace_config_ctx.  A signal nobody listens to is not
    sent: its parameters are not made and nothing is awaited.
    """

    def __init__(
        self,
        session: ClientSession,
        trace_config: TraceConfig,
        trace_config_ctx: SimpleNamespace,
    ) -> None:
        self._trace_config = trace_config
        self._trace_config_ctx = trace_config_ctx
        self._session = session

    async def send_request_start(self, method: str, url: URL, headers: CIMultiDict[str]) -> None:
        signal = self._trace_config.on_request_start
        if signal:
            await signal.send(
                self._session,
                self._trace_config_ctx,
                TraceRequestStartParams(method, url, headers),
            )

    async def send_request_chunk_sent(self, method: str, url: URL, chunk: bytes) -> None:
        signal = self._trace_config.on_request_chunk_sent
        if signal:
            await signal.send(
                self._session,
                self._trace_config_ctx,
                TraceRequestChunkSentParams(method, url, chunk),
            )

    async def send_response_chunk_received(self, method: str, url: URL, chunk: bytes) -> None:
        signal = self._trace_config.on_response_chunk_received
        if signal:
            await signal.send(
                self._session,
                self._trace_config_ctx,
                TraceResponseChunkReceivedParams(method, url, chunk),
            )

    async def send_request_end(
        self,
        method: str,
        url: URL,
        headers: CIMultiDict[str],
        response: ClientResponse,
    ) -> None:
        signal = self._trace_config.on_request_end
        if signal:
            await signal.send(
                self._session,
                self._trace_config_ctx,
                TraceRequestEndParams(method, url, headers, response),
            )

    async def send_request_exception(
        self,
        method: str,
        url: URL,
        headers: CIMultiDict[str],
        exception: BaseException,
    ) -> None:
        signal = self._trace_config.on_request_exception
        if signal:
            await signal.send(
                self._session,
                self._trace_config_ctx,
                TraceRequestExceptionParams(method, url, headers, exception),
            )

    async def send_request_redirect(
        self,
        method: str,
        url: URL,
        headers: CIMultiDict[str],
        response: ClientResponse,
    ) -> None:
        signal = self._trace_config.on_request_redirect
        if signal:
            await signal.send(
                self._session,
                self._trace_config_ctx,
                TraceRequestRedirectParams(method, url, headers, response),
            )

    async def send_connection_queued_start(self) -> None:
        signal = self._trace_config.on_connection_queued_start
        if signal:
            await signal.send(
                self._session, self._trace_config_ctx, TraceConnectionQueuedStartParams()
            )

    async def send_connection_queued_end(self) -> None:
        signal = self._trace_config.on_connection_queued_end
        if signal:
            await signal.send(
                self._session, self._trace_config_ctx, TraceConnectionQueuedEndParams()
            )

    async def send_connection_create_start(self) -> None:
        signal = self._trace_config.on_connection_create_start
        if signal:
            await signal.send(
                self._session, self._trace_config_ctx, TraceConnectionCreateStartParams()
            )

    async def send_connection_create_end(self) -> None:
        signal = self._trace_config.on_connection_create_end
        if signal:
            await signal.send(
                self._session, self._trace_config_ctx, TraceConnectionCreateEndParams()
            )

    async def send_connection_reuseconn(self) -> None:
        signal = self._trace_config.on_connection_reuseconn
        if signal:
            await signal.send(
                self._session, self._trace_config_ctx, TraceConnectionReuseconnParams()
            )

    async def send_dns_resolvehost_start(self, host: str) -> None:
        signal = self._trace_config.on_dns_resolvehost_start
        if signal:
            await signal.send(
                self._session, self._trace_config_ctx, TraceDnsResolveHostStartParams(host)
            )

    async def send_dns_resolvehost_end(self, host: str) -> None:
        signal = self._trace_config.on_dns_resolvehost_end
        if signal:
            await signal.send(
                self._session, self._trace_config_ctx, TraceDnsResolveHostEndParams(host)
            )

    async def send_dns_cache_hit(self, host: str) -> None:
        signal = self._trace_config.on_dns_cache_hit
        if signal:
            await signal.send(self._session, self._trace_config_ctx, TraceDnsCacheHitParams(host))

    async def send_dns_cache_miss(self, host: str) -> None:
        signal = self._trace_config.on_dns_cache_miss
        if signal:
            await signal.send(self._session, self._trace_config_ctx, TraceDnsCacheMissParams(host))

    async def send_request_headers(self, method: str, url: URL, headers: CIMultiDict[str]) -> None:
        signal = self._trace_config.on_request_headers_sent
        if signal:
            await signal.send(
                self._session,
                self._trace_config_ctx,
                TraceRequestHeadersSentParams(method, url, headers),
            )
