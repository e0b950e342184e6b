"""ClientResponse and RequestInfo (``aiohttp.client_reqrep``)."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import dataclasses
import io
import json as _json
import re
import sys
import warnings
from collections import namedtuple
from http.cookies import SimpleCookie
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy
from yarl import URL

from . import hdrs
from ._aioxide import ACCEPT_ENCODING, DEFAULT_ACCEPT  # the engine's automatic headers
from ._aioxide import UploadProgress as _UploadProgress
from ._aioxide import json_loads as _json_loads
from ._tls import Fingerprint
from .client_exceptions import (
    ClientConnectionError,
    ClientError,
    ClientResponseError,
    ContentTypeError,
    UploadAbortedError,
)
from .helpers import (
    EMPTY_BODY_METHODS,
    EMPTY_BODY_STATUS_CODES,
    BasicAuth,
    _basic_auth_no_warn,
    parse_content_type,
    parse_mimetype,
    parse_set_cookie_headers,
    sentinel,
)
from .http import SERVER_SOFTWARE, HttpVersion, HttpVersion11
from .streams import DEFAULT_LIMIT, EMPTY_PAYLOAD, StreamReader

if TYPE_CHECKING:
    from .client import ClientSession

__all__ = ("ClientRequest", "ClientResponse", "ContentDisposition", "Fingerprint", "RequestInfo")

json_re = re.compile(r"^application/(?:[\w.+-]+?\+)?json")
_LINK_PARAM_RE = re.compile(r"^([^\s=]+)\s*=\s*(?:(['\"])(.*?)\2|(\S*))$", re.M)
# The Content-Encodings that aiohttp (and the engine) decode.
_DECODED_ENCODINGS = frozenset(("gzip", "deflate", "br", "zstd"))

_RequestInfo = namedtuple("_RequestInfo", ["url", "method", "headers", "real_url"])


@dataclasses.dataclass(frozen=True, order=True)
class ContentDisposition:
    """A parsed Content-Disposition header (``ClientResponse.content_disposition``).

    As aiohttp's (a frozen attrs class there): ``type`` (lower case, None when
    the header is malformed), ``parameters`` (a read-only mapping) and
    ``filename`` (from ``filename*`` or ``filename``, None when absent).
    """

    type: str | None
    parameters: "MappingProxyType[str, str]"
    filename: str | None


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


def _parse_content_disposition(header: str) -> tuple[str | None, dict[str, str]]:
    from .multipart import parse_content_disposition  # lazily: no import cycle

    return parse_content_disposition(header)


def _content_disposition_filename(params: "MappingProxyType[str, str]") -> str | None:
    from .multipart import content_disposition_filename

    return content_disposition_filename(params)


def _is_expected_content_type(response_content_type: str, expected_content_type: str) -> bool:
    if expected_content_type == "application/json":
        return json_re.match(response_content_type) is not None
    return expected_content_type in response_content_type


# Content-Types whose JSON body is UTF-8 (get_encoding's answer for them), and
# the names of UTF-8: where the engine may parse JSON (json()).
_UTF8_JSON = frozenset(("application/json", "application/json; charset=utf-8"))
_UTF8 = frozenset(("utf-8", "utf8"))


def _default_charset_resolver(resp: "ClientResponse", body: bytes) -> str:
    return "utf-8"


class UploadTracker:
    """Tracks the upload of one request's body (aiohttp 3.14).

    Pass a fresh instance as the request's ``upload_tracker`` and read
    ``attempts``, ``bytes_written`` and ``upload_complete`` while it runs.
    Every attempt at sending the request (a redirect hop that sends the body
    again, a retry on a new connection) counts from zero.  Created inside a
    running event loop; a second request given it raises RuntimeError.
    """

    def __init__(self) -> None:
        self.upload_complete: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._progress = _UploadProgress()
        self._bound = False
        self._failure: ClientError | None = None

    @property
    def attempts(self) -> int:
        """Attempts started so far."""
        return self._progress.attempts

    @property
    def bytes_written(self) -> int:
        """Body bytes of the current attempt handed to the connection: over
        HTTP/1.1 at most 64 KiB ahead of the kernel, over HTTP/2 ahead by
        what the stream's window and send buffer take."""
        return self._progress.written

    def _bind(self) -> None:
        if self._bound:
            raise RuntimeError("UploadTracker is already bound to a request")
        self._bound = True

    def _finalize(self, bridge: Any, failure: BaseException | None) -> None:
        """The request is over: answered, or raised ``failure``.  Settles
        ``upload_complete`` now, or when its last attempt stops writing (a
        body may still be going out after the answer came)."""
        self._failure = failure if isinstance(failure, ClientError) else None
        outcome = self._progress.outcome
        if outcome is not True:
            self._settle(outcome)
            return
        fut = self.upload_complete.get_loop().create_future()
        fut.add_done_callback(self._settled)
        try:
            self._progress.settled(bridge, fut)
        except Exception as e:  # the session's loop bridge is gone
            fut.set_exception(e)

    def _settled(self, fut: asyncio.Future[Any]) -> None:
        failed = fut.cancelled() or fut.exception() is not None
        self._settle(False if failed else fut.result())

    def _settle(self, outcome: bool | BaseException | None) -> None:
        """None: sent whole; an exception: how it failed (the request's own
        when it failed too, as aiohttp's); False: cut short."""
        done = self.upload_complete
        if done.done():
            return
        if outcome is None:
            done.set_result(None)
            return
        if isinstance(outcome, BaseException):
            outcome = self._failure or outcome
        else:
            outcome = UploadAbortedError("The request body was not fully sent")
        done.set_exception(outcome)
        done.exception()  # (not "never retrieved" for a .done() poll)


