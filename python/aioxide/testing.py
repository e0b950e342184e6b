"""Answer requests without a network, through the real session.

``MockConnector(handler)`` answers every hop of a session's requests with
``await handler(request)`` (httpx's MockTransport); ``aioresponses`` is the
API of the aioresponses package, so tests written for aiohttp keep working
with ``from aioxide.testing import aioresponses``.

Both answer at one seam: the session's hooked path (``_hooked.
HookedRequest.send``) asks ``connector._testing_answer`` for each hop before
the engine.  So the session's own preparation runs as for a real request: URL and
params, headers, cookies from and to the jar, middlewares, trace signals,
redirects (the engine's redirect decision, ``max_redirects``), auth,
``raise_for_status``; and the answer is a real ``ClientResponse`` (or the
session's ``response_class``), built from a response whose body is already
known.  Importing this module changes nothing; ``aioresponses`` patches
``ClientSession._request`` and ``BaseConnector._testing_answer`` only while
it is active, and restores them on exit.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import inspect
import json as _json
import re
from collections import namedtuple
from collections.abc import AsyncIterable, Awaitable, Mapping
from functools import wraps
from http import HTTPStatus
from typing import Any, Callable, Optional, TypeVar, Union, cast

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict
from yarl import URL

from . import hdrs
from .client import ClientSession
from .client_exceptions import ClientConnectionError
from .client_reqrep import ClientRequest, ClientResponse
from .connector import BaseConnector

__all__ = (
    "CallbackResult",
    "MockConnector",
    "MockRequest",
    "MockResponse",
    "RequestCall",
    "RequestMatch",
    "aioresponses",
)

_F = TypeVar("_F", bound=Callable[..., Any])
_NO_BODY_METHODS = frozenset({"HEAD"})
_MISSING: Any = object()


# -- an engine-like response whose body is already known ------------------------
class _Head:
    """What ``ClientResponse._from_engine`` reads of the engine's ``Head``."""

    version = (1, 1)

    def __init__(
        self,
        status: int,
        reason: str,
        headers: list[tuple[str, str]],
        req: MockRequest,
    ) -> None:
        self.status = status
        self.reason = reason
        self.url = str(req.url)
        self._headers = headers
        self.request_method = req.method
        self.request_url = str(req.url)
        self._request_headers = list(req.headers.items())

    def headers(self) -> list[tuple[str, str]]:
        return list(self._headers)

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self._headers if k.lower() == name), None)

    def raw_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        return tuple((k.encode("latin-1", "replace"), v.encode()) for k, v in self._headers)

    def request_headers(self) -> list[tuple[str, str]]:
        return list(self._request_headers)

    def conn_info(self) -> None:
        return None


class _Raw:
    """What ``ClientResponse`` reads of the engine's ``Response``: a body read ahead."""

    chunked = False

    def __init__(self, head: _Head, body: bytes) -> None:
        self.head = head
        self.body = body

    def history(self) -> list[_Head]:
        return []

    def raw_bytes(self) -> int:
        return len(self.body)

    def take_ready(self) -> tuple[bytes, bool]:
        return b"", True

    def at_eof(self) -> bool:
        return True

    def chunk_ends(self, upto: int) -> list[int]:
        return []

    def check_deadline(self) -> None:
        pass

    def close(self) -> None:
        pass

    def websocket(self, *args: Any) -> Any:
        raise NotImplementedError("aioxide.testing does not mock WebSocket connections")


