"""ClientSession and request() (``aiohttp.client``).

This layer is thin: it turns aiohttp's arguments into one engine call and
the engine's answer into a ClientResponse.  Redirects, timeouts, the pool
and decompression happen in the engine.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json as _json
import os
import warnings
from collections.abc import AsyncIterable
from ssl import SSLContext
from types import TracebackType
from typing import (
    TYPE_CHECKING,
    Any,
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Generic,
    Iterable,
    Literal,
    Sequence,
    TypedDict,
    TypeVar,
    overload,
)

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, istr
from yarl import URL

from . import _aioxide, _interop, _proxy, hdrs
from . import client_ws as _client_ws
from ._body import _NO_BODY, Feeder, Rewinder, close_payload, keep_feeding, prepare_body
from ._bridge import bridge_for
from ._hooked import HookedRequest, check_status, compress_name, request_cookies
from ._tls import Fingerprint, tls_for
from .client_exceptions import (
    ClientConnectionError,
    ClientConnectionResetError,
    ClientConnectorCertificateError,
    ClientConnectorDNSError,
    ClientConnectorError,
    ClientConnectorSSLError,
    ClientError,
    ClientHttpProxyError,
    ClientOSError,
    ClientPayloadError,
    ClientProxyConnectionError,
    ClientResponseError,
    ClientSSLError,
    ConnectionTimeoutError,
    ContentTypeError,
    InvalidURL,
    InvalidUrlClientError,
    InvalidUrlRedirectClientError,
    NonHttpUrlClientError,
    NonHttpUrlRedirectClientError,
    RedirectClientError,
    ServerConnectionError,
    ServerDisconnectedError,
    ServerFingerprintMismatch,
    ServerTimeoutError,
    SocketTimeoutError,
    TooManyRedirects,
    UploadAbortedError,
    WSMessageTypeError,
    WSServerHandshakeError,
)
from .client_reqrep import ClientRequest, ClientResponse, RequestInfo, UploadTracker
from .client_ws import ClientWebSocketResponse, ClientWSTimeout
from .connector import BaseConnector, NamedPipeConnector, TCPConnector, UnixConnector
from .cookiejar import CookieJar, DummyCookieJar
from .helpers import (
    _SENTINEL,
    AUTH_DEPRECATED,
    PROXY_AUTH_DEPRECATED,
    BasicAuth,
    basic_auth_header,
    sentinel,
)
from .http import HttpVersion, HttpVersion10, HttpVersion11
from .tracing import TraceConfig
from .typedefs import LooseCookies, LooseHeaders, Query, StrOrURL

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._hooked import _HopTrace
    from .abc import AbstractCookieJar
    from .client_middlewares import ClientMiddlewareType

# aiohttp.client's names, importable from here as from there.
__all__ = (
    "ClientConnectionError",
    "ClientConnectionResetError",
    "ClientConnectorCertificateError",
    "ClientConnectorDNSError",
    "ClientConnectorError",
    "ClientConnectorSSLError",
    "ClientError",
    "ClientHttpProxyError",
    "ClientOSError",
    "ClientPayloadError",
    "ClientProxyConnectionError",
    "ClientResponseError",
    "ClientSSLError",
    "ConnectionTimeoutError",
    "ContentTypeError",
    "InvalidURL",
    "InvalidUrlClientError",
    "RedirectClientError",
    "NonHttpUrlClientError",
    "InvalidUrlRedirectClientError",
    "NonHttpUrlRedirectClientError",
    "ServerConnectionError",
    "ServerDisconnectedError",
    "ServerFingerprintMismatch",
    "ServerTimeoutError",
    "SocketTimeoutError",
    "TooManyRedirects",
    "UploadAbortedError",
    "WSServerHandshakeError",
    "ClientRequest",
    "ClientResponse",
    "Fingerprint",
    "RequestInfo",
    "UploadTracker",
    "BaseConnector",
    "TCPConnector",
    "UnixConnector",
    "NamedPipeConnector",
    "ClientWebSocketResponse",
    "ClientSession",
    "ClientTimeout",
    "ClientWSTimeout",
    "request",
    "WSMessageTypeError",
)


class _RequestOptions(TypedDict, total=False):
    """The keyword arguments of ``ClientSession.request()`` and its methods
    (aiohttp 3.14's, for type checkers)."""

    params: Query
    data: Any
    json: Any
    cookies: LooseCookies | None
    headers: LooseHeaders | None
    skip_auto_headers: Iterable[str] | None
    auth: BasicAuth | None
    allow_redirects: bool
    max_redirects: int
    compress: str | bool | None
    chunked: bool | None
    expect100: bool
    raise_for_status: None | bool | Callable[[ClientResponse], Awaitable[None]]
    read_until_eof: bool
    proxy: StrOrURL | None
    proxy_auth: BasicAuth | None
    timeout: ClientTimeout | _SENTINEL | None
    ssl: SSLContext | bool | Fingerprint
    server_hostname: str | None
    proxy_headers: LooseHeaders | None
    trace_request_ctx: object
    read_bufsize: int | None
    auto_decompress: bool | None
    max_line_size: int | None
    max_field_size: int | None
    max_headers: int | None
    middlewares: Sequence[ClientMiddlewareType] | None
    upload_tracker: UploadTracker | None


class _WSConnectOptions(TypedDict, total=False):
    """The keyword arguments of ``ClientSession.ws_connect()`` (aiohttp 3.14's)."""

    method: str
    protocols: Iterable[str]
    timeout: ClientWSTimeout | _SENTINEL
    receive_timeout: float | None
    autoclose: bool
    autoping: bool
    heartbeat: float | None
    auth: BasicAuth | None
    origin: str | None
    params: Query
    headers: LooseHeaders | None
    proxy: StrOrURL | None
    proxy_auth: BasicAuth | None
    ssl: SSLContext | bool | Fingerprint
    verify_ssl: bool | None
    fingerprint: bytes | None
    ssl_context: SSLContext | None
    server_hostname: str | None
    proxy_headers: LooseHeaders | None
    compress: int
    max_msg_size: int


@dataclasses.dataclass(frozen=True)
class ClientTimeout:
    """Timeouts of a request, in seconds (None or 0: no limit).

    total: the whole operation, body reading included; connect: getting a
    connection (pool wait included); sock_connect: opening one connection;
    sock_read: the longest wait for the next bytes from the server.
    """

    total: float | None = None
    connect: float | None = None
    sock_read: float | None = None
    sock_connect: float | None = None
    ceil_threshold: float = 5

    def __eq__(self, other: object) -> bool:
        # Equal to aiohttp's ClientTimeout with the same fields, too.
        if isinstance(other, ClientTimeout) or _interop.is_timeout(other):
            return _timeout_fields(self) == _timeout_fields(other)
        return NotImplemented

    @classmethod
    def _adopt(cls, timeout: Any) -> Any:
        """aiohttp's ClientTimeout as this class; anything else unchanged."""
        if _interop.is_timeout(timeout):
            return cls(*_timeout_fields(timeout))
        return timeout


def _timeout_fields(t: Any) -> tuple[Any, ...]:
    return (t.total, t.connect, t.sock_read, t.sock_connect, t.ceil_threshold)


DEFAULT_TIMEOUT: ClientTimeout = ClientTimeout(total=5 * 60, sock_connect=30)

_R = TypeVar("_R", bound=ClientResponse)
_T = TypeVar("_T")
_WS = TypeVar("_WS", bound="ClientWebSocketResponse[Any]")


def _session_timeout(
    timeout: ClientTimeout | _SENTINEL | None,
    read_timeout: float | _SENTINEL,
    conn_timeout: float | None,
) -> ClientTimeout:
    """ClientSession's timeout from ``timeout=`` and the deprecated
    ``read_timeout=`` / ``conn_timeout=`` (aiohttp's warnings and errors)."""
    if timeout is not sentinel and timeout is not None:
        adopted = ClientTimeout._adopt(timeout)
        if not isinstance(adopted, ClientTimeout):
            raise ValueError(
                f"timeout parameter cannot be of {type(adopted)} type, "
                "please use 'timeout=ClientTimeout(...)'"
            )
        if read_timeout is not sentinel or conn_timeout is not None:
            raise ValueError("read_timeout and conn_timeout are deprecated; use timeout")
        return adopted
    # (None is "not given", as aiohttp 3.14 reads it: the default, not no limit.)
    result = DEFAULT_TIMEOUT
    if read_timeout is not sentinel:
        result = _deprecated_timeout(result, "read_timeout", total=read_timeout)
    if conn_timeout is not None:
        result = _deprecated_timeout(result, "conn_timeout", connect=conn_timeout)
    return result


def _deprecated_timeout(result: ClientTimeout, name: str, **field: Any) -> ClientTimeout:
    """``result`` with the field a deprecated argument sets, and aiohttp's
    warning for it (pointing at the ClientSession call)."""
    warnings.warn(f"{name} is deprecated, use timeout argument instead", DeprecationWarning, 4)
    return dataclasses.replace(result, **field)


class ClientSession:
    """First-class interface for making HTTP requests."""

    _connector: BaseConnector | None = None
    _closed_flag = True

    def __init_subclass__(cls: type["ClientSession"]) -> None:
        warnings.warn(
            f"Inheritance class {cls.__name__} from ClientSession is discouraged",
            DeprecationWarning,
            stacklevel=2,
        )

    def __init__(
        self,
        base_url: StrOrURL | None = None,
        *,
        connector: BaseConnector | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        cookies: LooseCookies | None = None,
        headers: LooseHeaders | None = None,
        proxy: StrOrURL | None = None,
        proxy_auth: BasicAuth | None = None,
        skip_auto_headers: Iterable[str] | None = None,
        auth: BasicAuth | None = None,
        json_serialize: Callable[[Any], str] = _json.dumps,
        json_serialize_bytes: Callable[[Any], bytes] | None = None,
        request_class: type[ClientRequest] | None = None,
        response_class: type[ClientResponse] = ClientResponse,
        ws_response_class: type[ClientWebSocketResponse] | None = None,
        version: HttpVersion = HttpVersion11,
        cookie_jar: AbstractCookieJar | None = None,
        connector_owner: bool = True,
        raise_for_status: bool | Callable[[ClientResponse], Awaitable[None]] = False,
        read_timeout: float | _SENTINEL = sentinel,
        conn_timeout: float | None = None,
        timeout: ClientTimeout | _SENTINEL | None = sentinel,
        auto_decompress: bool = True,
        trust_env: bool = False,
        requote_redirect_url: bool = True,
        trace_configs: list[TraceConfig] | None = None,
        read_bufsize: int = 2**18,
        max_line_size: int = 8190,
        max_field_size: int = 8190,
        max_headers: int = 128,
        fallback_charset_resolver: Callable[[ClientResponse, bytes], str] = lambda r, b: "utf-8",
        middlewares: Sequence[ClientMiddlewareType] = (),
        ssl_shutdown_timeout: float | _SENTINEL | None = sentinel,
    ) -> None:
        if connector is not None and loop is None:
            loop = connector._loop
        loop = loop or asyncio.get_running_loop()
        self._loop = loop
        if base_url is None or isinstance(base_url, URL):
            self._base_url: URL | None = base_url
        else:
            self._base_url = URL(base_url)
        if self._base_url is not None and not self._base_url.path.endswith("/"):
            raise ValueError("base_url must have a trailing '/'")
        self._ws_response_class = (
            ws_response_class
            if ws_response_class is not None
            else _client_ws.ClientWebSocketResponse
        )
        if proxy is None and connector is not None:
            # aiohttp-socks' ProxyConnector (aioxide.ProxyConnector).
            proxy = getattr(connector, "_proxy_url", None)
        self._default_proxy = proxy
        self._default_proxy_auth = proxy_auth
        if version != HttpVersion11 and version != HttpVersion10:
            raise ValueError(f"aioxide speaks HTTP/1.1 and HTTP/1.0, not {version!r}")

        self._timeout = _session_timeout(timeout, read_timeout, conn_timeout)
        if ssl_shutdown_timeout is not sentinel:
            warnings.warn(
                "The ssl_shutdown_timeout parameter is deprecated "
                "and will be removed in aiohttp 4.0",
                DeprecationWarning,
                stacklevel=2,
            )
        if auth is not None:
            warnings.warn(AUTH_DEPRECATED, DeprecationWarning, stacklevel=2)
        if proxy_auth is not None:
            warnings.warn(PROXY_AUTH_DEPRECATED, DeprecationWarning, stacklevel=2)
        if connector is None:
            connector = TCPConnector(loop=loop)
        if connector._loop is not loop:
            raise RuntimeError("Session and connector has to use same event loop")
        self._connector = connector
        self._connector_owner = connector_owner
        self._default_auth = auth
        self._default_auth_header = basic_auth_header(auth) if auth is not None else None
        self._base_url_origin = str(self._base_url.origin()) if self._base_url is not None else None
        # URLs given as str: yarl's URL and its text, made once (_build_url).
        self._urls: dict[str, tuple[URL, str]] = {}
        self._default_headers: CIMultiDict[str] = (
            CIMultiDict(headers) if headers is not None else CIMultiDict()
        )
        self._skip_auto_headers = (
            frozenset(istr(i) for i in skip_auto_headers) if skip_auto_headers else frozenset()
        )
        self._skip_list = tuple(str(h) for h in self._skip_auto_headers)
        self._json_serialize = json_serialize
        self._json_serialize_bytes = json_serialize_bytes
        self._response_class = response_class
        self._version = version
        self._raise_for_status = raise_for_status
        self._auto_decompress = auto_decompress
        self._trust_env = trust_env
        self._requote_redirect_url = requote_redirect_url
        self._read_bufsize = read_bufsize
        self._max_line_size = max_line_size
        self._max_field_size = max_field_size
        self._max_headers = max_headers
        self._retry = True
        self._http10 = version == HttpVersion10
        self._resolve_charset = fallback_charset_resolver
        self._middlewares = tuple(middlewares) if middlewares else ()
        self._request_class = request_class if request_class is not None else ClientRequest
        self._trace_configs = list(trace_configs) if trace_configs else []
        for trace_config in self._trace_configs:
            trace_config.freeze()
        # Frozen: whether any config listens to the per-hop signals at all.
        self._hop_signals = any(
            len(getattr(tc, name)) for tc in self._trace_configs for name in _HOP_SIGNALS
        )
        if cookie_jar is None:
            cookie_jar = CookieJar(loop=loop)
        self._cookie_jar = cookie_jar
        # aioxide's own jar lives in the engine, which sets and sends its
        # cookies itself (redirects included); any other jar is called here.
        self._engine_jar = cookie_jar._store if type(cookie_jar) is CookieJar else None
        if cookies:
            cookie_jar.update_cookies(cookies)
        # Requests go through Python hop by hop only when something there
        # must see them; otherwise the engine does the whole request.
        self._hooked = bool(
            trust_env
            or self._trace_configs
            or (self._engine_jar is None and type(cookie_jar) is not DummyCookieJar)
            or self._request_class is not ClientRequest
        )
        self._opts = self._make_options()
        self._hop_opts: dict[tuple[Any, ...], Any] = {}
        self._lb = bridge_for(loop)
        self._lb.acquire()
        self._closed_flag = False

    # -- attributes ------------------------------------------------------
    @property
    def closed(self) -> bool:
        """Whether the session is closed."""
        return self._closed_flag or self._connector is None or self._connector.closed

    @property
    def connector(self) -> BaseConnector | None:
        """The session's connector (None once detached)."""
        return self._connector

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        warnings.warn("client.loop property is deprecated", DeprecationWarning, stacklevel=2)
        return self._loop

    @property
    def timeout(self) -> ClientTimeout:
        """The session's default ClientTimeout."""
        return self._timeout

    @property
    def headers(self) -> CIMultiDict[str]:
        """The default headers sent with every request."""
        return self._default_headers

    @property
    def skip_auto_headers(self) -> frozenset[istr]:
        return self._skip_auto_headers

    @property
    def auth(self) -> BasicAuth | None:
        """The default BasicAuth credentials, if any."""
        return self._default_auth

    @property
    def json_serialize(self) -> Callable[[Any], str]:
        return self._json_serialize

    @property
    def connector_owner(self) -> bool:
        return self._connector_owner

    @property
    def raise_for_status(self) -> Any:
        """The session's raise_for_status setting: a bool or an async callable."""
        return self._raise_for_status

    @property
    def auto_decompress(self) -> bool:
        return self._auto_decompress

    @property
    def trust_env(self) -> bool:
        """Whether proxies and .netrc credentials are taken from the environment."""
        return self._trust_env

    @property
    def version(self) -> HttpVersion:
        return self._version

    @property
    def requote_redirect_url(self) -> bool:
        return self._requote_redirect_url

    @requote_redirect_url.setter
    def requote_redirect_url(self, val: bool) -> None:
        warnings.warn(
            "session.requote_redirect_url modification is deprecated #2778",
            DeprecationWarning,
            stacklevel=2,
        )
        self._requote_redirect_url = val
        self._opts = self._make_options()
        self._hop_opts = {}

    @property
    def trace_configs(self) -> list[Any]:
        """The session's TraceConfig objects."""
        return self._trace_configs

    @property
    def cookie_jar(self) -> AbstractCookieJar:
        """The session's cookie jar."""
        return self._cookie_jar

    @property
    def middlewares(self) -> tuple[Any, ...]:
        """The session's client middlewares, outermost first."""
        return self._middlewares

    # -- requests --------------------------------------------------------
    @overload
    def ws_connect(
        self,
        url: StrOrURL,
        *,
        decode_text: Literal[True] = ...,
        **kwargs: Unpack[_WSConnectOptions],
    ) -> _WSRequestContextManager[ClientWebSocketResponse[Literal[True]]]: ...

    @overload
    def ws_connect(
        self,
        url: StrOrURL,
        *,
        decode_text: Literal[False],
        **kwargs: Unpack[_WSConnectOptions],
    ) -> _WSRequestContextManager[ClientWebSocketResponse[Literal[False]]]: ...

    @overload
    def ws_connect(
        self,
        url: StrOrURL,
        *,
        decode_text: bool = ...,
        **kwargs: Unpack[_WSConnectOptions],
    ) -> _WSRequestContextManager[ClientWebSocketResponse[bool]]: ...

    def ws_connect(
        self, url: StrOrURL, *, decode_text: bool = True, **kwargs: Unpack[_WSConnectOptions]
    ) -> _WSRequestContextManager[Any]:
        """Open a WebSocket (aiohttp's ``ws_connect``): awaitable, and an async
        context manager that closes it."""
        return _WSRequestContextManager(self._ws_connect(url, decode_text=decode_text, **kwargs))

    async def _ws_connect(
        self,
        url: Any,
        *,
        method: str = "GET",
        protocols: Iterable[str] = (),
        timeout: Any = sentinel,
        receive_timeout: float | None = None,
        autoclose: bool = True,
        autoping: bool = True,
        heartbeat: float | None = None,
        auth: BasicAuth | None = None,
        origin: str | None = None,
        params: Any = None,
        headers: Any = None,
        proxy: Any = None,
        proxy_auth: BasicAuth | None = None,
        ssl: Any = True,
        verify_ssl: bool | None = None,
        fingerprint: bytes | None = None,
        ssl_context: Any = None,
        server_hostname: str | None = None,
        proxy_headers: Any = None,
        compress: int = 0,
        max_msg_size: int = 4 * 1024 * 1024,
        decode_text: bool = True,
    ) -> ClientWebSocketResponse[Any]:
        args = dict(locals())
        del args["self"], args["url"]
        return await _client_ws.connect(self, url, **args)

    def request(
        self, method: str, url: StrOrURL, **kwargs: Unpack[_RequestOptions]
    ) -> _RequestContextManager[ClientResponse]:
        """Perform HTTP request."""
        return _RequestContextManager(self._request(method, url, **kwargs))

    def get(
        self, url: StrOrURL, **kwargs: Unpack[_RequestOptions]
    ) -> _RequestContextManager[ClientResponse]:
        """Perform HTTP GET request."""
        return _RequestContextManager(self._request(hdrs.METH_GET, url, **kwargs))

    def options(
        self, url: StrOrURL, **kwargs: Unpack[_RequestOptions]
    ) -> _RequestContextManager[ClientResponse]:
        """Perform HTTP OPTIONS request."""
        return _RequestContextManager(self._request(hdrs.METH_OPTIONS, url, **kwargs))

    def head(
        self, url: StrOrURL, **kwargs: Unpack[_RequestOptions]
    ) -> _RequestContextManager[ClientResponse]:
        """Perform HTTP HEAD request (redirects not followed unless asked)."""
        kwargs.setdefault("allow_redirects", False)
        return _RequestContextManager(self._request(hdrs.METH_HEAD, url, **kwargs))

    def post(
        self, url: StrOrURL, **kwargs: Unpack[_RequestOptions]
    ) -> _RequestContextManager[ClientResponse]:
        """Perform HTTP POST request."""
        return _RequestContextManager(self._request(hdrs.METH_POST, url, **kwargs))

    def put(
        self, url: StrOrURL, **kwargs: Unpack[_RequestOptions]
    ) -> _RequestContextManager[ClientResponse]:
        """Perform HTTP PUT request."""
        return _RequestContextManager(self._request(hdrs.METH_PUT, url, **kwargs))

    def patch(
        self, url: StrOrURL, **kwargs: Unpack[_RequestOptions]
    ) -> _RequestContextManager[ClientResponse]:
        """Perform HTTP PATCH request."""
        return _RequestContextManager(self._request(hdrs.METH_PATCH, url, **kwargs))

    def delete(
        self, url: StrOrURL, **kwargs: Unpack[_RequestOptions]
    ) -> _RequestContextManager[ClientResponse]:
        """Perform HTTP DELETE request."""
        return _RequestContextManager(self._request(hdrs.METH_DELETE, url, **kwargs))

    def _build_url(self, str_or_url: Any) -> URL:
        given_str = type(str_or_url) is str and len(str_or_url) <= _URL_KEPT_LEN
        if given_str:
            known = self._urls.get(str_or_url)
            if known is not None:
                return known[0]
        url = URL(str_or_url)
        if self._base_url is not None and not url.absolute:
            url = self._base_url.join(url)
        if given_str:
            if len(self._urls) >= _URLS_KEPT:
                self._urls.clear()
            self._urls[str_or_url] = (url, str(url))
        return url

    def _url_and_text(self, str_or_url: Any) -> tuple[URL, str]:
        """``_build_url`` and the URL's text (remembered with it for a str)."""
        url = self._build_url(str_or_url)
        known = self._urls.get(str_or_url) if type(str_or_url) is str else None
        return known if known is not None else (url, str(url))

    def _prepare_headers(self, headers: Any) -> list[tuple[str, str]]:
        if not headers:
            if not self._default_headers:
                return []
            return [(str(k), v) for k, v in self._default_headers.items()]
        result = CIMultiDict(self._default_headers)
        if not isinstance(headers, (MultiDict, CIMultiDict, CIMultiDictProxy)):
            headers = CIMultiDict(headers)
        added: set[str] = set()
        for key, value in headers.items():
            if key in added:
                result.add(key, value)
            else:
                result[key] = value
                added.add(key)
        return [(str(k), v) for k, v in result.items()]

    # -- one request flow ------------------------------------------------
    # A request is resolved once (_request: URL, options, warnings), then
    # driven either by the engine alone (every hop, redirects included) or,
    # when middlewares, trace configs or a jar of the user's must see each
    # hop, by _hooked.HookedRequest around the same engine call (_send).

    def _make_options(self) -> Any:
        """The session's request options, as the engine takes them."""
        t = self._timeout
        return _aioxide.Options(
            default_auth=self._default_auth_header,
            default_auth_origin=self._base_url_origin,
            skip_auto_headers=list(self._skip_list),
            total=t.total,
            connect=t.connect,
            sock_read=t.sock_read,
            sock_connect=t.sock_connect,
            auto_decompress=self._auto_decompress,
            max_line_size=self._max_line_size,
            max_field_size=self._max_field_size,
            max_headers=self._max_headers,
            http10=self._http10,
            retry=self._retry,
            cookie_jar=self._engine_jar,
            requote=self._requote_redirect_url,
        )

    @property
    def _retry_connection(self) -> bool:
        """aiohttp's switch for the one retry on a stale pooled connection."""
        return self._retry

    @_retry_connection.setter
    def _retry_connection(self, value: bool) -> None:
        self._retry = value
        self._opts = self._make_options()
        self._hop_opts = {}

    def _options(
        self,
        auth: BasicAuth | None,
        skip_auto_headers: Iterable[str] | None,
        allow_redirects: bool,
        max_redirects: int,
        timeout: Any,
        auto_decompress: bool | None,
        tls: Any,
        limits: tuple[int | None, int | None, int | None],
        chunked: Any,
        compress: Any,
        expect100: bool,
        read_until_eof: bool,
        server_hostname: str | None,
        cookies: Any,
        url: URL,
    ) -> Any:
        """A request's options (for ``url``): the session's, with what the
        request overrides."""
        kw: dict[str, Any] = {}
        if auth is not None:
            kw["auth"] = basic_auth_header(auth)
        if skip_auto_headers is not None:
            kw["skip_auto_headers"] = [*self._skip_list, *(str(h) for h in skip_auto_headers)]
        if not allow_redirects:
            kw["allow_redirects"] = False
        if max_redirects != 10:
            kw["max_redirects"] = max_redirects
        if timeout is not sentinel:
            t = ClientTimeout._adopt(timeout)
            if not isinstance(t, ClientTimeout):
                t = ClientTimeout(total=timeout)
            kw.update(total=t.total, connect=t.connect, sock_read=t.sock_read)
            kw["sock_connect"] = t.sock_connect
        if auto_decompress is not None:
            kw["auto_decompress"] = auto_decompress
        if tls is not True:
            kw["tls"] = tls
        if limits != _NO_LIMITS:
            for name, value in zip(("max_line_size", "max_field_size", "max_headers"), limits):
                if value is not None:
                    kw[name] = value
        if chunked:
            kw["chunked"] = True
        if compress:
            kw["compress"] = compress_name(compress)
        if expect100:
            kw["expect100"] = True
        if not read_until_eof:
            kw["read_until_eof"] = False
        if server_hostname:  # ("": the URL's host, as aiohttp's `or host`)
            kw["server_hostname"] = server_hostname
        if cookies:
            kw["cookies"] = _request_cookies_list(cookies, self._cookie_jar, url)
        return self._opts.replace(**kw) if kw else self._opts

    async def _request(
        self,
        method: str,
        str_or_url: Any,
        params: Any = None,
        data: Any = None,
        json: Any = None,
        cookies: Any = None,
        headers: Any = None,
        skip_auto_headers: Iterable[str] | None = None,
        auth: BasicAuth | None = None,
        allow_redirects: bool = True,
        max_redirects: int = 10,
        compress: Any = None,
        chunked: bool | None = None,
        expect100: bool = False,
        raise_for_status: Any = None,
        read_until_eof: bool = True,
        proxy: Any = None,
        proxy_auth: BasicAuth | None = None,
        timeout: Any = sentinel,
        verify_ssl: bool | None = None,
        fingerprint: bytes | None = None,
        ssl_context: Any = None,
        ssl: Any = True,
        server_hostname: str | None = None,
        proxy_headers: Any = None,
        trace_request_ctx: Any = None,
        read_bufsize: int | None = None,
        auto_decompress: bool | None = None,
        max_line_size: int | None = None,
        max_field_size: int | None = None,
        max_headers: int | None = None,
        middlewares: Any = None,
        upload_tracker: UploadTracker | None = None,
        _upgrade: bool = False,
        _tracker: UploadTracker | None = None,
    ) -> ClientResponse:
        if upload_tracker is not None:
            kw = dict(locals())
            del kw["self"], kw["method"], kw["str_or_url"], kw["upload_tracker"], kw["_tracker"]
            return await self._tracked(upload_tracker, method, str_or_url, kw)
        connector = self._connector
        if self._closed_flag or connector is None or connector.closed:
            raise RuntimeError("Session is closed")
        if asyncio.get_running_loop() is not self._loop and self._lb.pid == os.getpid():
            # aiohttp fails here too (RuntimeError: "Timeout context manager
            # should be used inside a task"); without this the request would
            # go out and its answer be handed to the other loop.  (A session
            # inherited through os.fork() is refused by the engine, saying so.)
            raise RuntimeError(
                "This ClientSession belongs to another event loop: a session is "
                "used only on the loop it was created on"
            )
        if proxy is None:
            proxy = self._default_proxy
        if proxy_auth is None:
            proxy_auth = self._default_proxy_auth
        if proxy is not None:
            proxy = _proxy.proxy_url(proxy)
            proxy_headers = self._prepare_headers(proxy_headers)
        # (Each default below is tested before its step is called: the
        # common request pays a comparison, not a call.)
        plain_tls = ssl is True and verify_ssl is None and ssl_context is None
        if plain_tls and fingerprint is None and connector._ssl is True:
            tls: Any = True
        else:
            if ssl is not True:
                ssl = _interop.ssl_value(ssl)
            tls = tls_for(connector._ssl, ssl, verify_ssl, ssl_context, fingerprint)
        if auth is not None or proxy_auth is not None or chunked is not None:
            _warn_deprecated_arguments(auth, proxy_auth, chunked)
        known = self._urls.get(str_or_url) if type(str_or_url) is str else None
        try:
            url, text = known or self._url_and_text(str_or_url)
        except (ValueError, TypeError) as e:
            raise InvalidUrlClientError(str_or_url) from e
        args = (
            auth,
            skip_auto_headers,
            allow_redirects,
            max_redirects,
            timeout,
            auto_decompress,
            tls,
            (max_line_size, max_field_size, max_headers),
            chunked,
            compress,
            expect100,
            read_until_eof,
            server_hostname,
            cookies,
        )
        # (All defaults, the common case: compared, not computed.)
        opts = self._opts if args == _DEFAULT_OPTION_ARGS else self._options(*args, url)
        mws = self._middlewares if middlewares is None else middlewares
        if _upgrade:
            opts = opts.replace(upgrade=True)
        # aioxide.testing answers hops in Python: those requests take the hooked path.
        hooked = mws or self._hooked or connector._testing_answer is not None
        if proxy is not None and not hooked:
            opts = opts.replace(proxy=_proxy.engine_option(proxy, proxy_auth, proxy_headers))
        # (The request's own SSLContext, for get_extra_info("sslcontext").)
        own_ctx = None if plain_tls else ssl if isinstance(ssl, SSLContext) else ssl_context
        if hooked:
            resp = await HookedRequest(
                self,
                method.upper(),
                url,
                opts,
                params=params,
                data=data,
                json=json,
                cookies=cookies,
                headers=headers,
                skip_auto_headers=skip_auto_headers,
                auth=auth,
                allow_redirects=allow_redirects,
                max_redirects=max_redirects,
                compress=compress,
                chunked=chunked,
                expect100=expect100,
                raise_for_status=raise_for_status,
                ssl=ssl,
                server_hostname=server_hostname,
                trace_request_ctx=trace_request_ctx,
                read_bufsize=read_bufsize,
                auto_decompress=auto_decompress,
                proxy=proxy,
                proxy_auth=proxy_auth,
                proxy_headers=proxy_headers,
                upload=_tracker,
            ).run(mws)
            if isinstance(own_ctx, SSLContext):
                resp._ssl_context = own_ctx
            return resp
        # The fast path: the engine drives every hop; Python is not entered
        # again until the final response (or error) comes back.
        if data is None and json is None:
            payload = _NO_BODY
        else:
            payload = prepare_body(data, json, self._json_serialize, self._json_serialize_bytes)
        if params:
            url = url.extend_query(params)
            text = str(url)
        raw = await self._send(
            method,
            text,
            [] if not headers and not self._default_headers else self._prepare_headers(headers),
            payload,
            opts,
            upload=_tracker,
        )
        heads = raw.history()
        history: tuple[ClientResponse, ...] = ()
        if heads:
            cls = self._response_class
            history = tuple(cls._from_engine(None, h, None, None, self) for h in heads)
        resp = self._response(raw, self._response_class, read_bufsize, auto_decompress, history)
        if own_ctx is not None and isinstance(own_ctx, SSLContext):
            resp._ssl_context = own_ctx
        check = self._raise_for_status if raise_for_status is None else raise_for_status
        if check:
            await check_status(resp, check)
        return resp

    async def _tracked(
        self, tracker: UploadTracker, method: str, str_or_url: Any, kw: dict[str, Any]
    ) -> ClientResponse:
        """The request (``kw``: its other arguments) with ``tracker`` bound,
        settled at its end (answered or failed; its body may still be going
        out)."""
        tracker._bind()
        try:
            resp = await self._request(method, str_or_url, _tracker=tracker, **kw)
        except BaseException as e:
            tracker._finalize(self._lb.bridge, e)
            raise
        tracker._finalize(self._lb.bridge, None)
        return resp

    async def _send(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        payload: Any,
        opts: Any,
        hop: _HopTrace | None = None,
        rewinders: list[Rewinder] | None = None,
        total: float | None = None,
        upload: UploadTracker | None = None,
    ) -> Any:
        """The one engine call of a request (or of one hop of it): the body
        streamed in when it is not bytes, a seekable one offered again for
        307/308, cancellation passed on to the engine; the engine's result."""
        if payload.headers:
            present = {k.lower() for k, _ in headers}
            headers = headers + [(k, v) for k, v in payload.headers if k.lower() not in present]
        loop = self._loop
        bridge = self._lb.bridge
        feeder = rewinder = None
        if payload.source is not None:
            if Rewinder.applies(payload):
                rewinder = Rewinder(payload, loop, bridge)
            feeder = Feeder(payload)
        fut = self._connector._engine.request(  # type: ignore[union-attr]
            bridge,
            loop,
            opts,
            method,
            url,
            headers,
            payload.data,
            payload.content_type,
            None if feeder is None else feeder.reader,
            rewinder,
            None if hop is None else hop.on_send,
            total,
            None if upload is None else upload._progress,
        )
        if feeder is not None:
            source = payload.source
            if hop is not None and isinstance(source, AsyncIterable):
                source = hop.chunks(source)
            feeder.start(source, loop, bridge)
        answered = False
        try:
            raw = await fut
            answered = True
            return raw
        except asyncio.CancelledError:
            bridge.abort(fut.rid)
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                # The answer came as the task was cancelled: its connection
                # goes now, not when the task's traceback is collected.
                fut.result().close()
            raise
        except ClientConnectorError as e:
            err = self._connector._connect_error(e)  # type: ignore[union-attr]
            if err is e:
                raise
            raise err from e
        except BaseException:
            if feeder is not None:
                await feeder.raise_source_error()
            raise
        finally:
            if answered and feeder is not None and rewinder is not None:
                rewinder.answered(feeder)  # its close stops the feeding, once over
            elif feeder is not None and not (answered and keep_feeding([feeder])):
                feeder.stop()
            if rewinder is not None:
                if rewinders is None:
                    await rewinder.close()
                else:
                    rewinders.append(rewinder)
            if payload.close_after is not None:
                await close_payload(payload.close_after)

    def _response(
        self,
        raw: Any,
        cls: type[ClientResponse],
        read_bufsize: int | None,
        auto_decompress: bool | None,
        history: tuple[ClientResponse, ...] = (),
    ) -> ClientResponse:
        resp = cls._from_engine(raw, raw.head, self._loop, self._lb.bridge, self, history)
        if read_bufsize is not None:
            resp._read_bufsize = read_bufsize
        if auto_decompress is not None and auto_decompress is not self._auto_decompress:
            resp._auto_decompress = auto_decompress
        return resp

    # -- lifecycle -------------------------------------------------------
    async def close(self) -> None:
        """Close the underlying connector (when owned)."""
        if not self._closed_flag:
            self._closed_flag = True
            if self._connector is not None and self._connector_owner:
                await self._connector.close()
            self._connector = None
            self._lb.release()

    def detach(self) -> None:
        """Detach the connector from the session without closing it."""
        self._connector = None

    def __del__(self, _warnings: Any = warnings) -> None:
        if not self._closed_flag:
            self._closed_flag = True
            connector = self.__dict__.get("_connector")
            if connector is None:
                return  # (__init__ raised before it had one)
            if not connector.closed:
                # As aiohttp: a ResourceWarning, and the loop's handler told.
                _warnings.warn(f"Unclosed client session {self!r}", ResourceWarning, source=self)
                context = {"client_session": self, "message": "Unclosed client session"}
                self._loop.call_exception_handler(context)
            if self._connector_owner:
                connector._close()

    async def __aenter__(self) -> "ClientSession":
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.close()


_NO_LIMITS = (None, None, None)

#: ``_options``' arguments when a request overrides nothing: it would give
#: the session's own options back.
_DEFAULT_OPTION_ARGS = (
    None,  # auth
    None,  # skip_auto_headers
    True,  # allow_redirects
    10,  # max_redirects
    sentinel,  # timeout
    None,  # auto_decompress
    True,  # tls
    _NO_LIMITS,
    None,  # chunked
    None,  # compress
    False,  # expect100
    True,  # read_until_eof
    None,  # server_hostname
    None,  # cookies
)

#: How many URLs given as str a session remembers (_build_url), up to what
#: length; past that many it starts over.
_URLS_KEPT = 256
_URL_KEPT_LEN = 2048


def _warn_deprecated_arguments(auth: Any, proxy_auth: Any, chunked: Any) -> None:
    """aiohttp 3.14's DeprecationWarnings for a request's arguments."""
    if auth is not None:
        warnings.warn(AUTH_DEPRECATED, DeprecationWarning, stacklevel=4)
    if proxy_auth is not None:
        warnings.warn(PROXY_AUTH_DEPRECATED, DeprecationWarning, stacklevel=4)
    if chunked is not None and not isinstance(chunked, bool):
        warnings.warn("Chunk size is deprecated #1615", DeprecationWarning, stacklevel=4)


def _request_cookies_list(cookies: Any, session_jar: Any, url: URL) -> list[tuple[str, str]]:
    """A request's cookies= for ``url`` as (name, value as sent) pairs for
    the engine."""
    c = request_cookies(cookies, url, session_jar)
    return [(m.key, m.coded_value) for m in c.values()]


#: The signals of one hop, sent from the engine's report as it sends.
_HOP_SIGNALS = (
    "on_connection_queued_start",
    "on_connection_queued_end",
    "on_connection_create_start",
    "on_connection_create_end",
    "on_connection_reuseconn",
    "on_dns_resolvehost_start",
    "on_dns_resolvehost_end",
    "on_dns_cache_hit",
    "on_dns_cache_miss",
    "on_request_headers_sent",
    "on_request_chunk_sent",
)


_RESPONSE_AENTER = ClientResponse.__aenter__


class _BaseRequestContextManager(Generic[_T]):
    """Awaitable and async context manager around a request coroutine."""

    __slots__ = ("_coro", "_resp")

    def __init__(self, coro: Coroutine[Any, Any, _T]) -> None:
        self._coro = coro
        self._resp: _T | None = None

    def send(self, arg: None) -> Any:
        return self._coro.send(arg)

    def throw(self, *args: Any, **kwargs: Any) -> Any:
        return self._coro.throw(*args, **kwargs)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, _T]:
        return self._coro.__await__()

    def __iter__(self) -> Generator[Any, None, _T]:
        return self.__await__()


