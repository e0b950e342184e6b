"""ClientResponse and RequestInfo (``aiohttp.client_reqrep``)."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json as _json
import re
from collections import namedtuple
from http.cookies import SimpleCookie
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable

from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from . import hdrs
from .client_exceptions import ClientConnectionError, ClientResponseError, ContentTypeError
from .helpers import parse_content_type, parse_mimetype, sentinel
from .http import HttpVersion, HttpVersion11
from .streams import StreamReader

if TYPE_CHECKING:
    from .client import ClientSession

__all__ = ("ClientResponse", "RequestInfo")

json_re = re.compile(r"^application/(?:[\w.+-]+?\+)?json")

_RequestInfo = namedtuple("_RequestInfo", ["url", "method", "headers", "real_url"])


class ContentDisposition(namedtuple("ContentDisposition", ["type", "parameters", "filename"])):
    """A parsed Content-Disposition header (placeholder; see the response-extras work)."""


class RequestInfo(_RequestInfo):
    """The request a response answers: url, method, headers, real_url."""

    def __new__(
        cls,
        url: URL,
        method: str,
        headers: "CIMultiDictProxy[str]",
        real_url: Any = sentinel,
    ) -> "RequestInfo":
        return tuple.__new__(cls, (url, method, headers, url if real_url is sentinel else real_url))


def _request_info(method: str, url: str, headers: list[tuple[str, str]]) -> RequestInfo:
    u = URL(url, encoded=True) if url else URL()
    return RequestInfo(u.with_fragment(None), method, CIMultiDictProxy(CIMultiDict(headers)), u)


def _is_expected_content_type(response_content_type: str, expected_content_type: str) -> bool:
    if expected_content_type == "application/json":
        return json_re.match(response_content_type) is not None
    return expected_content_type in response_content_type


def _default_charset_resolver(resp: "ClientResponse", body: bytes) -> str:
    return "utf-8"


class ClientResponse:
    """A response to a request (aiohttp's ClientResponse)."""

    # Set by the session; class attributes so that a bare instance is valid.
    _body: bytes | None = None
    _released = False
    _closed = True
    _in_context = False
    _raw: Any = None
    _head: Any = None
    _headers: "CIMultiDictProxy[str] | None" = None
    _url: URL | None = None
    _history: tuple["ClientResponse", ...] = ()
    _request_info_v: RequestInfo | None = None
    _session: "ClientSession | None" = None
    _content_type_v: str | None = None
    _content_dict: "MappingProxyType[str, str] | None" = None
    _stored_content_type: Any = sentinel
    _resolve_charset: Callable[["ClientResponse", bytes], str] = staticmethod(
        _default_charset_resolver
    )

    version: HttpVersion | None = None
    status: int = None  # type: ignore[assignment]
    reason: str | None = None
    _content: StreamReader | None = None
    _ready_body: bytes | None = None
    _closed_by_user = False
    _content_gone = False
    _bridge: Any = None

    def __init__(
        self,
        method: str,
        url: URL,
        *,
        writer: Any = None,
        continue100: Any = None,
        timer: Any = None,
        request_info: RequestInfo | None = None,
        traces: Any = None,
        loop: asyncio.AbstractEventLoop | None = None,
        session: "ClientSession | None" = None,
        **kwargs: Any,
    ) -> None:
        self.method = method
        self._url = url
        self._real_url = url
        self._request_info_v = request_info
        self._loop = loop
        self._session = session
        self._closed = False
        self._released = False
        self._body = None
        self.cookies: SimpleCookie = SimpleCookie()
        if session is not None:
            self._resolve_charset = session._resolve_charset

    # -- construction from the engine ------------------------------------
    @classmethod
    def _from_engine(
        cls,
        raw: Any,
        head: Any,
        loop: asyncio.AbstractEventLoop | None,
        bridge: Any,
        session: "ClientSession | None",
        history: tuple["ClientResponse", ...] = (),
    ) -> "ClientResponse":
        self = cls.__new__(cls)
        self._raw = raw
        self._head = head
        self.method = head.request_method
        self.status = head.status
        self.reason = head.reason
        version = head.version
        self.version = HttpVersion11 if version == (1, 1) else HttpVersion(*version)
        self._loop = loop
        self._session = session
        self._history = history
        self._body = None
        self._released = False
        self._closed = raw is None
        self._in_context = False
        if session is not None:
            self._resolve_charset = session._resolve_charset
        self._bridge = bridge
        # The whole body when the engine read it ahead: read() returns it
        # directly, and resp.content is only built when asked for.
        self._ready_body = None if raw is None else raw.body
        if self._ready_body is not None:
            self._closed = True
        return self

    @property
    def content(self) -> StreamReader:
        """The body as a stream (aiohttp's StreamReader API)."""
        stream = self._content
        if stream is None:
            raw = self._raw
            if self._ready_body is not None:
                stream = StreamReader(raw, self._loop, self._bridge, body=self._ready_body)
                self._ready_body = None
            elif raw is None or raw.body is not None:
                stream = StreamReader(None, self._loop, self._bridge, body=b"")
            else:
                stream = StreamReader(raw, self._loop, self._bridge)
            if self._content_gone:
                stream.set_exception(ClientConnectionError("Connection closed"))
            self._content = stream
        return stream

    @content.setter
    def content(self, value: StreamReader) -> None:
        self._content = value

    # -- attributes ------------------------------------------------------
    @property
    def url(self) -> URL:
        """The URL that answered, without its fragment."""
        if self._url is None:
            self._url = self.real_url.with_fragment(None)
        return self._url

    @property
    def real_url(self) -> URL:
        """The URL that answered, fragment included."""
        real = self.__dict__.get("_real_url")
        if real is None:
            real = URL(self._head.url, encoded=True)
            self.__dict__["_real_url"] = real
        return real

    @property
    def host(self) -> str:
        host = self.url.host
        assert host is not None
        return host

    @property
    def headers(self) -> "CIMultiDictProxy[str]":
        if self._headers is None:
            self._headers = CIMultiDictProxy(CIMultiDict(self._head.headers()))
        return self._headers

    @property
    def raw_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        return tuple(self._head.raw_headers())

    @property
    def request_info(self) -> RequestInfo:
        if self._request_info_v is None:
            h = self._head
            self._request_info_v = _request_info(
                h.request_method, h.request_url, h.request_headers()
            )
        return self._request_info_v

    @property
    def history(self) -> tuple["ClientResponse", ...]:
        return self._history

    @property
    def ok(self) -> bool:
        return 400 > self.status

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def connection(self) -> None:
        return None

    @property
    def _cookies(self) -> SimpleCookie:
        c: SimpleCookie = SimpleCookie()
        for v in self.headers.getall(hdrs.SET_COOKIE, ()):
            with contextlib.suppress(Exception):
                c.load(v)
        return c

    @property
    def cookies(self) -> SimpleCookie:
        cached = self.__dict__.get("_cookies_v")
        if cached is None:
            cached = self._cookies
            self.__dict__["_cookies_v"] = cached
        return cached

    @cookies.setter
    def cookies(self, value: SimpleCookie) -> None:
        self.__dict__["_cookies_v"] = value

    def _parse_content_type(self) -> None:
        raw = self.headers.get(hdrs.CONTENT_TYPE)
        if raw != self._stored_content_type:
            self._stored_content_type = raw
            if raw is None:
                self._content_type_v = "application/octet-stream"
                self._content_dict = MappingProxyType({})
            else:
                self._content_type_v, self._content_dict = parse_content_type(raw)

    @property
    def content_type(self) -> str:
        self._parse_content_type()
        assert self._content_type_v is not None
        return self._content_type_v

    @property
    def charset(self) -> str | None:
        self._parse_content_type()
        assert self._content_dict is not None
        return self._content_dict.get("charset")

    @property
    def content_length(self) -> int | None:
        v = self.headers.get(hdrs.CONTENT_LENGTH)
        return int(v) if v is not None and v.isdigit() else None

    def __repr__(self) -> str:
        out = f"<ClientResponse({self.url}) [{self.status} {self.reason}]>\n"
        return out + str(self.headers)

    # -- body ------------------------------------------------------------
    async def read(self) -> bytes:
        """Read the whole body."""
        if self._body is None:
            if self._released or self._closed_by_user:
                # As aiohttp: a released response's unread body is gone.
                raise ClientConnectionError("Connection closed")
            ready = self._ready_body
            if ready is not None and self._content is None:
                # Read ahead by the engine: no round trip.
                self._body = ready
                self._ready_body = None
                return ready
            try:
                self._body = await self.content.read()
            except BaseException:
                self.close()
                raise
            self._closed = True
        elif self._released:
            raise ClientConnectionError("Connection closed")
        return self._body

    def get_encoding(self) -> str:
        ctype = self.headers.get(hdrs.CONTENT_TYPE, "").lower()
        mimetype = parse_mimetype(ctype)
        encoding = mimetype.parameters.get("charset")
        if encoding:
            with contextlib.suppress(LookupError, ValueError):
                return codecs.lookup(encoding).name
        if mimetype.type == "application" and mimetype.subtype in ("json", "rdap"):
            return "utf-8"
        if self._body is None:
            raise RuntimeError("Cannot compute fallback encoding of a not yet read body")
        return self._resolve_charset(self, self._body)

    async def text(self, encoding: str | None = None, errors: str = "strict") -> str:
        if self._body is None:
            await self.read()
        if encoding is None:
            encoding = self.get_encoding()
        return self._body.decode(encoding, errors=errors)  # type: ignore[union-attr]

    async def json(
        self,
        *,
        encoding: str | None = None,
        loads: Callable[[str], Any] = _json.loads,
        content_type: str | None = "application/json",
    ) -> Any:
        if self._body is None:
            await self.read()
        if content_type:
            ctype = self.headers.get(hdrs.CONTENT_TYPE, "").lower()
            if not _is_expected_content_type(ctype, content_type):
                raise ContentTypeError(
                    self.request_info,
                    self.history,
                    status=self.status,
                    message="Attempt to decode JSON with unexpected mimetype: %s" % ctype,
                    headers=self.headers,
                )
        stripped = self._body.strip()  # type: ignore[union-attr]
        if not stripped:
            return None
        if encoding is None:
            encoding = self.get_encoding()
        return loads(stripped.decode(encoding))

    def release(self) -> Any:
        """Give the connection back: closed if the body was not read to the end."""
        # Only a body still streaming holds a connection.
        streaming = self._raw is not None and self._ready_body is None and self._body is None
        self._notify_content()
        self._released = True
        self._closed = True
        if streaming:
            self._raw.close()
        return _NOOP

    def _notify_content(self) -> None:
        # As aiohttp: once released or closed, the unread body is gone.
        content = self._content
        if content is None:
            self._ready_body = None
            self._content_gone = True
        elif content.exception() is None:
            content.set_exception(ClientConnectionError("Connection closed"))

    def close(self) -> None:
        self._closed_by_user = True
        if not self._released:
            self._notify_content()
        self._closed = True
        if self._raw is not None:
            self._raw.close()

    async def wait_for_close(self) -> None:
        self.release()

    def raise_for_status(self) -> None:
        if not self.ok:
            assert self.reason is not None
            if not self._in_context:
                self.release()
            raise ClientResponseError(
                self.request_info,
                self.history,
                status=self.status,
                message=self.reason,
                headers=self.headers,
            )

    async def __aenter__(self) -> "ClientResponse":
        self._in_context = True
        return self

    async def __aexit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        self._in_context = False
        self.release()


class _Noop:
    __slots__ = ()

    def __await__(self) -> Any:
        yield from ()


_NOOP = _Noop()


def _noop() -> _Noop:
    return _NOOP


def _history_from_heads(heads: list[Any]) -> tuple[ClientResponse, ...]:
    """History responses (bodies already released) from engine heads."""
    return tuple(ClientResponse._from_engine(None, h, None, None, None) for h in heads)
