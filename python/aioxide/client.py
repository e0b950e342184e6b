"""ClientSession and request() (``aiohttp.client``).

This layer is thin: it turns aiohttp's arguments into one engine call and
the engine's answer into a ClientResponse.  Redirects, timeouts, the pool
and decompression happen in the engine.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json as _json
import warnings
from collections.abc import AsyncIterable, AsyncIterator
from types import TracebackType
from typing import Any, Awaitable, Callable, Coroutine, Generator, Generic, Iterable, TypeVar

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, istr
from yarl import URL

from . import hdrs
from ._aioxide import hop_auth as _hop_auth
from ._aioxide import is_redirect as _is_redirect
from ._aioxide import redirect_step as _redirect_step
from ._bridge import bridge_for
from ._tls import tls_for
from .client_exceptions import (
    ClientConnectionError,
    ClientConnectorError,
    ClientPayloadError,
    ConnectionTimeoutError,
    InvalidUrlClientError,
    InvalidUrlRedirectClientError,
    NonHttpUrlClientError,
    TooManyRedirects,
)
from .client_middlewares import build_client_middlewares
from .client_reqrep import ClientRequest, ClientResponse, RequestInfo
from .connector import BaseConnector, TCPConnector, _not_supported
from .cookiejar import CookieJar, DummyCookieJar
from .helpers import _SENTINEL, BasicAuth, sentinel, strip_auth_from_url
from .http import HttpVersion, HttpVersion10, HttpVersion11
from .payload import Feeder, JsonPayload, Rewinder, prepare_body
from .tracing import Trace

__all__ = ("ClientSession", "ClientTimeout", "RequestInfo", "request")


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


DEFAULT_TIMEOUT: ClientTimeout = ClientTimeout(total=5 * 60, sock_connect=30)

_R = TypeVar("_R", bound=ClientResponse)

_AUTH_DEPRECATED = (
    "The 'auth' parameter is deprecated and will be removed in v4;"
    " pass headers={'Authorization': "
    "aiohttp.encode_basic_auth(login, password)} instead"
)


class ClientSession:
    """First-class interface for making HTTP requests."""

    _connector: BaseConnector | None = None
    _closed_flag = True

    def __init__(
        self,
        base_url: Any = None,
        *,
        connector: BaseConnector | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        cookies: Any = None,
        headers: Any = None,
        proxy: Any = None,
        proxy_auth: BasicAuth | None = None,
        skip_auto_headers: Iterable[str] | None = None,
        auth: BasicAuth | None = None,
        json_serialize: Callable[[Any], str] = _json.dumps,
        json_serialize_bytes: Any = None,
        request_class: Any = None,
        response_class: type[ClientResponse] = ClientResponse,
        ws_response_class: Any = None,
        version: HttpVersion = HttpVersion11,
        cookie_jar: Any = None,
        connector_owner: bool = True,
        raise_for_status: bool | Callable[[ClientResponse], Awaitable[None]] = False,
        read_timeout: float | _SENTINEL = sentinel,
        conn_timeout: float | None = None,
        timeout: Any = sentinel,
        auto_decompress: bool = True,
        trust_env: bool = False,
        requote_redirect_url: bool = True,
        trace_configs: list[Any] | None = None,
        read_bufsize: int = 2**18,
        max_line_size: int = 8190,
        max_field_size: int = 8190,
        max_headers: int = 128,
        fallback_charset_resolver: Callable[[ClientResponse, bytes], str] = lambda r, b: "utf-8",
        middlewares: Any = (),
        ssl_shutdown_timeout: Any = sentinel,
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
        for name, value, default in (
            ("proxy", proxy, None),
            ("proxy_auth", proxy_auth, None),
            ("json_serialize_bytes", json_serialize_bytes, None),
            ("ws_response_class", ws_response_class, None),
        ):
            if value is not default and value:
                raise _not_supported(f"ClientSession({name}=...)")
        if trust_env:
            raise _not_supported("ClientSession(trust_env=True)")
        if version != HttpVersion11 and version != HttpVersion10:
            raise ValueError(f"aioxide speaks HTTP/1.1 and HTTP/1.0, not {version!r}")

        if timeout is sentinel or timeout is None:
            self._timeout = DEFAULT_TIMEOUT if timeout is sentinel else ClientTimeout()
            if read_timeout is not sentinel:
                warnings.warn(
                    "read_timeout is deprecated, use timeout argument instead",
                    DeprecationWarning,
                    stacklevel=2,
                )
                self._timeout = dataclasses.replace(self._timeout, total=read_timeout)
            if conn_timeout is not None:
                warnings.warn(
                    "conn_timeout is deprecated, use timeout argument instead",
                    DeprecationWarning,
                    stacklevel=2,
                )
                self._timeout = dataclasses.replace(self._timeout, connect=conn_timeout)
        else:
            if not isinstance(timeout, ClientTimeout):
                raise ValueError(
                    f"timeout parameter cannot be of {type(timeout)} type, "
                    "please use 'timeout=ClientTimeout(...)'"
                )
            if read_timeout is not sentinel or conn_timeout is not None:
                raise ValueError("read_timeout and conn_timeout are deprecated; use timeout")
            self._timeout = timeout

        if ssl_shutdown_timeout is not sentinel:
            warnings.warn(
                "The ssl_shutdown_timeout parameter is deprecated "
                "and will be removed in aiohttp 4.0",
                DeprecationWarning,
                stacklevel=2,
            )
        if auth is not None:
            warnings.warn(_AUTH_DEPRECATED, DeprecationWarning, stacklevel=2)
        if connector is None:
            connector = TCPConnector(loop=loop)
        self._connector = connector
        self._connector_owner = connector_owner
        self._default_auth = auth
        self._default_auth_header = auth.encode() if auth is not None else None
        self._base_url_origin = str(self._base_url.origin()) if self._base_url is not None else None
        self._default_headers: CIMultiDict[str] = (
            CIMultiDict(headers) if headers is not None else CIMultiDict()
        )
        self._skip_auto_headers = (
            frozenset(istr(i) for i in skip_auto_headers) if skip_auto_headers else frozenset()
        )
        self._skip_list = tuple(str(h) for h in self._skip_auto_headers)
        self._json_serialize = json_serialize
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
        # aiohttp's switch for the one retry on a stale pooled connection.
        self._retry_connection = True
        if max_headers > 128:
            connector._engine.raise_max_headers(max_headers)
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
            self._trace_configs
            or (self._engine_jar is None and type(cookie_jar) is not DummyCookieJar)
            or self._request_class is not ClientRequest
        )
        self._lb = bridge_for(loop)
        self._lb.acquire()
        self._closed_flag = False

    # -- attributes ------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed_flag or self._connector is None or self._connector.closed

    @property
    def connector(self) -> BaseConnector | None:
        return self._connector

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        warnings.warn("client.loop property is deprecated", DeprecationWarning, stacklevel=2)
        return self._loop

    @property
    def timeout(self) -> ClientTimeout:
        return self._timeout

    @property
    def headers(self) -> CIMultiDict[str]:
        return self._default_headers

    @property
    def skip_auto_headers(self) -> frozenset[istr]:
        return self._skip_auto_headers

    @property
    def auth(self) -> BasicAuth | None:
        return self._default_auth

    @property
    def json_serialize(self) -> Callable[[Any], str]:
        return self._json_serialize

    @property
    def connector_owner(self) -> bool:
        return self._connector_owner

    @property
    def raise_for_status(self) -> Any:
        return self._raise_for_status

    @property
    def auto_decompress(self) -> bool:
        return self._auto_decompress

    @property
    def trust_env(self) -> bool:
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

    @property
    def trace_configs(self) -> list[Any]:
        return self._trace_configs

    @property
    def cookie_jar(self) -> Any:
        return self._cookie_jar

    @property
    def middlewares(self) -> tuple[Any, ...]:
        return self._middlewares

    # -- requests --------------------------------------------------------
    def request(self, method: str, url: Any, **kwargs: Any) -> "_RequestContextManager":
        """Perform HTTP request."""
        return _RequestContextManager(self._request(method, url, **kwargs))

    def get(
        self, url: Any, *, allow_redirects: bool = True, **kwargs: Any
    ) -> "_RequestContextManager":
        return _RequestContextManager(
            self._request(hdrs.METH_GET, url, allow_redirects=allow_redirects, **kwargs)
        )

    def options(
        self, url: Any, *, allow_redirects: bool = True, **kwargs: Any
    ) -> "_RequestContextManager":
        return _RequestContextManager(
            self._request(hdrs.METH_OPTIONS, url, allow_redirects=allow_redirects, **kwargs)
        )

    def head(
        self, url: Any, *, allow_redirects: bool = False, **kwargs: Any
    ) -> "_RequestContextManager":
        return _RequestContextManager(
            self._request(hdrs.METH_HEAD, url, allow_redirects=allow_redirects, **kwargs)
        )

    def post(self, url: Any, *, data: Any = None, **kwargs: Any) -> "_RequestContextManager":
        return _RequestContextManager(self._request(hdrs.METH_POST, url, data=data, **kwargs))

    def put(self, url: Any, *, data: Any = None, **kwargs: Any) -> "_RequestContextManager":
        return _RequestContextManager(self._request(hdrs.METH_PUT, url, data=data, **kwargs))

    def patch(self, url: Any, *, data: Any = None, **kwargs: Any) -> "_RequestContextManager":
        return _RequestContextManager(self._request(hdrs.METH_PATCH, url, data=data, **kwargs))

    def delete(self, url: Any, **kwargs: Any) -> "_RequestContextManager":
        return _RequestContextManager(self._request(hdrs.METH_DELETE, url, **kwargs))

    def _build_url(self, str_or_url: Any) -> URL:
        url = URL(str_or_url)
        if self._base_url is not None and not url.absolute:
            return self._base_url.join(url)
        return url

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

    async def _request(
        self,
        method: str,
        str_or_url: Any,
        *,
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
        upload_tracker: Any = None,
    ) -> ClientResponse:
        if self.closed:
            raise RuntimeError("Session is closed")
        if proxy is not None:
            raise _not_supported("proxy=")
        tls = tls_for(self._connector._ssl, ssl, verify_ssl, ssl_context, fingerprint)  # type: ignore[union-attr]
        if auth is not None:
            warnings.warn(_AUTH_DEPRECATED, DeprecationWarning, stacklevel=3)
        if proxy_auth is not None:
            warnings.warn(
                "The 'proxy_auth' parameter is deprecated and will be removed in v4;"
                " pass proxy_headers={'Proxy-Authorization': "
                "aiohttp.encode_basic_auth(login, password)} instead",
                DeprecationWarning,
                stacklevel=3,
            )
        if chunked is not None and not isinstance(chunked, bool):
            warnings.warn("Chunk size is deprecated #1615", DeprecationWarning, stacklevel=3)
        mws = self._middlewares if middlewares is None else middlewares
        if mws or self._hooked:
            return await self._request_hooked(
                method.upper(),
                str_or_url,
                mws,
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
                read_until_eof=read_until_eof,
                timeout=timeout,
                tls=tls,
                ssl=ssl,
                server_hostname=server_hostname,
                trace_request_ctx=trace_request_ctx,
                read_bufsize=read_bufsize,
                auto_decompress=auto_decompress,
                max_line_size=max_line_size,
                max_field_size=max_field_size,
                max_headers=max_headers,
            )

        payload = prepare_body(data, json, self._json_serialize)
        try:
            url = self._build_url(str_or_url)
        except (ValueError, TypeError) as e:
            raise InvalidUrlClientError(str_or_url) from e
        if params:
            url = url.extend_query(params)

        hdrs_list = self._prepare_headers(headers)
        if payload.headers:
            present = {k.lower() for k, _ in hdrs_list}
            hdrs_list += [(k, v) for k, v in payload.headers if k.lower() not in present]
        feeder = None
        rewinder = None
        if payload.source is not None:
            if Rewinder.applies(payload):
                rewinder = Rewinder(payload, self._loop, self._lb.bridge)
            feeder = Feeder(payload)
        auth_header = None if auth is None else auth.encode()

        if timeout is sentinel:
            t = self._timeout
        elif isinstance(timeout, ClientTimeout):
            t = timeout
        else:
            t = ClientTimeout(total=timeout)

        skip: Any = self._skip_list
        if skip_auto_headers is not None:
            skip = [*skip, *(str(h) for h in skip_auto_headers)]
        verify = tls if isinstance(tls, bool) else True
        if auto_decompress is None:
            auto_decompress = self._auto_decompress
        if compress:
            compress = compress if isinstance(compress, str) else "deflate"
        else:
            compress = None
        if max_headers is None:
            max_headers = self._max_headers
        elif max_headers > 128:
            self._connector._engine.raise_max_headers(max_headers)  # type: ignore[union-attr]

        loop = self._loop
        lb = self._lb
        bridge = lb.bridge
        fut = loop.create_future()
        rid = self._connector._engine.request(  # type: ignore[union-attr]
            bridge,
            fut,
            method,
            str(url),
            hdrs_list,
            payload.data,
            payload.content_type,
            auth_header,
            skip,
            allow_redirects,
            max_redirects,
            t.total,
            t.connect,
            t.sock_read,
            t.sock_connect,
            auto_decompress,
            verify,
            self._max_line_size if max_line_size is None else max_line_size,
            self._max_field_size if max_field_size is None else max_field_size,
            self._default_auth_header,
            self._base_url_origin,
            None if feeder is None else feeder.reader,
            bool(chunked),
            compress,
            expect100,
            self._http10,
            read_until_eof,
            server_hostname,
            max_headers,
            _request_cookies_list(cookies) if cookies else (),
            self._retry_connection,
            self._engine_jar,
            None if isinstance(tls, bool) else tls,
            rewinder,
            self._requote_redirect_url,
        )
        if feeder is None:
            try:
                raw = await fut
            except asyncio.CancelledError:
                bridge.abort(rid)
                raise
            except ClientConnectorError as e:
                err = self._connector._connect_error(e)  # type: ignore[union-attr]
                if err is e:
                    raise
                raise err from e
        else:
            feeder.start(payload.source, loop, bridge)
            try:
                raw = await fut
            except asyncio.CancelledError:
                bridge.abort(rid)
                raise
            except ClientConnectorError as e:
                err = self._connector._connect_error(e)  # type: ignore[union-attr]
                if err is e:
                    raise
                raise err from e
            except BaseException:
                # A failing body source is the cause to report, as aiohttp.
                if feeder.task is not None and not feeder.task.done():
                    await asyncio.wait([feeder.task], timeout=1)
                if feeder.error is not None:
                    raise ClientConnectionError(
                        f"Failed to send bytes into the underlying connection: {feeder.error!r}"
                    ) from feeder.error
                raise
            finally:
                feeder.stop()
                if rewinder is not None:
                    await rewinder.close()

        history: tuple[ClientResponse, ...] = ()
        heads = raw.history()
        if heads:
            history = tuple(
                self._response_class._from_engine(None, h, None, None, self) for h in heads
            )
        resp = self._response_class._from_engine(raw, raw.head, loop, bridge, self, history)
        if read_bufsize is not None:
            resp._read_bufsize = read_bufsize
        if auto_decompress is not self._auto_decompress:
            resp._auto_decompress = auto_decompress

        if raise_for_status is None:
            raise_for_status = self._raise_for_status
        if raise_for_status is None or raise_for_status is False:
            pass
        elif callable(raise_for_status):
            await raise_for_status(resp)
        elif raise_for_status:
            resp.raise_for_status()
        return resp

    # -- the hooked path: middlewares, tracing, a cookie jar in Python --------
    async def _request_hooked(
        self,
        method: str,
        str_or_url: Any,
        middlewares: Any,
        *,
        params: Any,
        data: Any,
        json: Any,
        cookies: Any,
        headers: Any,
        skip_auto_headers: Iterable[str] | None,
        auth: BasicAuth | None,
        allow_redirects: bool,
        max_redirects: int,
        compress: Any,
        chunked: bool | None,
        expect100: bool,
        raise_for_status: Any,
        read_until_eof: bool,
        timeout: Any,
        tls: Any,
        ssl: Any,
        server_hostname: str | None,
        trace_request_ctx: Any,
        read_bufsize: int | None,
        auto_decompress: bool | None,
        max_line_size: int | None,
        max_field_size: int | None,
        max_headers: int | None,
    ) -> ClientResponse:
        """A request hop by hop in Python: each hop is one engine call
        (redirects off), wrapped by the middlewares, announced to the trace
        configs, its cookies from and to the session's jar.  The redirect
        decision itself is the engine's (``redirect_step``)."""
        loop = self._loop
        if data is not None and json is not None:
            raise ValueError("data and json parameters can not be used at the same time")
        if json is not None:
            data = JsonPayload(json, dumps=self._json_serialize)
        try:
            url = self._build_url(str_or_url)
        except (ValueError, TypeError) as e:
            raise InvalidUrlClientError(str_or_url) from e
        if url.scheme not in ("http", "https"):
            raise NonHttpUrlClientError(url)
        hdrs_md: CIMultiDict[str] = CIMultiDict(self._prepare_headers(headers))
        skip: set[istr] = set(self._skip_auto_headers)
        if skip_auto_headers is not None:
            skip |= {istr(h) for h in skip_auto_headers}
        if timeout is sentinel:
            t = self._timeout
        elif isinstance(timeout, ClientTimeout):
            t = timeout
        else:
            t = ClientTimeout(total=timeout)
        deadline = loop.time() + t.total if t.total else None
        if auto_decompress is None:
            auto_decompress = self._auto_decompress
        compress_s = (compress if isinstance(compress, str) else "deflate") if compress else None
        limits = (
            self._max_line_size if max_line_size is None else max_line_size,
            self._max_field_size if max_field_size is None else max_field_size,
            self._max_headers if max_headers is None else max_headers,
        )
        traces = [
            Trace(self, tc, tc.trace_config_ctx(trace_request_ctx=trace_request_ctx))
            for tc in self._trace_configs
        ]
        for trace in traces:
            await trace.send_request_start(method, url.update_query(params), hdrs_md)

        history: list[ClientResponse] = []
        resp: ClientResponse | None = None
        req: ClientRequest | None = None
        jar = self._cookie_jar if type(self._cookie_jar) is not DummyCookieJar else None
        engine = self._connector._engine  # type: ignore[union-attr]
        lb = self._lb

        async def send(req: ClientRequest) -> ClientResponse:
            """The innermost handler: one hop through the engine."""
            source = req._payload_source()
            payload = prepare_body(source, None, self._json_serialize)
            req._streamed = payload.source is not None  # type: ignore[attr-defined]
            hdrs_list = [(str(k), v) for k, v in req.headers.items()]
            if payload.headers:
                present = {k.lower() for k, _ in hdrs_list}
                hdrs_list += [(k, v) for k, v in payload.headers if k.lower() not in present]
            total = None
            if deadline is not None:
                total = max(deadline - loop.time(), 0.001)
            feeder = Feeder(payload) if payload.source is not None else None
            hop = _HopTrace(traces, req, payload.data, loop) if self._hop_signals else None
            fut = loop.create_future()
            bridge = lb.bridge
            rid = engine.request(
                bridge,
                fut,
                req.method,
                str(req.url),
                hdrs_list,
                payload.data,
                payload.content_type,
                None,
                [str(h) for h in req.skip_auto_headers],
                False,
                0,
                total,
                t.connect,
                t.sock_read,
                t.sock_connect,
                auto_decompress,
                tls if isinstance(tls, bool) else True,
                limits[0],
                limits[1],
                None,
                None,
                None if feeder is None else feeder.reader,
                bool(req.chunked),
                compress_s,
                req.expect100,
                self._http10,
                read_until_eof,
                req.server_hostname,
                limits[2],
                [],
                self._retry_connection,
                None,
                None if isinstance(tls, bool) else tls,
                on_send=None if hop is None else hop.on_send,
            )
            if feeder is not None:
                source = payload.source
                if hop is not None and isinstance(source, AsyncIterable):
                    source = hop.chunks(source)
                feeder.start(source, loop, bridge)
            try:
                raw = await fut
            except asyncio.CancelledError:
                bridge.abort(rid)
                raise
            except BaseException as e:
                if hop is not None:
                    if hop.tasks:
                        await hop.finish()
                    else:
                        await _trace_failed_hop(traces, req, e, payload.data)
                if isinstance(e, ClientConnectorError):
                    err = self._connector._connect_error(e)  # type: ignore[union-attr]
                    if err is not e:
                        raise err from e
                raise
            finally:
                if feeder is not None:
                    feeder.stop()
            r = req.response_class._from_engine(raw, raw.head, loop, bridge, self, ())
            if read_bufsize is not None:
                r._read_bufsize = read_bufsize
            if auto_decompress is not self._auto_decompress:
                r._auto_decompress = auto_decompress
            if traces:
                r._traces = traces
            if hop is not None:
                await hop.finish()
            return r

        handler = build_client_middlewares(send, middlewares)
        redirects = 0
        try:
            while True:
                url, auth_from_url = strip_auth_from_url(url)
                if not url.raw_host:
                    raise (InvalidUrlRedirectClientError if redirects else InvalidUrlClientError)(
                        url
                    )
                # The engine's rule (policy/auth.rs) picks this hop's credentials.
                chosen = _hop_auth(
                    None if auth is None else auth.encode(),
                    None if auth_from_url is None else auth_from_url.encode(),
                    bool(history),
                    self._default_auth_header,
                    not self._base_url or self._base_url_origin == str(url.origin()),
                    hdrs.AUTHORIZATION in hdrs_md,
                )
                auth = next(
                    (
                        a
                        for a in (auth_from_url, auth, self._default_auth)
                        if a is not None and a.encode() == chosen
                    ),
                    None,
                )
                all_cookies = jar.filter_cookies(url) if jar is not None else None
                if cookies is not None:
                    req_cookies = _request_cookies(cookies, url)
                    if all_cookies is None:
                        all_cookies = req_cookies
                    elif req_cookies:
                        all_cookies.load(req_cookies)
                req = self._request_class(
                    method,
                    url,
                    params=params,
                    headers=hdrs_md,
                    skip_auto_headers=skip or None,
                    data=data,
                    cookies=all_cookies,
                    auth=auth,
                    version=self._version,
                    compress=compress,
                    chunked=chunked,
                    expect100=expect100,
                    loop=loop,
                    response_class=self._response_class,
                    session=self,
                    ssl=ssl,
                    server_hostname=server_hostname,
                    traces=traces,
                )
                resp = await handler(req)
                if jar is not None:
                    set_cookies = resp.headers.getall(hdrs.SET_COOKIE, ())
                    if set_cookies:
                        jar.update_cookies_from_headers(set_cookies, resp.url)
                if allow_redirects and _is_redirect(resp.status):
                    for trace in traces:
                        await trace.send_request_redirect(
                            method, url.update_query(params), hdrs_md, resp
                        )
                    redirects += 1
                    history.append(resp)
                    if max_redirects and redirects >= max_redirects:
                        resp.close()
                        raise TooManyRedirects(history[0].request_info, tuple(history))
                    location = resp.headers.get(hdrs.LOCATION) or resp.headers.get(hdrs.URI)
                    if location is None:
                        break
                    resp.release()
                    next_method, keep_body, next_url, same, dropped = _redirect_step(
                        resp.status,
                        method,
                        str(url.update_query(params)),
                        location,
                        self._requote_redirect_url,
                    )
                    for name in dropped:
                        hdrs_md.popall(name, None)
                    if keep_body:
                        if getattr(req, "_streamed", False):
                            raise ClientPayloadError(
                                "Cannot follow redirect with a consumed request body. "
                                "Use bytes, a seekable file-like object, "
                                "or set allow_redirects=False."
                            )
                        data = req._payload_source()
                    else:
                        method = next_method
                        data = None
                    if not same:
                        auth = None
                        cookies = None
                    url = URL(next_url, encoded=True)
                    params = None
                    continue
                break
            if raise_for_status is None:
                raise_for_status = self._raise_for_status
            if raise_for_status is None or raise_for_status is False:
                pass
            elif callable(raise_for_status):
                await raise_for_status(resp)
            elif raise_for_status:
                resp.raise_for_status()
            resp._history = tuple(history)
            for trace in traces:
                await trace.send_request_end(method, url.update_query(params), hdrs_md, resp)
            return resp
        except BaseException as e:
            if resp is not None:
                resp.close()
            for trace in traces:
                await trace.send_request_exception(method, url.update_query(params), hdrs_md, e)
            raise

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

    def __del__(self) -> None:
        if not self._closed_flag:
            self._closed_flag = True
            if self._connector is not None and self._connector_owner:
                self._connector._close()

    async def __aenter__(self) -> "ClientSession":
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.close()


