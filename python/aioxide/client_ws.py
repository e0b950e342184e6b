"""WebSocket client: aiohttp's ``ClientWebSocketResponse`` over the engine.

The engine (``crates/aioxide/src/ws``) does the framing, masking,
fragmentation, UTF-8 checks and permessage-deflate, and reads messages ahead
into the bridge; a read here takes every message that arrived in one hop
(``_Reader``).  What is policy stays aiohttp's and is kept here as its code
has it: autoping, autoclose, heartbeat, receive and close timeouts, the
close handshake, and which message or exception each case gives.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
from collections import deque
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Generic, Literal, overload

from .client_exceptions import (
    ClientConnectionError,
    ClientConnectionResetError,
    ClientError,
    ServerTimeoutError,
    WSMessageTypeError,
)
from .http import (
    WS_CLOSED_MESSAGE,
    WS_CLOSING_MESSAGE,
    WebSocketError,
    WSCloseCode,
    WSMessage,
    WSMessageDecodeText,
    WSMessageNoDecodeText,
    WSMsgType,
)

if TYPE_CHECKING:
    from multidict import CIMultiDict
    from typing_extensions import Self, TypeVar

    # Whether TEXT messages are decoded to str (the default) or kept as bytes
    # (``ws_connect(decode_text=False)``): aiohttp 3.14's type parameter.
    _DecodeText = TypeVar("_DecodeText", bound=bool, covariant=True, default=Literal[True])
else:
    from typing import TypeVar

    _DecodeText = TypeVar("_DecodeText", bound=bool, covariant=True)

__all__ = ("ClientWSTimeout", "ClientWebSocketResponse", "DEFAULT_WS_CLIENT_TIMEOUT")

_INTERNAL_RECEIVE_TYPES = frozenset(
    (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.PING, WSMsgType.PONG)
)
_TYPES = {int(t): t for t in WSMsgType}
# The socket of a direct WebSocket (TCP, Unix, TLS over TCP: not through a
# tunnel) is watched by the session's loop and read on its thread
# (``_LoopReader``); False leaves every WebSocket to the engine's tasks
# (tests run both).
_LOOP_DRIVEN = True
# Upgrade headers a user's own value replaces (aiohttp's setdefault).
_USER_MAY_SET = frozenset(("Upgrade", "Connection", "Sec-WebSocket-Version"))


@dataclasses.dataclass(frozen=True)
class ClientWSTimeout:
    """``ws_receive``: how long ``receive()`` waits; ``ws_close``: how long
    ``close()`` waits for the server's close frame."""

    ws_receive: float | None = None
    ws_close: float | None = None


DEFAULT_WS_CLIENT_TIMEOUT = ClientWSTimeout(ws_receive=None, ws_close=10.0)


class _EofStream(Exception):
    pass


class _Reader:
    """The messages of the engine's WebSocket, fetched a batch per hop;
    ``feed_data`` puts a message of our own in front (CLOSING, ERROR) and
    wakes a waiting ``read()``, as aiohttp's queue does."""

    def __init__(self, ws: Any, bridge: Any, loop: asyncio.AbstractEventLoop, text: bool) -> None:
        self._ws = ws
        self._bridge = bridge
        self._loop = loop
        self._text = text
        self._buffer: deque[WSMessage] = deque()
        self._waiter: asyncio.Future[Any] | None = None
        self._eof = False

    def feed_data(self, msg: WSMessage, size: int = 0) -> None:
        self._buffer.append(msg)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def stop(self) -> None:
        """The connection is going (the engine ends a waiting read)."""

    async def read(self) -> WSMessage:
        while not self._buffer:
            if self._eof:
                raise _EofStream
            batch = self._ws.take_now()
            if batch is None:
                fut = self._waiter = self._loop.create_future()
                rid = self._ws.recv(self._bridge, fut)
                try:
                    batch = await fut
                except asyncio.CancelledError:
                    # (Messages delivered just as the wait was abandoned
                    # stay for the next read.)
                    if not fut.done() or fut.cancelled() or fut.exception() is not None:
                        self._bridge.abort(rid)
                    elif fut.result():
                        self._keep(fut.result())
                    raise
                finally:
                    self._waiter = None
            if batch is None:
                continue  # woken by feed_data
            if not batch:
                self._eof = True
                continue
            self._keep(batch)
        return self._buffer.popleft()

    def _keep(self, batch: list[Any]) -> None:
        """The engine's (type, data, extra) messages into the buffer."""
        new = tuple.__new__
        for t, data, extra in batch:
            if t == 1 and not self._text:
                data = data.encode()
            self._buffer.append(new(WSMessage, (_TYPES[t], data, extra)))


