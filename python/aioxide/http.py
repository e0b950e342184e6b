"""HTTP protocol names shared with aiohttp (``aiohttp.http``)."""

from __future__ import annotations

import sys
from typing import NamedTuple

__all__ = ("HttpVersion", "HttpVersion10", "HttpVersion11", "SERVER_SOFTWARE")


class HttpVersion(NamedTuple):
    major: int
    minor: int


HttpVersion10 = HttpVersion(1, 0)
HttpVersion11 = HttpVersion(1, 1)

__version__ = "0.1.0"

SERVER_SOFTWARE: str = f"Python/{sys.version_info[0]}.{sys.version_info[1]} aioxide/{__version__}"


# -- WebSocket names (aiohttp's ``aiohttp.http`` / ``_websocket.models``) -----

import json as _json  # noqa: E402
from enum import IntEnum  # noqa: E402
from typing import Any, Callable, Final, Union  # noqa: E402

WS_KEY: Final[bytes] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WSCloseCode(IntEnum):
    OK = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    ABNORMAL_CLOSURE = 1006
    INVALID_TEXT = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014


class WSMsgType(IntEnum):
    # websocket spec types
    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    PING = 0x9
    PONG = 0xA
    CLOSE = 0x8
    # aiohttp specific types
    CLOSING = 0x100
    CLOSED = 0x101
    ERROR = 0x102

    text = TEXT
    binary = BINARY
    ping = PING
    pong = PONG
    close = CLOSE
    closing = CLOSING
    closed = CLOSED
    error = ERROR


class WSMessage(NamedTuple):
    type: WSMsgType
    data: Any
    extra: str | None

    def json(self, *, loads: Callable[[Any], Any] = _json.loads) -> Any:
        """Return parsed JSON data."""
        return loads(self.data)


class WSMessageTextBytes(NamedTuple):
    """A TEXT message with raw bytes (``decode_text=False``)."""

    type: WSMsgType
    data: Any
    extra: str | None

    def json(self, *, loads: Callable[[Any], Any] = _json.loads) -> Any:
        return loads(self.data)


WSMessageDecodeText = WSMessage
WSMessageNoDecodeText = Union[WSMessage, WSMessageTextBytes]

WS_CLOSED_MESSAGE = tuple.__new__(WSMessage, (WSMsgType.CLOSED, None, None))
WS_CLOSING_MESSAGE = tuple.__new__(WSMessage, (WSMsgType.CLOSING, None, None))


class WebSocketError(Exception):
    """WebSocket protocol parser error."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(code, message)

    def __str__(self) -> str:
        return str(self.args[1])


class WSHandshakeError(Exception):
    """WebSocket protocol handshake error."""


__all__ += (  # type: ignore[assignment]
    "WS_CLOSED_MESSAGE",
    "WS_CLOSING_MESSAGE",
    "WS_KEY",
    "WSCloseCode",
    "WSHandshakeError",
    "WSMessage",
    "WSMessageDecodeText",
    "WSMessageNoDecodeText",
    "WSMessageTextBytes",
    "WSMsgType",
    "WebSocketError",
)
