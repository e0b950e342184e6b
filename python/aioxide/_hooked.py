"""The hooked path: a request driven hop by hop in Python.

A request takes it when the session (or the request) has middlewares, trace
configs, a cookie jar that is not aioxide's own, a ``request_class``, or an
aioxide.testing answerer.  Each hop is one engine call with redirects off
(``ClientSession._send``, as on the fast path), wrapped by the middlewares,
announced to the trace configs, its cookies from and to the session's jar.
The rules stay the engine's: which redirect to follow and how
(``redirect_step``), how many (``too_many_redirects``), which credentials
go on a hop (``hop_auth``).

``HookedRequest.run`` is the flow; each step is a method: ``_hop_target``
(URL and credentials), ``_env_for_hop`` (trust_env only), ``_next_request``
(the hop's ClientRequest), ``send`` (the innermost handler), ``_after``
(cookies; a redirect?) and ``_follow`` (the next hop, or the end).
Coroutines are made only where something is awaited.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING, Any

from multidict import CIMultiDict, istr
from yarl import URL

from . import _proxy, hdrs
from ._aioxide import hop_auth as _hop_auth
from ._aioxide import is_redirect as _is_redirect
from ._aioxide import redirect_step as _redirect_step
from ._aioxide import too_many_redirects as _too_many_redirects
from ._body import Rewinder, close_source, prepare_body
from .client_exceptions import (
    ClientConnectorError,
    ClientPayloadError,
    ConnectionTimeoutError,
    InvalidUrlClientError,
    InvalidUrlRedirectClientError,
    NonHttpUrlClientError,
    TooManyRedirects,
)
from .client_middlewares import build_client_middlewares
from .client_reqrep import AUTO_HEADERS, ClientRequest, ClientResponse
from .cookiejar import DummyCookieJar, _UnlimitedCookieJar
from .helpers import BasicAuth, basic_auth_header, strip_auth_from_url
from .http import HttpVersion10
from .payload import JsonBytesPayload, JsonPayload
from .tracing import Trace

if TYPE_CHECKING:
    from .client import ClientSession


class HookedRequest:
    """One request on the hooked path: what carries from hop to hop."""

    __slots__ = (
        "s",
        "loop",
        "opts",
        "upload",
        "method",
        "url",
        "params",
        "data",
        "cookies",
        "auth",
        "hdrs",
        "skip",
        "allow_redirects",
        "max_redirects",
        "compress",
        "chunked",
        "expect100",
        "raise_for_status",
        "ssl",
        "server_hostname",
        "read_bufsize",
        "auto_decompress",
        "proxy",
        "proxy_auth",
        "proxy_headers",
        "traces",
        "deadline",
        "history",
        "rewinders",
        "jar",
        "redirects",
        "req",
    )

    def __init__(
        self,
        session: ClientSession,
        method: str,
        url: URL,
        opts: Any,
        *,
        params: Any,
        data: Any,
        json: Any,
        cookies: Any,
        headers: Any,
        skip_auto_headers: Any,
        auth: BasicAuth | None,
        allow_redirects: bool,
        max_redirects: int,
        compress: Any,
        chunked: bool | None,
        expect100: bool,
        raise_for_status: Any,
        ssl: Any,
        server_hostname: str | None,
        trace_request_ctx: Any,
        read_bufsize: int | None,
        auto_decompress: bool | None,
        proxy: URL | None,
        proxy_auth: BasicAuth | None,
        proxy_headers: Any,
        upload: Any = None,
    ) -> None:
        if data is not None and json is not None:
            raise ValueError("data and json parameters can not be used at the same time")
        if json is not None and session._json_serialize_bytes is not None:
            data = JsonBytesPayload(json, dumps=session._json_serialize_bytes)
        elif json is not None:
            data = JsonPayload(json, dumps=session._json_serialize)
        if url.scheme not in ("http", "https", "ws", "wss"):
            raise NonHttpUrlClientError(url)
        self.s = session
        self.loop = loop = session._loop
        self.opts = opts
        self.upload = upload
        self.method, self.url, self.params, self.data = method, url, params, data
        self.cookies, self.auth = cookies, auth
        self.hdrs: CIMultiDict[str] = CIMultiDict(session._prepare_headers(headers))
        self.skip: set[istr] = set(session._skip_auto_headers)
        if skip_auto_headers is not None:
            self.skip |= {istr(h) for h in skip_auto_headers}
        # (Named parameters, not **kwargs: CPython matches each keyword
        # that lands in **kwargs against every parameter name by string
        # comparison, 15k instructions per request here.)
        self.allow_redirects, self.max_redirects = allow_redirects, max_redirects
        self.compress, self.chunked, self.expect100 = compress, chunked, expect100
        self.raise_for_status = raise_for_status
        self.ssl, self.server_hostname = ssl, server_hostname
        self.read_bufsize, self.auto_decompress = read_bufsize, auto_decompress
        self.proxy, self.proxy_auth, self.proxy_headers = proxy, proxy_auth, proxy_headers
        total = opts.total
        self.deadline = loop.time() + total if total else None
        ctx = trace_request_ctx
        self.traces = (
            [
                Trace(session, tc, tc.trace_config_ctx(trace_request_ctx=ctx))
                for tc in session._trace_configs
            ]
            if session._trace_configs
            else []
        )
        self.history: list[ClientResponse] = []
        self.rewinders: list[Rewinder] = []
        jar = session._cookie_jar
        self.jar = jar if type(jar) is not DummyCookieJar else None
        self.redirects = 0
        self.req: ClientRequest | None = None

    # -- the flow ----------------------------------------------------------
    async def run(self, middlewares: Any) -> ClientResponse:
        # Only the traces that saw request_start see its end or exception.
        traces: list[Trace] = []
        resp: ClientResponse | None = None
        try:
            for trace in self.traces:
                await trace.send_request_start(self.method, self._full_url(), self.hdrs)
                traces.append(trace)
            handler = build_client_middlewares(self.send, middlewares)
            while True:
                self._hop_target()
                env = await self._env_for_hop() if self.s._trust_env else None
                self.req = self._next_request(env)
                resp = await handler(self.req)
                if not self._after(resp):
                    break
                for trace in traces:
                    url = self._full_url()
                    await trace.send_request_redirect(self.method, url, self.hdrs, resp)
                if not self._follow(resp):
                    break
            check = self.raise_for_status
            check = self.s._raise_for_status if check is None else check
            if check:
                await check_status(resp, check)
            resp._history = tuple(self.history)
            for trace in traces:
                await trace.send_request_end(self.method, self._full_url(), self.hdrs, resp)
            return resp
        except BaseException as e:
            if resp is not None:
                resp.close()
            for trace in traces:
                await trace.send_request_exception(self.method, self._full_url(), self.hdrs, e)
            raise
        finally:
            for rw in self.rewinders:
                await rw.close()

    def _full_url(self) -> URL:
        """The hop's URL updated by ``params=`` (as aiohttp's signals name
        it; yarl's ``update_query(None)`` would drop the query)."""
        params = self.params
        return self.url.update_query(params) if params else self.url

    def _hop_target(self) -> None:
        """This hop's URL (without credentials) and its credentials."""
        url, auth_from_url = strip_auth_from_url(self.url)
        self.url = url
        if not url.raw_host:
            cls = InvalidUrlRedirectClientError if self.redirects else InvalidUrlClientError
            raise cls(url)
        self.auth = self._hop_auth(auth_from_url)

    async def _env_for_hop(self) -> tuple[BasicAuth | None, URL | None, BasicAuth | None]:
        """With trust_env: the hop's credentials from .netrc (when it has
        none) and its proxy from the environment (when none was given)."""
        url, auth = self.url, self.auth
        proxy, proxy_auth = self.proxy, self.proxy_auth
        if auth is None and url.host is not None and hdrs.AUTHORIZATION not in self.hdrs:
            auth = await self.loop.run_in_executor(None, _proxy.netrc_auth, url.host)
        if proxy is None:
            try:
                proxy, proxy_auth = await asyncio.to_thread(_proxy.get_env_proxy_for_url, url)
            except LookupError:
                pass
        return auth, proxy, proxy_auth

    def _next_request(
        self, env: tuple[BasicAuth | None, URL | None, BasicAuth | None] | None
    ) -> ClientRequest:
        """This hop's ClientRequest: its credentials, proxy (``env``, from
        trust_env) and cookies (the jar's and the request's own)."""
        s, url, auth = self.s, self.url, self.auth
        proxy, proxy_auth = self.proxy, self.proxy_auth
        if env is not None:
            self.auth = auth = env[0]
            proxy, proxy_auth = env[1], env[2]
        return s._request_class(
            self.method,
            url,
            params=self.params,
            headers=self.hdrs,
            skip_auto_headers=self.skip or None,
            data=self.data,
            cookies=self._hop_cookies(url),
            auth=auth,
            version=s._version,
            compress=self.compress,
            chunked=self.chunked,
            expect100=self.expect100,
            loop=self.loop,
            response_class=s._response_class,
            session=s,
            ssl=self.ssl,
            server_hostname=self.server_hostname,
            traces=self.traces,
            proxy=proxy,
            proxy_auth=proxy_auth,
            proxy_headers=self.proxy_headers if proxy is not None else None,
            trust_env=s._trust_env,
        )

    def _hop_auth(self, auth_from_url: BasicAuth | None) -> BasicAuth | None:
        """This hop's credentials, chosen by the engine's rule (policy/auth.rs)."""
        s, auth = self.s, self.auth
        chosen = _hop_auth(
            None if auth is None else basic_auth_header(auth),
            None if auth_from_url is None else auth_from_url.encode(),
            bool(self.history),
            s._default_auth_header,
            not s._base_url or s._base_url_origin == str(self.url.origin()),
            hdrs.AUTHORIZATION in self.hdrs,
        )
        if chosen is None:
            return None
        return next(
            (
                a
                for a in (auth_from_url, auth, s._default_auth)
                if a is not None and a.encode() == chosen
            ),
            None,
        )

    def _hop_cookies(self, url: URL) -> Any:
        """The jar's cookies for ``url`` and the request's own ``cookies=``."""
        jar_cookies = self.jar.filter_cookies(url) if self.jar is not None else None
        if self.cookies is None:
            return jar_cookies
        own = request_cookies(self.cookies, url, self.s._cookie_jar)
        if jar_cookies is None:
            return own
        if own:
            jar_cookies.load(own)
        return jar_cookies

    async def send(self, req: ClientRequest) -> ClientResponse:
        """The innermost handler: one hop through the engine.  What the
        middlewares left in req.headers is what is sent: the engine adds no
        automatic header the ClientRequest already decided on."""
        s, loop = self.s, self.loop
        source = req._payload_source()
        req._rewind = _rewind_point(source)  # type: ignore[attr-defined]
        payload = prepare_body(source, None, s._json_serialize)
        resend = Rewinder.applies(payload)
        req._resend = payload.payload if resend else None  # type: ignore[attr-defined]
        req._streamed = payload.source is not None and not resend  # type: ignore[attr-defined]
        remaining = None if self.deadline is None else max(self.deadline - loop.time(), 0.001)
        hop = _HopTrace(self.traces, req, payload.data, loop) if s._hop_signals else None
        # A hop aioxide.testing answers (a MockConnector, aioresponses) skips the engine.
        answer = s._connector._testing_answer  # type: ignore[union-attr]
        try:
            raw = None if answer is None else await answer(req, payload, hop)
            if raw is None:
                raw = await s._send(
                    req.method,
                    str(req.url),
                    list(req.headers.items()),
                    payload,
                    hop_options(s, self.opts, req),
                    hop,
                    self.rewinders,
                    remaining,
                    self.upload,
                )
        except asyncio.CancelledError:
            raise
        except BaseException as e:
            if hop is not None:
                if hop.tasks:
                    await hop.finish()
                else:
                    await _trace_failed_hop(self.traces, req, e, payload.data)
            raise
        r = s._response(raw, req.response_class, self.read_bufsize, self.auto_decompress)
        if self.traces:
            r._traces = self.traces
        if hop is not None:
            await hop.finish()
        return r

    def _after(self, resp: ClientResponse) -> bool:
        """After a hop: its cookies into the jar; True when it is a redirect
        to follow."""
        if self.jar is not None and _may_set_cookies(resp):
            set_cookies = resp.headers.getall(hdrs.SET_COOKIE, ())
            if set_cookies:
                self.jar.update_cookies_from_headers(set_cookies, resp.url)
        return bool(self.allow_redirects and _is_redirect(resp.status))

    def _follow(self, resp: ClientResponse) -> bool:
        """A redirect: True when followed (the next hop's method, body, URL
        and headers set); False when it has no Location (the end)."""
        self.redirects += 1
        self.history.append(resp)
        if _too_many_redirects(self.redirects, self.max_redirects):
            resp.close()
            raise TooManyRedirects(self.history[0].request_info, tuple(self.history))
        location = resp.headers.get(hdrs.LOCATION) or resp.headers.get(hdrs.URI)
        if location is None:
            return False
        resp.release()
        self._redirect(resp, location)
        return True

    def _redirect(self, resp: ClientResponse, location: str) -> None:
        """The next hop, as the engine's ``redirect_step`` decides it."""
        next_method, keep_body, next_url, same, dropped = _redirect_step(
            resp.status,
            self.method,
            str(self._full_url()),
            location,
            self.s._requote_redirect_url,
        )
        for name in dropped:
            self.hdrs.popall(name, None)
        if keep_body:
            assert self.req is not None
            self.data = _body_again(self.req)
        else:
            self.method = next_method
            self.data = None
        if not same:
            self.auth = None
            self.cookies = None
        self.url = URL(next_url, encoded=True)
        self.params = None