class ClientResponse:
    """A response to a request (aiohttp's ClientResponse)."""

    # Set by the session; class attributes so that a bare instance is valid.
    _body: bytes | None = None
    _released = False
    # A request's own SSLContext (ssl= or ssl_context=), which
    # get_extra_info("sslcontext") gives rather than the connector's.
    _ssl_context: Any = None
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
    _content_gone = False
    _bridge: Any = None
    # The connector the response's connection belongs to (kept after the
    # session lets it go: a body read after session.close() asks it).
    _connector: Any = None
    _cookies: SimpleCookie | None = None
    # Per-request settings the session may set (None: the session's).
    _read_bufsize: int | None = None
    _auto_decompress: bool | None = None
    # Trace objects of the request (tracing: response_chunk_received).
    _traces: Any = ()

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
        if history:
            self._history = history
        # (_body, _released and _in_context keep their class defaults.)
        if session is not None:
            self._resolve_charset = session._resolve_charset
            self._connector = session._connector
        self._bridge = bridge
        if raw is not None:
            # The whole body when the engine read it ahead: read() returns it
            # directly, and resp.content is only built when asked for.
            ready = raw.body
            if ready is None:
                self._closed = False  # (a body still to come)
            else:
                self._ready_body = ready
        return self

    @property
    def content(self) -> StreamReader:
        """The body as a stream (aiohttp's StreamReader API)."""
        stream = self._content
        if stream is None:
            stream = self._make_content()
        return stream

    @content.setter
    def content(self, value: StreamReader) -> None:
        self._content = value

    def _make_content(self) -> StreamReader:
        raw = self._raw
        stream: StreamReader
        if self._head is not None and (
            self.status in EMPTY_BODY_STATUS_CODES or self.method in EMPTY_BODY_METHODS
        ):
            # As aiohttp: a response that cannot have a body reads as EMPTY_PAYLOAD.
            stream = EMPTY_PAYLOAD
        else:
            limit = self._read_bufsize
            if limit is None:
                session = self._session
                limit = session._read_bufsize if session is not None else DEFAULT_LIMIT
            compressed, raw_length = self._decoded_body()
            loop, bridge = self._loop, self._bridge
            ready = self._ready_body
            chunked = raw is not None and raw.chunked
            if ready is not None:
                stream = StreamReader(
                    raw,
                    loop,
                    bridge,
                    body=ready,
                    limit=limit,
                    compressed=compressed,
                    raw_length=raw_length,
                    chunked=chunked,
                )
                self._ready_body = None
            elif self._body is not None:
                # read() took the body whole without a stream: the stream is
                # as aiohttp's after read() (all read, at EOF).
                stream = StreamReader(
                    None,
                    loop,
                    bridge,
                    body=b"",
                    limit=limit,
                    compressed=compressed,
                    raw_length=raw_length,
                )
                stream.total_bytes = len(self._body)
                stream.set_read_chunk_size(sys.maxsize)
            elif raw is None:
                # A redirect in the history: its connection went on to the
                # next hop, and reading says so (aiohttp's "Connection closed").
                stream = StreamReader(None, loop, bridge, body=b"", limit=limit)
                stream.set_exception(ClientConnectionError("Connection closed"))
            elif raw.body is not None:
                stream = StreamReader(None, loop, bridge, body=b"", limit=limit)
            else:
                stream = StreamReader(
                    raw,
                    loop,
                    bridge,
                    limit=limit,
                    compressed=compressed,
                    raw_length=raw_length,
                    chunked=chunked,
                )
                stream._owner = self._connector
                stream.on_eof(self._response_eof)
            if self._content_gone:
                stream.set_exception(ClientConnectionError("Connection closed"))
        self._content = stream
        return stream

    def _decoded_body(self) -> tuple[bool, int | None]:
        """Whether the engine decodes the body (a Content-Encoding it knows, and
        auto_decompress), and the undecoded length when announced."""
        if self._head is None and self._headers is None:
            return False, None  # (built directly, not by a session)
        headers = self.headers
        enc = headers.get(hdrs.CONTENT_ENCODING)
        if enc is None or not enc.isascii() or enc.lower() not in _DECODED_ENCODINGS:
            return False, None
        auto = self._auto_decompress
        if auto is None:
            session = self._session
            auto = session._auto_decompress if session is not None else True
        if not auto:
            return False, None
        length = headers.get(hdrs.CONTENT_LENGTH)
        return True, (int(length) if length is not None and length.isdigit() else None)

    def _response_eof(self) -> None:
        # As aiohttp: a response whose body has been received is closed.
        self._closed = True

    # -- attributes ------------------------------------------------------
    @property
    def url(self) -> URL:
        """The URL that answered, without its fragment."""
        if self._url is None:
            self._url = self.real_url.with_fragment(None)
        return self._url

    @property
    def url_obj(self) -> URL:
        """Deprecated alias of :attr:`url` (as aiohttp)."""
        warnings.warn("Deprecated, use .url #1654", DeprecationWarning, stacklevel=2)
        return self.url

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
        """The host of the response's URL."""
        host = self.url.host
        assert host is not None
        return host

    @property
    def headers(self) -> "CIMultiDictProxy[str]":
        """The response headers, a case-insensitive multidict."""
        if self._headers is None:
            self._headers = CIMultiDictProxy(CIMultiDict(self._head.headers()))
        return self._headers

    @property
    def raw_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """The response headers as (name, value) byte pairs, as received."""
        raw = self.__dict__.get("_raw_headers_v")
        if raw is None:
            raw = self.__dict__["_raw_headers_v"] = tuple(self._head.raw_headers())
        return raw

    @property
    def request_info(self) -> RequestInfo:
        """The request that got this response: URL, method, headers, original URL."""
        if self._request_info_v is None:
            h = self._head
            self._request_info_v = _request_info(
                h.request_method, h.request_url, h.request_headers()
            )
        return self._request_info_v

    @property
    def history(self) -> tuple["ClientResponse", ...]:
        """The responses of the redirects followed, oldest first."""
        return self._history

    @property
    def ok(self) -> bool:
        """True if ``status`` is less than 400 (not a check for 200 OK)."""
        return 400 > self.status

    @property
    def closed(self) -> bool:
        """Whether the response is closed."""
        return self._closed

    @property
    def connection(self) -> Any:
        """The connection while the body is still arriving; None once it has
        all arrived (the connection went back to the pool) or was released."""
        if self._released or self._closed or self._session is None:
            return None
        conn = self.__dict__.get("_connection")
        if conn is None:
            from .connector import Connection

            connector = self._connector or self._session.connector
            if connector is None:
                return None
            conn = Connection(connector, self.url.origin(), self)
            self.__dict__["_connection"] = conn
        return conn

    @property
    def cookies(self) -> SimpleCookie:
        """The Set-Cookie fields of this response (as aiohttp parses them)."""
        cookies = self._cookies
        if cookies is None:
            cookies = SimpleCookie()
            if self._head is not None:
                fields = self.headers.getall(hdrs.SET_COOKIE, ())
                if fields:
                    cookies.update(parse_set_cookie_headers(fields))
            self._cookies = cookies
        return cookies

    @cookies.setter
    def cookies(self, value: SimpleCookie) -> None:
        self._cookies = value

    @property
    def content_disposition(self) -> "ContentDisposition | None":
        """The parsed Content-Disposition header, None when there is none."""
        cache = self.__dict__
        if "_content_disposition_v" in cache:
            cached: ContentDisposition | None = cache["_content_disposition_v"]
            return cached
        raw = self.headers.get(hdrs.CONTENT_DISPOSITION)
        if raw is None:
            value = None
        else:
            disposition_type, params_dct = _parse_content_disposition(raw)
            params = MappingProxyType(params_dct)
            filename = _content_disposition_filename(params)
            value = ContentDisposition(disposition_type, params, filename)
        cache["_content_disposition_v"] = value
        return value

    @property
    def links(self) -> "MultiDictProxy[MultiDictProxy[str | URL]]":
        """The Link header, parsed: ``rel`` (or the URL) -> its parameters and ``url``."""
        cache = self.__dict__
        cached: MultiDictProxy[MultiDictProxy[str | URL]] | None = cache.get("_links_v")
        if cached is not None:
            return cached
        cache["_links_v"] = value = self._parse_links()
        return value

    def _parse_links(self) -> "MultiDictProxy[MultiDictProxy[str | URL]]":
        links_str = ", ".join(self.headers.getall("link", []))
        if not links_str:
            return MultiDictProxy(MultiDict())
        links: MultiDict[MultiDictProxy[str | URL]] = MultiDict()
        for val in re.split(r",(?=\s*<)", links_str):
            match = re.match(r"\s*<(.*)>(.*)", val)
            if match is None:
                continue
            url, params_str = match.groups()
            params = params_str.split(";")[1:]
            link: MultiDict[str | URL] = MultiDict()
            for param in params:
                pmatch = _LINK_PARAM_RE.match(param.strip())
                if pmatch is None:  # a malformed parameter
                    continue
                key, _, value_quoted, value_unquoted = pmatch.groups()
                link.add(key, value_unquoted if value_quoted is None else value_quoted)
            key = link.get("rel", url)
            link.add("url", self.url.join(URL(url)))
            links.add(str(key), MultiDictProxy(link))
        return MultiDictProxy(links)

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
        """The media type of Content-Type (application/octet-stream by default)."""
        self._parse_content_type()
        assert self._content_type_v is not None
        return self._content_type_v

    @property
    def charset(self) -> str | None:
        """The charset parameter of Content-Type, None when absent."""
        self._parse_content_type()
        assert self._content_dict is not None
        return self._content_dict.get("charset")

    @property
    def content_length(self) -> int | None:
        """The Content-Length header as an int, None when absent."""
        v = self.headers.get(hdrs.CONTENT_LENGTH)
        return None if v is None else int(v)

    def __repr__(self) -> str:
        out = io.StringIO()
        ascii_encodable_url = str(self.url)
        if self.reason:
            reason = self.reason.encode("ascii", "backslashreplace").decode("ascii")
        else:
            reason = "None"
        print(f"<ClientResponse({ascii_encodable_url}) [{self.status} {reason}]>", file=out)
        print(self.headers, file=out)
        return out.getvalue()

    # -- body ------------------------------------------------------------
    async def read(self) -> bytes:
        """Read the whole body."""
        if self._body is None:
            ready = self._ready_body
            if ready is not None and self._content is None:
                # Read ahead by the engine: no round trip.
                self._body = ready
                self._ready_body = None
                if self._traces:
                    await self._trace_body(ready)
                return ready
            try:
                # After release()/close() the stream raises "Connection closed"
                # (EMPTY_PAYLOAD of a body-less response reads b"", as aiohttp).
                self._body = await self.content.read()
            except BaseException:
                self.close()
                raise
            self._closed = True
            if self._traces:
                await self._trace_body(self._body)
        elif self._released:
            raise ClientConnectionError("Connection closed")
        return self._body

    async def _trace_body(self, body: bytes) -> None:
        for trace in self._traces:
            # (Only a config listening to it: self.url parses the engine's URL.)
            if trace._trace_config.on_response_chunk_received:
                await trace.send_response_chunk_received(self.method, self.url, body)

    def _header(self, name: str) -> str | None:
        """One header's value: from the engine's fields when the multidict
        is not built yet (json() and text() need only Content-Type)."""
        if self._headers is None and self._head is not None:
            value: str | None = self._head.header(name)
            return value
        return self.headers.get(name)

    def get_encoding(self) -> str:
        """The body's text encoding: the Content-Type charset, else the session's fallback."""
        ctype = (self._header(hdrs.CONTENT_TYPE) or "").lower()
        mimetype = parse_mimetype(ctype)
        encoding = mimetype.parameters.get("charset")
        if encoding:
            with contextlib.suppress(LookupError, ValueError):
                return codecs.lookup(encoding).name
        if mimetype.type == "application" and mimetype.subtype in ("json", "rdap"):
            # RFC 7159 (JSON) and RFC 7483 (application/rdap+json): UTF-8.
            return "utf-8"
        if self._body is None:
            raise RuntimeError("Cannot compute fallback encoding of a not yet read body")
        return self._resolve_charset(self, self._body)

    async def text(self, encoding: str | None = None, errors: str = "strict") -> str:
        """Read the body and decode it (charset of Content-Type, or the fallback)."""
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
        """Read the body and decode it as JSON (None for an empty body)."""
        if self._body is None:
            await self.read()
        ctype = (self._header(hdrs.CONTENT_TYPE) or "").lower()
        if content_type and not _is_expected_content_type(ctype, content_type):
            raise ContentTypeError(
                self.request_info,
                self.history,
                status=self.status,
                message="Attempt to decode JSON with unexpected mimetype: %s" % ctype,
                headers=self.headers,
            )
        if loads is _json.loads and (
            ctype in _UTF8_JSON if encoding is None else encoding.lower() in _UTF8
        ):
            # The engine parses a UTF-8 body straight into Python objects,
            # exactly as json.loads would; what it cannot promise (an error,
            # NaN, a lone surrogate, a big integer) json.loads does below.
            value = _json_loads(self._body)  # type: ignore[arg-type]
            if value is not NotImplemented:
                return value
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
        if not self._released:
            self._notify_content()
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
        self._released = True

    def close(self) -> None:
        """Close the connection (never reused); the unread body is gone."""
        if not self._released:
            self._notify_content()
        self._closed = True
        if self._raw is not None:
            self._raw.close()

    async def wait_for_close(self) -> None:
        """Release the response (aiohttp's spelling)."""
        self.release()

    def raise_for_status(self) -> None:
        """Raise ClientResponseError for a status of 400 or more (releasing the
        response unless inside ``async with``)."""
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
        await self.wait_for_close()