class _RequestContextManager(_BaseRequestContextManager[_R]):
    """A request's: leaving the block releases the response."""

    __slots__ = ()

    async def __aenter__(self) -> _R:
        resp = self._resp = await self._coro
        if type(resp).__aenter__ is _RESPONSE_AENTER:
            resp._in_context = True  # what ClientResponse.__aenter__ does
        else:
            await resp.__aenter__()
        return resp

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._resp is not None
        self._resp.release()


class _WSRequestContextManager(_BaseRequestContextManager[_WS]):
    """``ws_connect``'s: leaving the block closes the WebSocket."""

    __slots__ = ()

    async def __aenter__(self) -> _WS:
        self._resp = await self._coro
        return await self._resp.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._resp is not None
        await self._resp.close()


class _SessionRequestContextManager:
    __slots__ = ("_coro", "_resp", "_session")

    def __init__(self, coro: Coroutine[Any, Any, ClientResponse], session: ClientSession) -> None:
        self._coro = coro
        self._resp: ClientResponse | None = None
        self._session = session

    async def __aenter__(self) -> ClientResponse:
        try:
            self._resp = await self._coro
        except BaseException:
            await self._session.close()
            raise
        return self._resp

    async def __aexit__(self, *exc: Any) -> None:
        assert self._resp is not None
        self._resp.release()
        await self._session.close()


def request(
    method: str,
    url: StrOrURL,
    *,
    version: HttpVersion = HttpVersion11,
    connector: BaseConnector | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
    **kwargs: Unpack[_RequestOptions],
) -> _SessionRequestContextManager:
    """Make one request with a session of its own, closed afterwards.

    Use as ``async with aioxide.request("GET", url) as resp: ...``.
    """
    connector_owner = False
    if connector is None:
        connector_owner = True
        connector = TCPConnector(loop=loop, force_close=True)
    session = ClientSession(
        loop=loop,
        cookies=kwargs.pop("cookies", None),
        version=version,
        timeout=kwargs.pop("timeout", sentinel),
        connector=connector,
        connector_owner=connector_owner,
    )
    return _SessionRequestContextManager(session._request(method, url, **kwargs), session)