def _may_set_cookies(resp: ClientResponse) -> bool:
    """False when the engine's head of ``resp`` has no Set-Cookie (its
    headers are then not built for the jar); True otherwise."""
    head = getattr(resp, "_head", None)
    if head is None or getattr(resp, "_headers", None) is not None:
        return True
    return head.header(hdrs.SET_COOKIE) is not None


def hop_options(s: ClientSession, opts: Any, req: ClientRequest) -> Any:
    """One hop's options on the hooked path: the request's, less what the
    hop loop does itself (redirects, auth, cookies: the ClientRequest
    carries them), with what the ClientRequest says; the engine adds none
    of the automatic headers the ClientRequest decided on.  Cached: most
    hops of a session share them."""
    http10 = req.version == HttpVersion10
    skip = tuple(req.skip_auto_headers)
    compress = compress_name(req.compress)
    if not (
        skip
        or req.chunked
        or compress
        or req.expect100
        or http10
        or req.server_hostname is not None
        or req.proxy is not None
    ):
        key: Any = opts  # (most hops: the request's options are the whole key)
        proxy = None
    else:
        proxy = _proxy.engine_option(req.proxy, req.proxy_auth, req.proxy_headers)
        proxy_key = None if proxy is None else (proxy[0], tuple(proxy[1]))
        key = (
            opts,
            skip,
            bool(req.chunked),
            compress,
            req.expect100,
            http10,
            req.server_hostname,
            proxy_key,
        )
    found = s._hop_opts.get(key)
    if found is None:
        if len(s._hop_opts) >= 32:
            s._hop_opts.clear()
        found = s._hop_opts[key] = opts.replace(
            auth=None,
            default_auth=None,
            default_auth_origin=None,
            allow_redirects=False,
            cookies=[],
            cookie_jar=None,
            skip_auto_headers=[*(str(h) for h in skip), *AUTO_HEADERS],
            chunked=bool(req.chunked),
            compress=compress,
            expect100=req.expect100,
            http10=http10,
            server_hostname=req.server_hostname,
            proxy=proxy,
        )
    return found