class _Noop:
    __slots__ = ()

    def __await__(self) -> Any:
        return iter(())  # done at once (no generator to make)


_NOOP = _Noop()


def _noop() -> _Noop:
    return _NOOP


def _history_from_heads(heads: list[Any]) -> tuple[ClientResponse, ...]:
    """History responses (bodies already released) from engine heads."""
    return tuple(ClientResponse._from_engine(None, h, None, None, None) for h in heads)


_NO_SKIP: CIMultiDict[None] = CIMultiDict()

#: The automatic headers a ClientRequest puts in its headers unless skipped:
#: on the hooked path the engine is told not to add them again, so that what
#: the middlewares leave is what is sent.
AUTO_HEADERS = (hdrs.ACCEPT, hdrs.ACCEPT_ENCODING, hdrs.USER_AGENT)

_CONTAINS_CONTROL_CHAR_RE = re.compile(r"[^-!#$%&'*+.^_`|~0-9a-zA-Z]")
# Methods known to be tokens (the check above is skipped for them).
_TOKEN_METHODS = frozenset(
    ("GET", "HEAD", "OPTIONS", "TRACE", "PATCH", "POST", "PUT", "DELETE", "CONNECT")
)


class ClientRequest:
    """One request as middlewares see it (aiohttp's ClientRequest).

    aioxide builds one per hop only when the session has middlewares, trace
    configs or a cookie jar of the user's own; otherwise requests go straight
    to the engine.  What a middleware changes here (method, url, headers,
    body) is what the engine sends.
    """

    GET_METHODS = {hdrs.METH_GET, hdrs.METH_HEAD, hdrs.METH_OPTIONS, hdrs.METH_TRACE}
    POST_METHODS = {hdrs.METH_PATCH, hdrs.METH_POST, hdrs.METH_PUT}
    ALL_METHODS = GET_METHODS.union(POST_METHODS).union({hdrs.METH_DELETE})
    DEFAULT_HEADERS = {hdrs.ACCEPT: DEFAULT_ACCEPT, hdrs.ACCEPT_ENCODING: ACCEPT_ENCODING}

    auth: Any = None
    _body: Any = None

    def __init__(
        self,
        method: str,
        url: URL,
        *,
        params: Any = None,
        headers: Any = None,
        skip_auto_headers: Any = None,
        data: Any = None,
        cookies: Any = None,
        auth: Any = None,
        version: HttpVersion = HttpVersion11,
        compress: str | bool | None = None,
        chunked: bool | None = None,
        expect100: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
        response_class: type["ClientResponse"] | None = None,
        proxy: URL | None = None,
        proxy_auth: Any = None,
        timer: Any = None,
        session: "ClientSession | None" = None,
        ssl: Any = True,
        proxy_headers: Any = None,
        traces: Any = None,
        trust_env: bool = False,
        server_hostname: str | None = None,
    ) -> None:
        if loop is None:
            loop = asyncio.get_event_loop()
        if method not in _TOKEN_METHODS and (match := _CONTAINS_CONTROL_CHAR_RE.search(method)):
            raise ValueError(
                f"Method cannot contain non-token characters {method!r} "
                f"(found at least {match.group()!r})"
            )
        self._session = session
        if params:
            url = url.extend_query(params)
        self.original_url = url
        self.url = url.with_fragment(None) if url.raw_fragment else url
        self.method = method.upper()
        self.chunked = chunked
        self.compress = compress
        self.loop = loop
        self.length = None
        self.response_class: type[ClientResponse] = response_class or ClientResponse
        self._ssl = ssl if ssl is not None else True
        self.server_hostname = server_hostname
        self.version = version
        self.proxy = proxy
        if proxy is None:
            proxy_auth = proxy_headers = None
        elif proxy_auth and not isinstance(proxy_auth, BasicAuth):
            raise ValueError("proxy_auth must be None or BasicAuth() tuple")
        if proxy_headers is not None and not isinstance(proxy_headers, (MultiDict, MultiDictProxy)):
            proxy_headers = CIMultiDict(proxy_headers)
        self.proxy_auth = proxy_auth
        self.proxy_headers = proxy_headers
        self.expect100 = expect100
        if url.raw_user or url.raw_password:
            self.auth = _basic_auth_no_warn(url.user or "", url.password or "")
        # Headers as aiohttp builds them: Host, the user's, the automatic ones.
        self.headers: CIMultiDict[str] = CIMultiDict()
        host = self.url.host_port_subcomponent
        if host is not None:
            self.headers[hdrs.HOST] = host
        if headers:
            items = (
                headers.items()
                if isinstance(headers, (dict, MultiDictProxy, MultiDict))
                else headers
            )
            for key, value in items:
                if key.lower() == "host":
                    self.headers[key] = value
                else:
                    self.headers.add(key, value)
        if skip_auto_headers:
            self._skip_auto_headers = CIMultiDict((h, None) for h in sorted(skip_auto_headers))
            used = self.headers.copy()
            used.extend(self._skip_auto_headers)  # type: ignore[arg-type]
        else:
            self._skip_auto_headers = _NO_SKIP
            used = self.headers
        for hdr, val in self.DEFAULT_HEADERS.items():
            if hdr not in used:
                self.headers[hdr] = val
        if hdrs.USER_AGENT not in used:
            self.headers[hdrs.USER_AGENT] = SERVER_SOFTWARE
        self.update_cookies(cookies)
        if auth is not None:
            self.auth = auth
        if self.auth is not None:
            self.headers[hdrs.AUTHORIZATION] = self.auth.encode()
        self._body = None
        self._data = data
        self._traces = [] if traces is None else traces
        self._body_headers()

    # -- attributes of the reference ------------------------------------------
    @property
    def skip_auto_headers(self) -> CIMultiDict[None]:
        return self._skip_auto_headers

    def is_ssl(self) -> bool:
        return self.url.scheme in ("https", "wss")

    @property
    def ssl(self) -> Any:
        return self._ssl

    @property
    def host(self) -> str:
        ret = self.url.raw_host
        assert ret is not None
        return ret

    @property
    def port(self) -> int | None:
        return self.url.port

    @property
    def connection_key(self) -> Any:
        from .connector import ConnectionKey

        return ConnectionKey(
            self.host,
            self.port,
            self.is_ssl(),
            self._ssl,
            None,
            None,
            None,
            self.server_hostname,
        )

    @property
    def body(self) -> Any:
        """The request body: a Payload, or b"" when there is none."""
        if self._body is None and self._data is not None:
            self._body = _to_payload(self._data)
        return self._body or b""

    @body.setter
    def body(self, value: Any) -> None:
        self._replace_body(value)

    async def update_body(self, body: Any) -> None:
        """Replace the body (closing the old payload, as aiohttp)."""
        old = self._body
        if old is not None and hasattr(old, "close"):
            await old.close()
        self._replace_body(body)

    def _replace_body(self, body: Any) -> None:
        """A new body: the old one's length and framing go with it (aiohttp's
        ``_update_body``)."""
        self.headers.popall(hdrs.CONTENT_LENGTH, None)
        if self.chunked:
            self.headers.popall(hdrs.TRANSFER_ENCODING, None)
        self.update_body_from_data(body)

    def _body_headers(self) -> None:
        """The body's headers, as aiohttp's ``update_body_from_data`` sets
        them when the request is made, so that middlewares see them: its
        Content-Length (0 for a POST without one; none for a chunked or
        compressed body, whose length the engine frames), and the payload's
        own (Content-Type, Content-Disposition) unless given or skipped."""
        headers = self.headers
        data = self._data
        unframed = not self.chunked and not self.compress
        if data is None:
            if self.method not in self.GET_METHODS and unframed:
                headers.setdefault(hdrs.CONTENT_LENGTH, "0")
            return
        body = self.body
        if unframed and hdrs.CONTENT_LENGTH not in headers:
            size = getattr(body, "size", None)
            if size is not None:
                headers[hdrs.CONTENT_LENGTH] = str(size)
        skip = self._skip_auto_headers
        for key, value in getattr(body, "headers", {}).items():
            if key not in headers and key not in skip:
                headers[key] = value

    @property
    def request_info(self) -> RequestInfo:
        return tuple.__new__(
            RequestInfo,
            (self.url, self.method, CIMultiDictProxy(self.headers), self.original_url),
        )

    @property
    def session(self) -> "ClientSession":
        assert self._session is not None
        return self._session

    response: "ClientResponse | None" = None

    def update_version(self, version: HttpVersion | str) -> None:
        """Set the HTTP version ("1.1", "1.0" or an HttpVersion)."""
        if isinstance(version, str):
            v = [part.strip() for part in version.split(".", 1)]
            try:
                version = HttpVersion(int(v[0]), int(v[1]))
            except ValueError:
                raise ValueError(f"Can not parse http version number: {version}") from None
        self.version = version

    def update_host(self, url: URL) -> None:
        """Check the URL's host; credentials in it become the auth."""
        if not url.raw_host:
            from .client_exceptions import InvalidURL

            raise InvalidURL(url)
        if url.raw_user or url.raw_password:
            self.auth = _basic_auth_no_warn(url.user or "", url.password or "")

    def update_headers(self, headers: Any) -> None:
        """Replace the headers: Host, then the given ones."""
        self.headers = CIMultiDict()
        host = self.url.host_port_subcomponent
        if host is not None:
            self.headers[hdrs.HOST] = host
        if headers:
            items = headers.items() if hasattr(headers, "items") else headers
            for key, value in items:
                if key.lower() == "host":
                    self.headers[key] = value
                else:
                    self.headers.add(key, value)

    def update_auth(self, auth: Any, trust_env: bool = False) -> None:
        """Set basic auth (the Authorization header)."""
        if auth is None:
            auth = self.auth
        if auth is None:
            return
        from .helpers import BasicAuth

        if not isinstance(auth, BasicAuth):
            raise TypeError("BasicAuth() tuple is required instead")
        self.headers[hdrs.AUTHORIZATION] = auth.encode()

    def update_expect_continue(self, expect: bool = False) -> None:
        if expect:
            self.headers[hdrs.EXPECT] = "100-continue"
            self.expect100 = True
        elif self.headers.get(hdrs.EXPECT, "").lower() == "100-continue":
            self.expect100 = True

    def update_body_from_data(self, body: Any, _stacklevel: int = 3) -> None:
        """Replace the body from data, as the constructor does (a Content-Length
        already set stays, as in aiohttp: ``update_body`` drops it)."""
        self._data = body
        self._body = None
        self._body_headers()

    def terminate(self) -> None:
        """Nothing to stop: the engine writes the body (aiohttp cancels its writer task)."""

    async def send(self, conn: Any) -> "ClientResponse":
        raise NotImplementedError(
            "aioxide sends requests in its engine: ClientRequest.send() is not available"
        )

    def update_cookies(self, cookies: Any) -> None:
        """Add cookies to the Cookie header (over ones of the same name)."""
        if not cookies:
            return
        from http.cookies import Morsel

        c: SimpleCookie = SimpleCookie()
        if hdrs.COOKIE in self.headers:
            c.load(self.headers.get(hdrs.COOKIE, ""))
            del self.headers[hdrs.COOKIE]
        items = cookies.items() if hasattr(cookies, "items") else cookies
        for name, value in items:
            if isinstance(value, Morsel):
                m: Morsel[str] = Morsel()
                m.set(value.key, value.value, value.coded_value)
                c[name] = m
            else:
                c[name] = value
        self.headers[hdrs.COOKIE] = c.output(header="", sep=";").strip()

    def _payload_source(self) -> Any:
        """What the engine sends: the body as given, or the payload it became."""
        return self._body if self._body is not None else self._data

    async def close(self) -> None:
        if self._body is not None and hasattr(self._body, "close"):
            await self._body.close()

    def __repr__(self) -> str:
        return f"<ClientRequest({self.method} {self.url})>"


def _to_payload(data: Any) -> Any:
    from . import _interop
    from . import payload as _payload
    from .formdata import FormData

    if isinstance(data, _payload.Payload) or _interop.is_payload(data):
        return data
    if isinstance(data, FormData) or _interop.is_form_data(data):
        return data()  # (aiohttp's FormData gives aiohttp's payload)
    try:
        return _payload.PAYLOAD_REGISTRY.get(data, disposition=None)
    except _payload.LookupError:
        return FormData(data)()