class _Writer:
    """Frames out through the engine's writer (one at a time)."""

    def __init__(self, ws: Any, bridge: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._ws = ws
        self._bridge = bridge
        self._loop = loop

    def stop(self) -> None:
        """The connection is going (the engine ends a waiting send)."""

    async def _call(self, start: Any, *args: Any) -> None:
        fut = self._loop.create_future()
        rid = start(self._bridge, fut, *args)
        try:
            await fut
        except asyncio.CancelledError:
            self._bridge.abort(rid)
            raise

    async def send_frame(self, message: Any, opcode: int, compress: int | None = None) -> None:
        # Straight onto the socket when it can take the frame (no engine hop);
        # else the engine finishes it.
        done = self._ws.send_now(int(opcode), message, compress)
        if done is None:
            await self._call(self._ws.send, int(opcode), bytes(message), compress)
        elif not done:
            await self._call(self._ws.flush)

    async def close(self, code: int = 1000, message: bytes | str = b"") -> None:
        await self._call(self._ws.close, int(code), _reason(message))


def _fresh(error: BaseException) -> BaseException:
    """A copy of a kept error to raise: the one kept must not take the
    raising frame into its traceback (nor so the reader that keeps it);
    the error itself when it cannot be copied."""
    try:
        return copy.copy(error)
    except Exception:  # noqa: BLE001 - an exception class with its own signature
        return error


def _as_bytes(message: Any) -> Any:
    """A frame's payload: a bytearray or memoryview as its bytes (aiohttp
    takes any bytes-like object); anything else as it is."""
    if type(message) is bytes or not isinstance(message, (bytearray, memoryview)):
        return message
    return bytes(message)


def _reason(message: Any) -> str:
    """A close frame's reason as the engine's text (a bytes-like one decoded)."""
    if isinstance(message, str):
        return message
    return bytes(message).decode("utf-8", "replace")


# Messages read ahead of the consumer before the loop stops watching the
# socket (the engine's feed keeps as many).
_READ_AHEAD = 256


class _LoopReader(_Reader):
    """The messages of a WebSocket whose socket this loop watches
    (``add_reader``): the engine decodes what is readable on this thread,
    with no engine task and no hop between threads."""

    def __init__(
        self, ws: Any, bridge: Any, loop: asyncio.AbstractEventLoop, text: bool, fd: int
    ) -> None:
        super().__init__(ws, bridge, loop, text)
        self._fd = fd
        self._error: BaseException | None = None
        self._watching = False
        self._watch()

    def _watch(self) -> None:
        if not self._watching and self._error is None:
            self._loop.add_reader(self._fd, self._on_readable)
            self._watching = True
            # What the engine already holds (bytes that came with the 101,
            # messages past a full batch) makes the socket no readier.
            self._loop.call_soon(self._on_readable)

    def _unwatch(self) -> None:
        if self._watching:
            self._loop.remove_reader(self._fd)
            self._watching = False

    def _on_readable(self) -> None:
        if not self._watching:
            return  # (a late call_soon: paused or stopped)
        try:
            batch = self._ws.read_now()
        except BaseException as exc:  # the read's end: after the messages
            self._unwatch()
            # (Without this frame's traceback, which holds this reader: the
            # cycle would keep the engine's objects until a collection.)
            self._error = exc.with_traceback(None)
        else:
            if batch is None:
                return
            if batch[-1] is None:
                # The read's end came right after these messages: the
                # socket will not tell, so it is taken next.
                batch.pop()
                self._loop.call_soon(self._on_readable)
            self._keep(batch)
            if len(self._buffer) >= _READ_AHEAD:
                self._unwatch()
            elif len(batch) == _READ_AHEAD:  # (the engine may hold more)
                self._loop.call_soon(self._on_readable)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def stop(self) -> None:
        """The connection is going: stop watching it; a waiting read ends."""
        self._unwatch()
        if self._error is None:
            self._error = ClientConnectionError("Connection closed")
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def read(self) -> WSMessage:
        buffer = self._buffer
        while not buffer:
            if self._error is not None:
                raise _fresh(self._error)
            fut = self._waiter = self._loop.create_future()
            try:
                await fut
            finally:
                self._waiter = None
        if not self._watching and len(buffer) <= _READ_AHEAD // 2:
            self._watch()
        return buffer.popleft()


class _LoopWriter(_Writer):
    """Frames straight onto a socket this loop watches (``add_writer``
    while the socket cannot take more; one wait shared by every sender)."""

    def __init__(self, ws: Any, bridge: Any, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        super().__init__(ws, bridge, loop)
        self._fd = fd
        self._drained: asyncio.Future[None] | None = None

    async def _drain(self) -> None:
        fut = self._drained
        if fut is None:
            fut = self._drained = self._loop.create_future()
            self._loop.add_writer(self._fd, self._on_writable)
        await asyncio.shield(fut)

    def _on_writable(self) -> None:
        try:
            if not self._ws.write_pending():
                return
        except BaseException as exc:
            self._end(exc)
        else:
            self._end(None)

    def _end(self, exc: BaseException | None) -> None:
        fut, self._drained = self._drained, None
        if fut is None:
            return
        self._loop.remove_writer(self._fd)
        if fut.done():
            return
        if exc is None:
            fut.set_result(None)
        else:
            fut.set_exception(exc)

    def stop(self) -> None:
        """The connection is going: a waiting send fails."""
        self._end(ClientConnectionResetError("Cannot write to closing transport"))

    async def send_frame(self, message: Any, opcode: int, compress: int | None = None) -> None:
        # (Queued behind what waits, in order, when the socket is full.)
        done = self._ws.send_now(int(opcode), message, compress)
        if not done or self._drained is not None:
            await self._drain()

    async def close(self, code: int = 1000, message: bytes | str = b"") -> None:
        done = self._ws.close_now(int(code), _reason(message))
        if not done or self._drained is not None:
            await self._drain()


class ClientWebSocketResponse(Generic[_DecodeText]):
    """aiohttp's ``ClientWebSocketResponse``: the same methods, messages,
    close codes and exceptions."""

    def __init__(
        self,
        reader: Any,
        writer: Any,
        protocol: str | None,
        response: Any,
        timeout: ClientWSTimeout,
        autoclose: bool,
        autoping: bool,
        loop: asyncio.AbstractEventLoop,
        *,
        heartbeat: float | None = None,
        compress: int = 0,
        client_notakeover: bool = False,
        ws: Any = None,
    ) -> None:
        self._response = response
        self._conn = response.connection
        self._writer = writer
        self._reader = reader
        self._ws = ws
        self._protocol = protocol
        self._closed = False
        self._closing = False
        self._close_code: int | None = None
        self._timeout = timeout
        self._autoclose = autoclose
        self._autoping = autoping
        self._heartbeat = heartbeat
        self._heartbeat_cb: asyncio.TimerHandle | None = None
        self._pong_heartbeat = heartbeat / 2.0 if heartbeat is not None else 0.0
        self._pong_response_cb: asyncio.TimerHandle | None = None
        # Bytes received when the heartbeat was last reset or a ping sent.
        self._received_mark = 0
        self._loop = loop
        self._waiting = False
        self._close_wait: asyncio.Future[None] | None = None
        self._exception: BaseException | None = None
        self._compress = compress
        self._client_notakeover = client_notakeover
        self._ping_task: asyncio.Task[None] | None = None
        self._reset_heartbeat()

    # -- heartbeat (aiohttp's: a ping every `heartbeat` s, no data or pong
    # within half of it closes with 1006 and ServerTimeoutError)
    def _cancel_heartbeat(self) -> None:
        self._cancel_pong_response_cb()
        if self._heartbeat_cb is not None:
            self._heartbeat_cb.cancel()
            self._heartbeat_cb = None
        if self._ping_task is not None:
            self._ping_task.cancel()
            self._ping_task = None

    def _cancel_pong_response_cb(self) -> None:
        if self._pong_response_cb is not None:
            self._pong_response_cb.cancel()
            self._pong_response_cb = None

    def _reset_heartbeat(self) -> None:
        if self._heartbeat is None:
            return
        self._cancel_pong_response_cb()
        if self._heartbeat_cb is not None:
            self._heartbeat_cb.cancel()
        self._received_mark = self._received()
        self._heartbeat_cb = self._loop.call_later(self._heartbeat, self._send_heartbeat)

    def _received(self) -> int:
        """Bytes read from the connection so far (frames still arriving too)."""
        return self._ws.received() if self._ws is not None else 0

    def _send_heartbeat(self) -> None:
        self._heartbeat_cb = None
        if self._closed or self._closing:
            return
        if self._received() != self._received_mark:
            # Data came meanwhile (a long frame arriving): as aiohttp, whose
            # heartbeat is reset by incoming bytes, no ping is due yet.
            self._reset_heartbeat()
            return
        self._cancel_pong_response_cb()
        self._pong_response_cb = self._loop.call_later(
            self._pong_heartbeat, self._pong_not_received
        )
        task = self._loop.create_task(self._writer.send_frame(b"", WSMsgType.PING))
        self._ping_task = task
        task.add_done_callback(self._ping_task_done)

    def _ping_task_done(self, task: "asyncio.Task[None]") -> None:
        if not task.cancelled() and (exc := task.exception()):
            self._handle_ping_pong_exception(exc)
        self._ping_task = None

    def _pong_not_received(self) -> None:
        self._pong_response_cb = None
        if self._received() != self._received_mark:
            # Data (a pong among it) came since the ping: the peer is alive.
            self._reset_heartbeat()
            return
        self._handle_ping_pong_exception(
            ServerTimeoutError(f"No PONG received after {self._pong_heartbeat} seconds")
        )

    def _handle_ping_pong_exception(self, exc: BaseException) -> None:
        if self._closed:
            return
        self._set_closed()
        self._close_code = WSCloseCode.ABNORMAL_CLOSURE
        self._exception = exc
        self._close_response()
        if self._waiting and not self._closing:
            self._reader.feed_data(WSMessage(WSMsgType.ERROR, exc, None), 0)

    def _set_closed(self) -> None:
        self._closed = True
        self._cancel_heartbeat()

    def _set_closing(self) -> None:
        self._closing = True
        self._cancel_heartbeat()

    def _close_abnormally(self, exc: BaseException | None = None) -> None:
        """The close handshake failed (1006): drop the connection."""
        self._close_code = WSCloseCode.ABNORMAL_CLOSURE
        if exc is not None:
            self._exception = exc
        self._close_response()

    async def _read_within(self, timeout: Any) -> WSMessage:
        """The next message, within ``timeout`` seconds."""
        read = self._reader.read()
        try:
            return await asyncio.wait_for(read, timeout)
        except TypeError:
            read.close()  # (a timeout that is no number: never awaited)
            raise

    def __del__(self) -> None:
        # Dropped open: its socket goes now (the loop watching it, or the
        # engine's task reading it, would keep it open), as aiohttp's
        # connection closes its transport when collected.
        # (A subclass whose __init__ raised has neither.)
        if not getattr(self, "_closed", True) and getattr(self, "_ws", None) is not None:
            try:
                self._close_response()
            except Exception:  # noqa: BLE001 - a closed loop: nothing left to stop
                pass

    def _close_response(self) -> None:
        if self._ws is not None:
            # (The loop stops watching the socket before it is closed.)
            self._reader.stop()
            self._writer.stop()
            self._ws.abort(self._reader._bridge)
        self._response.close()

    # -- attributes
    @property
    def closed(self) -> bool:
        """Whether the WebSocket is closed."""
        return self._closed

    @property
    def close_code(self) -> int | None:
        """The close code, once the WebSocket is closed."""
        return self._close_code

    @property
    def protocol(self) -> str | None:
        """The subprotocol the server chose, if any."""
        return self._protocol

    @property
    def compress(self) -> int:
        """The negotiated permessage-deflate window bits (0: not compressed)."""
        return self._compress

    @property
    def client_notakeover(self) -> bool:
        """Whether client_no_context_takeover was negotiated."""
        return self._client_notakeover

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Extra info from the connection's transport."""
        conn = self._response.connection
        if conn is None:
            return default
        transport = conn.transport
        if transport is None:
            return default
        return transport.get_extra_info(name, default)

    def exception(self) -> BaseException | None:
        """The error that closed the WebSocket, if any."""
        return self._exception

    # -- sending
    async def ping(self, message: bytes = b"") -> None:
        """Send a PING frame."""
        await self._writer.send_frame(_as_bytes(message), WSMsgType.PING)

    async def pong(self, message: bytes = b"") -> None:
        """Send a PONG frame."""
        await self._writer.send_frame(_as_bytes(message), WSMsgType.PONG)

    async def send_frame(
        self, message: bytes, opcode: WSMsgType, compress: int | None = None
    ) -> None:
        """Send one frame with the given opcode."""
        await self._writer.send_frame(_as_bytes(message), opcode, compress)

    async def send_str(self, data: str, compress: int | None = None) -> None:
        """Send a TEXT message."""
        if not isinstance(data, str):
            raise TypeError("data argument must be str (%r)" % type(data))
        await self._writer.send_frame(data.encode("utf-8"), WSMsgType.TEXT, compress=compress)

    async def send_bytes(self, data: Any, compress: int | None = None) -> None:
        """Send a BINARY message."""
        if type(data) is not bytes:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError("data argument must be byte-ish (%r)" % type(data))
            data = bytes(data)
        await self._writer.send_frame(data, WSMsgType.BINARY, compress=compress)

    async def send_json(
        self,
        data: Any,
        compress: int | None = None,
        *,
        dumps: Callable[[Any], str] = json.dumps,
    ) -> None:
        """Send data as a TEXT message of JSON (dumps= serialises)."""
        await self.send_str(dumps(data), compress=compress)

    async def send_json_bytes(
        self, data: Any, compress: int | None = None, *, dumps: Callable[[Any], bytes]
    ) -> None:
        """Send JSON from a bytes-returning encoder as a binary frame."""
        await self.send_bytes(dumps(data), compress=compress)

    # -- closing
    async def close(self, *, code: int = WSCloseCode.OK, message: bytes = b"") -> bool:
        """Send a CLOSE frame and wait (at most ws_close) for the server's."""
        # Break a receive() in another task first.
        if self._waiting and not self._closing:
            self._close_wait = self._loop.create_future()
            self._set_closing()
            self._reader.feed_data(WS_CLOSING_MESSAGE, 0)
            await self._close_wait

        if self._closed:
            return False

        self._set_closed()
        try:
            await self._writer.close(code, message)
        except asyncio.CancelledError:
            self._close_abnormally()
            raise
        except Exception as exc:
            self._close_abnormally(exc)
            return True

        if self._close_code:
            self._close_response()
            return True

        while True:
            try:
                msg = await self._read_within(self._timeout.ws_close)
            except asyncio.CancelledError:
                self._close_abnormally()
                raise
            except Exception as exc:
                self._close_abnormally(exc)
                return True

            if msg.type is WSMsgType.CLOSE:
                self._close_code = msg.data
                self._close_response()
                return True

    # -- receiving
    @overload
    async def receive(
        self: ClientWebSocketResponse[Literal[True]], timeout: float | None = None
    ) -> WSMessageDecodeText: ...

    @overload
    async def receive(
        self: ClientWebSocketResponse[Literal[False]], timeout: float | None = None
    ) -> WSMessageNoDecodeText: ...

    @overload
    async def receive(
        self: ClientWebSocketResponse[_DecodeText], timeout: float | None = None
    ) -> WSMessageDecodeText | WSMessageNoDecodeText: ...

    async def receive(self, timeout: float | None = None) -> Any:
        """Wait for the next message (a WSMessage)."""
        receive_timeout = timeout or self._timeout.ws_receive

        while True:
            if self._waiting:
                raise RuntimeError("Concurrent call to receive() is not allowed")

            if self._closed:
                return WS_CLOSED_MESSAGE
            elif self._closing:
                await self.close()
                return WS_CLOSED_MESSAGE

            try:
                self._waiting = True
                try:
                    msg: WSMessage
                    if receive_timeout:
                        msg = await self._read_within(receive_timeout)
                    else:
                        msg = await self._reader.read()
                    if self._heartbeat is not None:
                        self._reset_heartbeat()
                finally:
                    self._waiting = False
                    if self._close_wait:
                        if not self._close_wait.done():
                            self._close_wait.set_result(None)
            except (asyncio.CancelledError, asyncio.TimeoutError):
                self._close_code = WSCloseCode.ABNORMAL_CLOSURE
                raise
            except _EofStream:
                self._close_code = WSCloseCode.OK
                await self.close()
                return WSMessage(WSMsgType.CLOSED, None, None)
            except ClientError as exc:
                # The connection was lost (ServerDisconnectedError...): as
                # aiohttp, exception() is a ClientConnectionResetError.
                self._exception = ClientConnectionResetError(
                    f"Connection lost without a close frame: {exc}"
                )
                self._set_closed()
                self._close_code = WSCloseCode.ABNORMAL_CLOSURE
                return WS_CLOSED_MESSAGE
            except WebSocketError as exc:
                self._close_code = exc.code
                await self.close(code=exc.code)
                return WSMessage(WSMsgType.ERROR, exc, None)
            except Exception as exc:
                self._exception = exc
                self._set_closing()
                self._close_code = WSCloseCode.ABNORMAL_CLOSURE
                await self.close()
                return WSMessage(WSMsgType.ERROR, exc, None)

            if msg.type not in _INTERNAL_RECEIVE_TYPES:
                return msg

            if msg.type is WSMsgType.CLOSE:
                self._set_closing()
                self._close_code = msg.data
                if not self._closed and self._autoclose:
                    await self.close()
            elif msg.type is WSMsgType.CLOSING:
                self._set_closing()
            elif msg.type is WSMsgType.PING and self._autoping:
                await self.pong(msg.data)
                continue
            elif msg.type is WSMsgType.PONG and self._autoping:
                continue

            return msg

    async def _receive_of(self, kind: WSMsgType, timeout: float | None) -> Any:
        """The next message's data; WSMessageTypeError for another type."""
        msg = await self.receive(timeout)
        if msg.type is not kind:
            raise WSMessageTypeError(
                f"Received message {msg.type}:{msg.data!r} is not WSMsgType.{kind.name}"
            )
        return msg.data

    @overload
    async def receive_str(
        self: ClientWebSocketResponse[Literal[True]], *, timeout: float | None = None
    ) -> str: ...

    @overload
    async def receive_str(
        self: ClientWebSocketResponse[Literal[False]], *, timeout: float | None = None
    ) -> bytes: ...

    @overload
    async def receive_str(
        self: ClientWebSocketResponse[_DecodeText], *, timeout: float | None = None
    ) -> str | bytes: ...

    async def receive_str(self, *, timeout: float | None = None) -> Any:
        """The next TEXT message's data: str, or bytes with decode_text=False."""
        return await self._receive_of(WSMsgType.TEXT, timeout)

    async def receive_bytes(self, *, timeout: float | None = None) -> bytes:
        """Receive a BINARY message's bytes; WSMessageTypeError for another type."""
        data: bytes = await self._receive_of(WSMsgType.BINARY, timeout)
        return data

    async def receive_json(
        self, *, loads: Callable[[Any], Any] = json.loads, timeout: float | None = None
    ) -> Any:
        """Receive a TEXT message and decode it with loads= (json.loads)."""
        data = await self.receive_str(timeout=timeout)
        return loads(data)

    def __aiter__(self) -> Self:
        return self

    @overload
    async def __anext__(self: ClientWebSocketResponse[Literal[True]]) -> WSMessageDecodeText: ...

    @overload
    async def __anext__(
        self: ClientWebSocketResponse[Literal[False]],
    ) -> WSMessageNoDecodeText: ...

    @overload
    async def __anext__(
        self: ClientWebSocketResponse[_DecodeText],
    ) -> WSMessageDecodeText | WSMessageNoDecodeText: ...

    async def __anext__(self) -> Any:
        msg = await self.receive()
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
            raise StopAsyncIteration
        return msg

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.close()


# Deprecation warnings below name the caller of ``ws_connect``: their
# stacklevel counts the helper, connect, ClientSession._ws_connect and the
# awaiting frame (one more than when connect itself gave them).
_HELPER_STACKLEVEL = 5


def _warn_deprecated_auth(kw: dict[str, Any]) -> None:
    """aiohttp's warnings for ``auth=`` and ``proxy_auth=``, given here once
    (the upgrade request is told to keep quiet about them)."""
    import warnings

    from .helpers import AUTH_DEPRECATED, PROXY_AUTH_DEPRECATED

    if kw["auth"] is not None:
        warnings.warn(AUTH_DEPRECATED, DeprecationWarning, stacklevel=_HELPER_STACKLEVEL)
    if kw["proxy_auth"] is not None:
        warnings.warn(PROXY_AUTH_DEPRECATED, DeprecationWarning, stacklevel=_HELPER_STACKLEVEL)


def _ws_timeout(kw: dict[str, Any]) -> ClientWSTimeout:
    """The ClientWSTimeout of ``timeout=`` and ``receive_timeout=``, with
    aiohttp's warnings for their deprecated float forms."""
    import warnings

    timeout = kw["timeout"]
    if type(timeout).__name__ == "_SENTINEL" or timeout is None:
        ws_timeout = DEFAULT_WS_CLIENT_TIMEOUT
    elif isinstance(timeout, ClientWSTimeout) or type(timeout).__name__ == "ClientWSTimeout":
        ws_timeout = ClientWSTimeout(timeout.ws_receive, timeout.ws_close)
    else:
        warnings.warn(
            "parameter 'timeout' of type 'float' is deprecated, please use "
            "'timeout=ClientWSTimeout(ws_close=...)'",
            DeprecationWarning,
            stacklevel=_HELPER_STACKLEVEL,
        )
        ws_timeout = ClientWSTimeout(ws_close=timeout)
    if kw["receive_timeout"] is not None:
        warnings.warn(
            "float parameter 'receive_timeout' is deprecated, please use "
            "parameter 'timeout=ClientWSTimeout(ws_receive=...)'",
            DeprecationWarning,
            stacklevel=_HELPER_STACKLEVEL,
        )
        ws_timeout = dataclasses.replace(ws_timeout, ws_receive=kw["receive_timeout"])
    return ws_timeout


def _upgrade_headers(kw: dict[str, Any]) -> tuple[CIMultiDict[str], list[str], str]:
    """The request headers with the engine's upgrade headers added, the
    offered subprotocols, and the Sec-WebSocket-Key the answer must match."""
    from multidict import CIMultiDict

    from . import _aioxide

    # The user's own Upgrade, Connection and Sec-WebSocket-Version win
    # (aiohttp's setdefault), the rest are ours.
    headers: CIMultiDict[str] = CIMultiDict(kw["headers"] or ())
    # (None is no subprotocol; each must be a str: aiohttp joins them.)
    protocols = list(kw["protocols"] or ())
    ",".join(protocols)
    sec_key, upgrade = _aioxide.ws_request(protocols, kw["compress"], kw["origin"])
    for name, value in upgrade:
        if name in _USER_MAY_SET:
            headers.setdefault(name, value)
        else:
            headers[name] = value
    return headers, protocols, sec_key


def _ssl_param(kw: dict[str, Any]) -> Any:
    """``ssl=`` with ``verify_ssl``, ``ssl_context`` and ``fingerprint``
    folded in, with aiohttp's warnings."""
    import warnings

    from ._tls import _merge_ssl_params

    ssl = kw["ssl"]
    if ssl is None:
        warnings.warn(
            "ssl=None is deprecated, please use ssl=True", DeprecationWarning, _HELPER_STACKLEVEL
        )
        ssl = True
    # (_merge_ssl_params is one frame further down.)
    return _merge_ssl_params(
        ssl, kw["verify_ssl"], kw["ssl_context"], kw["fingerprint"], _HELPER_STACKLEVEL + 1
    )


async def _handshake_request(
    session: Any, url: Any, kw: dict[str, Any], headers: CIMultiDict[str], ssl: Any
) -> Any:
    """Send the upgrade request through the session's request flow; the
    response is kept open (read_until_eof=False) for the socket."""
    import warnings

    with warnings.catch_warnings():
        # (auth's and proxy_auth's warnings were given above, as aiohttp's.)
        warnings.simplefilter("ignore", DeprecationWarning)
        return await session._request(
            kw["method"],
            url,
            params=kw["params"],
            headers=headers,
            read_until_eof=False,
            auth=kw["auth"],
            proxy=kw["proxy"],
            proxy_auth=kw["proxy_auth"],
            ssl=ssl,
            server_hostname=kw["server_hostname"],
            proxy_headers=kw["proxy_headers"],
            _upgrade=True,
        )


def _accept(
    resp: Any, kw: dict[str, Any], sec_key: str, protocols: list[str]
) -> tuple[Any, str | None, tuple[int, bool, int, bool] | None]:
    """Judge the handshake answer and take its socket: (ws, protocol,
    deflate).  WSServerHandshakeError for a refused upgrade; on any error
    the response is closed."""
    from . import _aioxide
    from .client_exceptions import WSServerHandshakeError

    try:
        pairs = [(str(k), v) for k, v in resp.headers.items()]
        error, protocol, deflate = _aioxide.ws_check(
            resp.status, pairs, sec_key, protocols, kw["compress"]
        )
        if error is not None:
            raise WSServerHandshakeError(
                resp.request_info,
                resp.history,
                message=error,
                status=resp.status,
                headers=resp.headers,
            )
        ws = resp._raw.websocket(kw["max_msg_size"], deflate, _LOOP_DRIVEN)
        # As aiohttp's: the 101 response holds its connection (transport,
        # get_extra_info) until the WebSocket closes it.
        resp._closed = False
    except BaseException:
        resp.close()
        raise
    return ws, protocol, deflate


def _reader_writer(session: Any, ws: Any, decode_text: bool) -> tuple[_Reader, _Writer]:
    """The socket's reader and writer: on the session's loop for a direct
    socket, else through the engine's tasks (started here)."""
    loop = session._loop
    bridge = session._lb.bridge
    fd = ws.fileno()
    if fd is not None:
        return (
            _LoopReader(ws, bridge, loop, decode_text, fd),
            _LoopWriter(ws, bridge, loop, fd),
        )
    ws.start(bridge)
    return _Reader(ws, bridge, loop, decode_text), _Writer(ws, bridge, loop)


async def connect(session: Any, url: Any, **kw: Any) -> ClientWebSocketResponse:
    """``ClientSession.ws_connect``: the upgrade request through the session's
    request flow (pool, TLS, cookies, auth, proxies, middlewares, tracing),
    the answer judged by the engine as aiohttp judges it, then the socket."""
    # The argument steps run (and warn) in aiohttp's order, before any I/O.
    _warn_deprecated_auth(kw)
    ws_timeout = _ws_timeout(kw)
    headers, protocols, sec_key = _upgrade_headers(kw)
    ssl = _ssl_param(kw)

    resp = await _handshake_request(session, url, kw, headers, ssl)
    ws, protocol, deflate = _accept(resp, kw, sec_key, protocols)
    reader = writer = None
    try:
        reader, writer = _reader_writer(session, ws, kw["decode_text"])
        ws_resp: ClientWebSocketResponse = session._ws_response_class(
            reader,
            writer,
            protocol,
            resp,
            ws_timeout,
            kw["autoclose"],
            kw["autoping"],
            session._loop,
            heartbeat=kw["heartbeat"],
            compress=deflate[0] if deflate else 0,
            client_notakeover=deflate[1] if deflate else False,
            ws=ws,
        )
    except BaseException:
        # (A ws_response_class that refused its arguments: the socket goes
        # now, not when the garbage collector finds it.)
        if reader is not None and writer is not None:
            reader.stop()
            writer.stop()
        ws.abort(session._lb.bridge)
        resp.close()
        raise
    if session.connector is not None:
        session.connector._websockets.add(ws_resp)
    return ws_resp