async def check_status(resp: ClientResponse, check: Any) -> None:
    """raise_for_status: a coroutine function of the user's, or True."""
    if callable(check):
        await check(resp)
    else:
        resp.raise_for_status()


def compress_name(compress: Any) -> str | None:
    """aiohttp's compress=: a coding name, or True for deflate."""
    if not compress:
        return None
    return compress if isinstance(compress, str) else "deflate"


def _body_again(req: ClientRequest) -> Any:
    """The body of a hop, for a redirect that keeps it (307/308): a seekable
    file is sent again from its start; a consumed stream cannot be."""
    resend = getattr(req, "_resend", None)
    if resend is not None and not resend.consumed:
        return resend
    if resend is not None or getattr(req, "_streamed", False):
        # (A file that could not seek back, a pipe: consumed too.)
        raise ClientPayloadError(
            "Cannot follow redirect with a consumed request body. "
            "Use bytes, a seekable file-like object, or set allow_redirects=False."
        )
    source = req._payload_source()
    rewind = getattr(req, "_rewind", None)
    if rewind is not None:
        # An in-memory file (BytesIO, StringIO) read whole by the first hop:
        # from where it was then, as aiohttp's payload seeks back.
        source.seek(rewind)
    return source


def _rewind_point(source: Any) -> int | None:
    """Where a file object given as the body stands before a hop reads it
    (None for anything else, or a file that cannot tell)."""
    if not isinstance(source, io.IOBase):
        return None
    try:
        return source.tell() if source.seekable() else None
    except (OSError, ValueError):
        return None


def request_cookies(cookies: Any, url: URL, session_jar: Any) -> Any:
    """A request's own cookies= for ``url``: aiohttp's temporary jar, so a
    Morsel's attributes apply (Secure, Domain, Path, expiry), set up as the
    session's jar is (quoting, IP hosts, secure origins) but without its
    limits."""
    jar = _UnlimitedCookieJar(
        unsafe=getattr(session_jar, "unsafe", False),
        quote_cookie=getattr(session_jar, "quote_cookie", True),
        treat_as_secure_origin=getattr(session_jar, "treat_as_secure_origin", None) or None,
    )
    jar.update_cookies(cookies)
    return jar.filter_cookies(url)


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
        it = source.__aiter__()
        try:
            async for chunk in it:
                for trace in self.traces:
                    await trace.send_request_chunk_sent(req.method, req.url, chunk)
                yield chunk
        finally:
            await close_source(it)

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