def _request_cookies_list(cookies: Any) -> list[tuple[str, str]]:
    """A request's cookies= as (name, encoded value) pairs for the engine."""
    c = _request_cookies(cookies, URL())
    return [(name, m.coded_value) for name, m in c.items()]


def _request_cookies(cookies: Any, url: URL) -> Any:
    """A request's own cookies= for ``url`` (as aiohttp's temporary jar)."""
    from http.cookies import SimpleCookie

    c: SimpleCookie = SimpleCookie()
    items = cookies.items() if hasattr(cookies, "items") else cookies
    for name, value in items:
        c[name] = value.value if hasattr(value, "coded_value") else value
    return c


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


class _HopTrace:
    """The trace signals of one hop, sent as the engine reports it: when the
    request goes on a connection (queued / reuse / create / DNS, headers
    sent, an in-memory body), then each chunk of a streamed body."""

    __slots__ = ("traces", "req", "body", "loop", "tasks", "ready")

    def __init__(
        self, traces: list[Any], req: ClientRequest, body: bytes | None, loop: Any
    ) -> None:
        self.traces = traces
        self.req = req
        self.body = body
        self.loop = loop
        self.tasks: list[asyncio.Task[None]] = []
        self.ready = asyncio.Event()

    def on_send(self, conn_info: tuple[bool, bool, int], headers: list[tuple[str, str]]) -> None:
        """Called by the engine (on the loop) as the request goes out."""
        previous = self.tasks[-1] if self.tasks else None
        self.tasks.append(self.loop.create_task(self._emit(previous, conn_info, headers)))

    async def _emit(
        self,
        previous: asyncio.Task[None] | None,
        conn_info: tuple[bool, bool, int],
        headers: list[tuple[str, str]],
    ) -> None:
        if previous is not None:
            await previous
        await _trace_hop(self.traces, self.req, conn_info, headers, self.body)
        self.ready.set()

    async def chunks(self, source: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        """A streamed body, after the headers' signal, each chunk announced."""
        await self.ready.wait()
        req = self.req
        async for chunk in source:
            for trace in self.traces:
                await trace.send_request_chunk_sent(req.method, req.url, chunk)
            yield chunk

    async def finish(self) -> None:
        if self.tasks:
            await asyncio.gather(*self.tasks)


async def _trace_hop(
    traces: list[Any],
    req: ClientRequest,
    conn_info: tuple[bool, bool, int],
    headers: list[tuple[str, str]],
    body: bytes | None,
) -> None:
    """The connection and send signals of one hop, from what the engine saw."""
    reused, queued, dns = conn_info
    host = req.url.raw_host or ""
    for trace in traces:
        if queued:
            await trace.send_connection_queued_start()
            await trace.send_connection_queued_end()
        if reused:
            await trace.send_connection_reuseconn()
        else:
            await trace.send_connection_create_start()
            if dns == 1:
                await trace.send_dns_cache_hit(host)
            elif dns == 2:
                await trace.send_dns_cache_miss(host)
            if dns in (2, 3):
                await trace.send_dns_resolvehost_start(host)
                await trace.send_dns_resolvehost_end(host)
            await trace.send_connection_create_end()
        sent: CIMultiDict[str] = CIMultiDict(headers)
        await trace.send_request_headers(req.method, req.url, sent)
        if body:
            await trace.send_request_chunk_sent(req.method, req.url, body)


async def _trace_failed_hop(
    traces: list[Any], req: ClientRequest, exc: BaseException, body: bytes | None
) -> None:
    """The signals of a hop that failed: only the connection attempt when
    it could not connect; the connection and the request when it failed later."""
    connected = not isinstance(exc, (ClientConnectorError, ConnectionTimeoutError))
    for trace in traces:
        await trace.send_connection_create_start()
        if connected:
            await trace.send_connection_create_end()
            await trace.send_request_headers(req.method, req.url, req.headers)
            if body:
                await trace.send_request_chunk_sent(req.method, req.url, body)


_RESPONSE_AENTER = ClientResponse.__aenter__


class _RequestContextManager(Generic[_R]):
    """Awaitable and async context manager around a request coroutine."""

    __slots__ = ("_coro", "_resp")

    def __init__(self, coro: Coroutine[Any, Any, _R]) -> None:
        self._coro = coro
        self._resp: _R | None = None

    def send(self, arg: None) -> Any:
        return self._coro.send(arg)

    def throw(self, *args: Any, **kwargs: Any) -> Any:
        return self._coro.throw(*args, **kwargs)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, _R]:
        return self._coro.__await__()

    def __iter__(self) -> Generator[Any, None, _R]:
        return self.__await__()

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

    def __await__(self) -> Generator[Any, None, ClientResponse]:
        return self.__aenter__().__await__()


def request(
    method: str,
    url: Any,
    *,
    version: HttpVersion = HttpVersion11,
    connector: BaseConnector | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
    **kwargs: Any,
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