# -- what a handler sees and answers ---------------------------------------------
class MockRequest:
    """One hop of a request, as it would go on the wire: method, URL (no
    fragment), headers (automatic ones, cookies and auth included) and body."""

    __slots__ = ("method", "url", "headers", "body", "request")

    def __init__(
        self,
        method: str,
        url: URL,
        headers: CIMultiDictProxy[str],
        body: bytes,
        request: ClientRequest | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        #: The session's ``ClientRequest`` for this hop (None when built directly).
        self.request = request

    def text(self, encoding: str = "utf-8") -> str:
        return self.body.decode(encoding)

    def json(self) -> Any:
        return _json.loads(self.body)

    def __repr__(self) -> str:
        return f"<MockRequest {self.method} {self.url}>"


class MockResponse:
    """A handler's answer: status, headers and a body given as ``body``
    (bytes or str), ``text`` or ``json``.  Content-Type follows the body's
    kind unless given (``content_type=`` or in ``headers``); Content-Length
    is added.  The body is what the session decodes: no Content-Encoding is
    applied to it."""

    __slots__ = ("status", "reason", "headers", "body")

    def __init__(
        self,
        status: int = 200,
        *,
        body: bytes | str | None = None,
        text: str | None = None,
        json: Any = _MISSING,
        headers: Mapping[str, str] | list[tuple[str, str]] | None = None,
        reason: str | None = None,
        content_type: str | None = None,
        charset: str = "utf-8",
    ) -> None:
        self.status = status
        self.reason = _reason(status) if reason is None else reason
        given = CIMultiDict(headers or ())
        ctype: str | None = None
        if json is not _MISSING:
            data = _json.dumps(json).encode(charset)
            ctype = "application/json"
        elif text is not None:
            data = text.encode(charset)
            ctype = f"text/plain; charset={charset}"
        elif isinstance(body, str):
            data = body.encode(charset)
            ctype = f"text/plain; charset={charset}"
        else:
            data = body or b""
            ctype = "application/octet-stream" if body is not None else None
        if content_type is not None:
            given[hdrs.CONTENT_TYPE] = content_type
        elif ctype is not None and hdrs.CONTENT_TYPE not in given:
            given[hdrs.CONTENT_TYPE] = ctype
        if hdrs.CONTENT_LENGTH not in given and hdrs.TRANSFER_ENCODING not in given:
            given[hdrs.CONTENT_LENGTH] = str(len(data))
        self.headers: CIMultiDict[str] = given
        self.body: bytes = data

    def __repr__(self) -> str:
        return f"<MockResponse {self.status} {self.reason}>"


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


async def _body_bytes(payload: Any) -> bytes:
    """The bytes of a prepared request body (a stream is read whole)."""
    if payload.data is not None:
        return bytes(payload.data)
    source = payload.source
    if source is None:
        return b""
    parts: list[bytes] = []
    if isinstance(source, AsyncIterable):
        async for chunk in source:
            parts.append(bytes(chunk))
    else:
        loop = asyncio.get_running_loop()
        while True:
            chunk = await loop.run_in_executor(None, source.read, 2**16)
            if not chunk:
                break
            parts.append(chunk.encode() if isinstance(chunk, str) else bytes(chunk))
    return b"".join(parts)


async def _mock_request(req: ClientRequest, payload: Any) -> MockRequest:
    """The hop as the engine would send it: the ClientRequest's headers and
    the body's own (Content-Type, Content-Length).  A body source that fails
    fails the request as on the engine's path (``Feeder``)."""
    try:
        body = await _body_bytes(payload)
    except (asyncio.CancelledError, ClientConnectionError):
        raise
    except Exception as e:
        raise ClientConnectionError(
            f"Failed to send bytes into the underlying connection: {e!r}"
        ) from e
    headers: CIMultiDict[str] = CIMultiDict(req.headers)
    for name, value in payload.headers:
        if name not in headers:
            headers[name] = value
    skipped = req.skip_auto_headers
    if payload.content_type and hdrs.CONTENT_TYPE not in headers:
        if hdrs.CONTENT_TYPE not in skipped:
            headers[hdrs.CONTENT_TYPE] = payload.content_type
    if (body or payload.data is not None) and hdrs.CONTENT_LENGTH not in headers:
        if hdrs.TRANSFER_ENCODING not in headers:
            headers[hdrs.CONTENT_LENGTH] = str(len(body))
    return MockRequest(req.method, req.url, CIMultiDictProxy(headers), body, req)


def _announce(hop: Any, mreq: MockRequest) -> None:
    """The hop's trace signals, as for a new connection (no DNS)."""
    if hop is not None:
        hop.on_send((False, False, 0), list(mreq.headers.items()))


def _engine_response(
    mreq: MockRequest, status: int, reason: str, headers: Any, body: bytes
) -> _Raw:
    if mreq.method in _NO_BODY_METHODS or status in (204, 304) or 100 <= status < 200:
        body = b""
    items = [(str(k), str(v)) for k, v in headers.items()]
    return _Raw(_Head(status, reason, items, mreq), body)


# -- MockConnector ----------------------------------------------------------------
Handler = Callable[[MockRequest], Union[MockResponse, Awaitable[MockResponse]]]


class MockConnector(BaseConnector):
    """A connector whose every request hop is answered by ``handler``
    (``async def handler(request: MockRequest) -> MockResponse``; a plain
    function works too).  An exception the handler raises is the request's
    error.  ``requests`` lists every hop the handler saw."""

    def __init__(self, handler: Handler, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._handler = handler
        self.requests: list[MockRequest] = []

    async def _testing_answer(self, req: ClientRequest, payload: Any, hop: Any) -> _Raw:
        mreq = await _mock_request(req, payload)
        self.requests.append(mreq)
        _announce(hop, mreq)
        answer = self._handler(mreq)
        if inspect.isawaitable(answer):
            answer = await answer
        if not isinstance(answer, MockResponse):
            raise TypeError(f"a MockConnector handler returns a MockResponse, not {answer!r}")
        return _engine_response(mreq, answer.status, answer.reason, answer.headers, answer.body)


# -- aioresponses -----------------------------------------------------------------
RequestCall = namedtuple("RequestCall", ["args", "kwargs"])


def merge_params(url: URL | str, params: Any = None) -> URL:
    """The URL with ``params`` added to its query (aioresponses.compat)."""
    url = URL(url)
    if params:
        query: MultiDict[Any] = MultiDict(url.query)
        query.extend(url.with_query(params).query)
        return url.with_query(query)
    return url


def normalize_url(url: URL | str) -> URL:
    """The URL with its query sorted, for comparisons (aioresponses.compat)."""
    url = URL(url)
    return url.with_query(sorted(url.query.items()))


class CallbackResult:
    """What a ``callback=`` may return instead of the match's own response."""

    def __init__(
        self,
        method: str = hdrs.METH_GET,
        status: int = 200,
        body: str | bytes = "",
        content_type: str = "application/json",
        payload: Any = None,
        headers: Any = None,
        response_class: type[ClientResponse] | None = None,
        reason: str | None = None,
    ) -> None:
        self.method = method
        self.status = status
        self.body = body
        self.content_type = content_type
        self.payload = payload
        self.headers = headers
        self.response_class = response_class
        self.reason = reason


class RequestMatch:
    """One registered answer (aioresponses' RequestMatch)."""

    def __init__(
        self,
        url: URL | str | re.Pattern[str],
        method: str = hdrs.METH_GET,
        status: int = 200,
        body: str | bytes = "",
        payload: Any = None,
        exception: BaseException | type[BaseException] | None = None,
        headers: Any = None,
        content_type: str = "application/json",
        response_class: type[ClientResponse] | None = None,
        timeout: bool = False,
        repeat: bool | int = False,
        reason: str | None = None,
        callback: Callable[..., Any] | None = None,
    ) -> None:
        self.url_or_pattern: URL | re.Pattern[str]
        if isinstance(url, re.Pattern):
            self.url_or_pattern = url
        else:
            self.url_or_pattern = normalize_url(url)
        self.method = method.lower()
        self.status = status
        self.body = body
        self.payload = payload
        self.exception = exception
        if timeout:
            self.exception = asyncio.TimeoutError("Connection timeout test")
        self.headers = CIMultiDict(headers) if isinstance(headers, dict) else headers
        if self.headers is None:
            self.headers = CIMultiDict()
        self.content_type = content_type
        self.response_class = response_class
        self.repeat = repeat
        self.reason = _reason(status) if reason is None else reason
        self.callback = callback

    def match(self, method: str, url: URL) -> bool:
        if self.method != method.lower():
            return False
        pattern = self.url_or_pattern
        if isinstance(pattern, re.Pattern):
            return bool(pattern.match(str(url)))
        return pattern == url

    def used(self) -> bool:
        """Count one use (``repeat``); True when the match is used up."""
        if isinstance(self.repeat, bool):
            return not self.repeat
        self.repeat -= 1
        return self.repeat <= 0

    async def result(self, url: URL, kwargs: dict[str, Any]) -> Any:
        """The callback's CallbackResult, or this match itself; raises ``exception=``."""
        result = None
        if callable(self.callback):
            result = self.callback(url, **kwargs)
            if inspect.isawaitable(result):
                result = await result
        if self.exception is not None:
            raise self.exception
        return self if result is None else result

    def __repr__(self) -> str:
        return f"RequestMatch('{self.url_or_pattern}')"


def _answer_of(result: Any) -> tuple[int, str, CIMultiDict[str], bytes]:
    """Status, reason, headers and body of a RequestMatch or CallbackResult."""
    body = result.body
    if result.payload is not None:
        body = _json.dumps(result.payload)
    if not isinstance(body, bytes):
        body = str(body).encode()
    headers: CIMultiDict[str] = CIMultiDict({hdrs.CONTENT_TYPE: result.content_type})
    if result.headers:
        headers.update(result.headers)
    reason = result.reason
    if reason is None:
        reason = _reason(result.status)
    return result.status, reason, headers, body


class _Call:
    """One request made while aioresponses is active (a context variable
    carries it from the patched ``_request`` to its hops)."""

    __slots__ = ("owner", "url", "kwargs", "first")

    def __init__(self, owner: aioresponses, url: URL, kwargs: dict[str, Any]) -> None:
        self.owner = owner
        self.url = url
        self.kwargs = kwargs
        self.first = True


_CALL: contextvars.ContextVar[Optional[_Call]] = contextvars.ContextVar(
    "aioxide_testing_call", default=None
)


class aioresponses:  # noqa: N801 (aioresponses' name)
    """Mock the requests of every ``ClientSession`` (aioresponses' API), as a
    context manager or a decorator (``param=``: the keyword that receives
    it; otherwise it is the last positional argument).

    Registered answers (``get``, ``post``... ``add``) are matched in order
    by method and URL (a string or ``yarl.URL`` compared with its query
    sorted, or a ``re.Pattern``); each answers once, ``repeat=n`` times, or
    always (``repeat=True``).  A request matching none raises
    ``ClientConnectionError("Connection refused: METHOD URL")``, unless
    ``passthrough_unmatched=True`` sends it for real; URLs starting with a
    ``passthrough=`` prefix always go for real.  Each request is recorded
    in ``requests[(method, URL)]`` as a ``RequestCall(args, kwargs)``.
    """

    requests: dict[tuple[str, URL], list[Any]]

    def __init__(
        self,
        *,
        param: str | None = None,
        passthrough: list[str] | tuple[str, ...] = (),
        passthrough_unmatched: bool = False,
    ) -> None:
        self._param = param
        self._passthrough = list(passthrough)
        self.passthrough_unmatched = passthrough_unmatched
        self.requests = {}
        self._matches: dict[int, RequestMatch] = {}
        self._responses: list[ClientResponse] = []
        self._next_key = 0
        self._saved: tuple[Any, Any] | None = None

    # -- activation ---------------------------------------------------------
    def __enter__(self) -> aioresponses:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __call__(self, f: _F) -> _F:
        def pack(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
            if self._param:
                kwargs[self._param] = self
                return args
            return (*args, self)

        if inspect.iscoroutinefunction(f):

            @wraps(f)
            async def awrapped(*args: Any, **kwargs: Any) -> Any:
                with self:
                    return await f(*pack(args, kwargs), **kwargs)

            return cast(_F, awrapped)

        @wraps(f)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with self:
                return f(*pack(args, kwargs), **kwargs)

        return cast(_F, wrapped)

    def start(self) -> None:
        """Patch every session: its requests are answered here."""
        self._responses = []
        self._matches = {}
        saved = ClientSession.__dict__["_request"]
        self._saved = (saved, BaseConnector.__dict__["_testing_answer"])
        # Nested: the innermost mock answers alone (as aioresponses' patches).
        original = getattr(saved, "_aioxide_unpatched", saved)

        async def _request(session: ClientSession, method: str, url: Any, **kw: Any) -> Any:
            return await self._request_mock(original, session, method, url, **kw)

        _request._aioxide_unpatched = original  # type: ignore[attr-defined]
        ClientSession._request = _request  # type: ignore[method-assign,assignment]
        BaseConnector._testing_answer = staticmethod(self._answer)

    def stop(self) -> None:
        """Close the responses given and restore what ``start`` patched."""
        for response in self._responses:
            response.close()
        if self._saved is not None:
            ClientSession._request, BaseConnector._testing_answer = self._saved  # type: ignore[method-assign]
            self._saved = None
        self.clear()

    def clear(self) -> None:
        self._responses.clear()
        self._matches.clear()

    # -- registering answers ------------------------------------------------
    def head(self, url: URL | str | re.Pattern[str], **kwargs: Any) -> None:
        self.add(url, method=hdrs.METH_HEAD, **kwargs)

    def get(self, url: URL | str | re.Pattern[str], **kwargs: Any) -> None:
        self.add(url, method=hdrs.METH_GET, **kwargs)

    def post(self, url: URL | str | re.Pattern[str], **kwargs: Any) -> None:
        self.add(url, method=hdrs.METH_POST, **kwargs)

    def put(self, url: URL | str | re.Pattern[str], **kwargs: Any) -> None:
        self.add(url, method=hdrs.METH_PUT, **kwargs)

    def patch(self, url: URL | str | re.Pattern[str], **kwargs: Any) -> None:
        self.add(url, method=hdrs.METH_PATCH, **kwargs)

    def delete(self, url: URL | str | re.Pattern[str], **kwargs: Any) -> None:
        self.add(url, method=hdrs.METH_DELETE, **kwargs)

    def options(self, url: URL | str | re.Pattern[str], **kwargs: Any) -> None:
        self.add(url, method=hdrs.METH_OPTIONS, **kwargs)

    def add(
        self,
        url: URL | str | re.Pattern[str],
        method: str = hdrs.METH_GET,
        status: int = 200,
        body: str | bytes = "",
        exception: BaseException | type[BaseException] | None = None,
        content_type: str = "application/json",
        payload: Any = None,
        headers: Any = None,
        response_class: type[ClientResponse] | None = None,
        repeat: bool | int = False,
        timeout: bool = False,
        reason: str | None = None,
        callback: Callable[..., Any] | None = None,
    ) -> None:
        self._next_key += 1
        self._matches[self._next_key] = RequestMatch(
            url,
            method=method,
            status=status,
            content_type=content_type,
            body=body,
            exception=exception,
            payload=payload,
            headers=headers,
            response_class=response_class,
            repeat=repeat,
            timeout=timeout,
            reason=reason,
            callback=callback,
        )

    # -- the patched request and its hops -------------------------------------
    async def _request_mock(
        self, original: Any, session: ClientSession, method: str, str_or_url: Any, **kwargs: Any
    ) -> ClientResponse:
        """``ClientSession._request`` while active: the call recorded, then the
        session's own request, whose hops ``_answer`` answers."""
        data = kwargs.get("data")
        if data is not None and hasattr(data, "__aiter__"):
            kwargs["data"] = b"".join([bytes(c) async for c in data])
        if session.closed:
            raise RuntimeError("Session is closed")
        try:
            url = normalize_url(merge_params(session._build_url(str_or_url), kwargs.get("params")))
        except (ValueError, TypeError):  # the session raises its own error for it
            return cast(ClientResponse, await original(session, method, str_or_url, **kwargs))
        recorded = dict(kwargs)
        if session.headers:
            recorded["headers"] = CIMultiDict(session._prepare_headers(kwargs.get("headers")))
        call: _Call | None = None
        if not any(str(url).startswith(prefix) for prefix in self._passthrough):
            self.requests.setdefault((method, url), []).append(
                self._build_request_call(method, **recorded)
            )
            call = _Call(self, url, recorded)
        token = _CALL.set(call)
        try:
            response = await original(session, method, str_or_url, **kwargs)
        finally:
            _CALL.reset(token)
        if call is not None:
            self._responses.append(response)
        return cast(ClientResponse, response)

    async def _answer(self, req: ClientRequest, payload: Any, hop: Any) -> _Raw | None:
        """One hop of a recorded call: the first registered answer that
        matches (None: the engine sends it, for a passthrough)."""
        call = _CALL.get()
        if call is None or call.owner is not self:
            return None
        url = call.url if call.first else normalize_url(req.url)
        call.first = False
        found = self._match(req.method, url)
        if found is None:
            if self.passthrough_unmatched:
                return None
            raise ClientConnectionError(f"Connection refused: {req.method} {url}")
        mreq = await _mock_request(req, payload)
        _announce(hop, mreq)
        kwargs = dict(call.kwargs)
        kwargs.setdefault("allow_redirects", True)
        result = await found.result(url, kwargs)
        if result.response_class is not None:
            req.response_class = result.response_class
        status, reason, headers, body = _answer_of(result)
        return _engine_response(mreq, status, reason, headers, body)

    def _match(self, method: str, url: URL) -> RequestMatch | None:
        for key, matcher in self._matches.items():
            if matcher.match(method, url):
                if matcher.used():
                    del self._matches[key]
                return matcher
        return None

    @staticmethod
    def _build_request_call(
        method: str = hdrs.METH_GET, *args: Any, allow_redirects: bool = True, **kwargs: Any
    ) -> Any:
        kwargs.setdefault("allow_redirects", allow_redirects)
        if method == "POST":
            kwargs.setdefault("data", None)
        try:
            kwargs = copy.deepcopy(kwargs)
        except (TypeError, ValueError):  # some values cannot be copied
            pass
        return RequestCall(args, kwargs)

    # -- assertions -----------------------------------------------------------
    def _format_call_signature(self, *args: Any, **kwargs: Any) -> str:
        parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
        return f"{type(self).__name__}({', '.join(parts)})"

    def assert_not_called(self) -> None:
        if self.requests:
            raise AssertionError(
                f"Expected '{type(self).__name__}' to not have been called. "
                f"Called {len(self._responses)} times."
            )

    def assert_called(self) -> None:
        if not self.requests:
            raise AssertionError(f"Expected '{type(self).__name__}' to have been called.")

    def assert_called_once(self) -> None:
        count = len(self.requests)
        if count == 1:
            count = len(next(iter(self.requests.values())))
        if count != 1:
            raise AssertionError(
                f"Expected '{type(self).__name__}' to have been called once. Called {count} times."
            )

    def assert_called_with(
        self,
        url: URL | str,
        method: str = hdrs.METH_GET,
        args_to_match: Any = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        """The last call to ``url`` had these arguments (or, with
        ``args_to_match``, these ones among them)."""
        url = normalize_url(merge_params(url, kwargs.get("params")))
        method = method.upper()
        calls = self.requests.get((method, url))
        if not calls:
            signature = self._format_call_signature(url, *args, method=method, **kwargs)
            raise AssertionError(f"{signature} call not found")
        actual = calls[-1]
        expected = self._build_request_call(method, *args, **kwargs)
        if args_to_match is not None:
            failed = any(
                arg not in actual.kwargs or actual.kwargs[arg] != expected.kwargs[arg]
                for arg in args_to_match
            )
        else:
            failed = actual != expected
        if failed:
            raise AssertionError(
                f"{self._format_call_signature(actual)} != {self._format_call_signature(expected)}"
            )

    def assert_any_call(
        self, url: URL | str, method: str = hdrs.METH_GET, *args: Any, **kwargs: Any
    ) -> None:
        """Some call to ``url`` with ``method`` was made (arguments not compared,
        as aioresponses)."""
        url = normalize_url(merge_params(url, kwargs.get("params")))
        method = method.upper()
        if (method, url) not in self.requests:
            signature = self._format_call_signature(url, *args, method=method, **kwargs)
            raise AssertionError(f"{signature} call not found")

    def assert_called_once_with(self, *args: Any, **kwargs: Any) -> None:
        self.assert_called_once()
        self.assert_called_with(*args, **kwargs)
