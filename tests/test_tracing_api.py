"""Client tracing as aiohttp 3.14: TraceConfig, its signals, the Trace*Params.

Against real loopback servers, a TraceConfig records every signal it gets; the
orders asserted here are the ones aiohttp produces.  Unit tests at the end drive
``<target>.tracing`` (TraceConfig, Trace) directly with a fake session.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from conftest import TARGET, read_request_head

tracing: Any = importlib.import_module(f"{TARGET}.tracing")

pytestmark = pytest.mark.timeout(30)

# signal name (without "on_") -> its parameter class and fields, as aiohttp.
SIGNALS: dict[str, tuple[str, tuple[str, ...]]] = {
    "request_start": ("TraceRequestStartParams", ("method", "url", "headers")),
    "request_chunk_sent": ("TraceRequestChunkSentParams", ("method", "url", "chunk")),
    "response_chunk_received": (
        "TraceResponseChunkReceivedParams",
        ("method", "url", "chunk"),
    ),
    "request_end": ("TraceRequestEndParams", ("method", "url", "headers", "response")),
    "request_exception": (
        "TraceRequestExceptionParams",
        ("method", "url", "headers", "exception"),
    ),
    "request_redirect": (
        "TraceRequestRedirectParams",
        ("method", "url", "headers", "response"),
    ),
    "connection_queued_start": ("TraceConnectionQueuedStartParams", ()),
    "connection_queued_end": ("TraceConnectionQueuedEndParams", ()),
    "connection_create_start": ("TraceConnectionCreateStartParams", ()),
    "connection_create_end": ("TraceConnectionCreateEndParams", ()),
    "connection_reuseconn": ("TraceConnectionReuseconnParams", ()),
    "dns_resolvehost_start": ("TraceDnsResolveHostStartParams", ("host",)),
    "dns_resolvehost_end": ("TraceDnsResolveHostEndParams", ("host",)),
    "dns_cache_hit": ("TraceDnsCacheHitParams", ("host",)),
    "dns_cache_miss": ("TraceDnsCacheMissParams", ("host",)),
    "request_headers_sent": (
        "TraceRequestHeadersSentParams",
        ("method", "url", "headers"),
    ),
}

# Trace.send_* per signal (aiohttp names the headers one send_request_headers).
SENDERS = {name: f"send_{name}" for name in SIGNALS}
SENDERS["request_headers_sent"] = "send_request_headers"

GET_BY_IP = [
    "request_start",
    "connection_create_start",
    "connection_create_end",
    "request_headers_sent",
    "request_end",
    "response_chunk_received",
]
GET_REUSED = [
    "request_start",
    "connection_reuseconn",
    "request_headers_sent",
    "request_end",
    "response_chunk_received",
]


class Event:
    def __init__(self, name: str, session: Any, ctx: Any, params: Any) -> None:
        self.name = name
        self.session = session
        self.ctx = ctx
        self.params = params


class Recorder:
    """A TraceConfig with a handler on every signal, recording what it gets."""

    def __init__(self, module: Any, **kw: Any) -> None:
        self.config = module.TraceConfig(**kw)
        self.events: list[Event] = []
        for name in SIGNALS:
            getattr(self.config, f"on_{name}").append(self._handler(name))

    def _handler(self, name: str) -> Any:
        async def handler(session: Any, ctx: Any, params: Any) -> None:
            self.events.append(Event(name, session, ctx, params))

        return handler

    def names(self, tag: Any = None) -> list[str]:
        return [e.name for e in self.events if tag is None or e.ctx.trace_request_ctx == tag]

    def get(self, name: str) -> list[Any]:
        return [e.params for e in self.events if e.name == name]

    def clear(self) -> None:
        self.events.clear()


@pytest.fixture
async def base(serve: Any) -> str:
    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=b"hello")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.05)
        return web.Response(body=b"slow")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/ok")

    async def redirect307(request: web.Request) -> web.Response:
        await request.read()
        raise web.HTTPTemporaryRedirect("/ok")

    async def big(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        for i in range(4):
            await resp.write(bytes([65 + i]) * 1000)
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_route("*", "/ok", ok)
    app.router.add_get("/slow", slow)
    app.router.add_get("/redirect", redirect)
    app.router.add_post("/redirect307", redirect307)
    app.router.add_get("/big", big)
    return str(await serve(app))


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


# --- against a real server ---------------------------------------------------------


async def test_get_order_and_params(aiohttp: Any, base: str) -> None:
    rec = Recorder(aiohttp)
    async with aiohttp.ClientSession(trace_configs=[rec.config], headers={"X-S": "1"}) as s:
        async with s.get(f"{base}/ok", params={"a": "1"}, headers={"X-A": "b"}) as resp:
            assert await resp.read() == b"hello"
        assert rec.names() == GET_BY_IP
        url = URL(f"{base}/ok?a=1")

        (start,) = rec.get("request_start")
        assert type(start) is aiohttp.TraceRequestStartParams
        assert (start.method, start.url) == ("GET", url)
        # The session's and the request's headers, not the automatic ones.
        assert isinstance(start.headers, CIMultiDict)
        assert dict(start.headers) == {"X-S": "1", "X-A": "b"}

        (sent,) = rec.get("request_headers_sent")
        assert type(sent) is aiohttp.TraceRequestHeadersSentParams
        assert (sent.method, sent.url) == ("GET", url)
        # What went on the wire.
        assert sent.headers["Host"] == f"127.0.0.1:{port_of(base)}"
        assert sent.headers["X-A"] == "b"
        assert sent.headers["X-S"] == "1"
        assert "User-Agent" in sent.headers

        (end,) = rec.get("request_end")
        assert type(end) is aiohttp.TraceRequestEndParams
        assert (end.method, end.url) == ("GET", url)
        assert dict(end.headers) == {"X-S": "1", "X-A": "b"}
        assert end.response is resp

        (chunk,) = rec.get("response_chunk_received")
        assert type(chunk) is aiohttp.TraceResponseChunkReceivedParams
        assert (chunk.method, chunk.url, chunk.chunk) == ("GET", url, b"hello")

        assert type(rec.get("connection_create_start")[0]) is (
            aiohttp.TraceConnectionCreateStartParams
        )
        assert type(rec.get("connection_create_end")[0]) is (aiohttp.TraceConnectionCreateEndParams)
        # Every handler gets the session first and one ctx per request.
        assert all(e.session is s for e in rec.events)
        assert len({id(e.ctx) for e in rec.events}) == 1
        assert type(rec.events[0].ctx) is SimpleNamespace
        assert rec.events[0].ctx.trace_request_ctx is None


async def test_reused_connection(aiohttp: Any, base: str) -> None:
    rec = Recorder(aiohttp)
    async with aiohttp.ClientSession(trace_configs=[rec.config]) as s:
        for _ in range(2):
            async with s.get(f"{base}/ok") as resp:
                await resp.read()
        assert rec.names() == GET_BY_IP + GET_REUSED
        assert type(rec.get("connection_reuseconn")[0]) is aiohttp.TraceConnectionReuseconnParams
        # A new ctx per request.
        assert rec.events[0].ctx is not rec.events[-1].ctx


async def test_dns_signals_for_a_name(aiohttp: Any, base: str) -> None:
    rec = Recorder(aiohttp)
    port = port_of(base)
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(trace_configs=[rec.config], connector=connector) as s:
        for tag in (1, 2):
            async with s.get(f"http://localhost:{port}/ok", trace_request_ctx=tag) as resp:
                await resp.read()
    assert rec.names(1) == [
        "request_start",
        "connection_create_start",
        "dns_cache_miss",
        "dns_resolvehost_start",
        "dns_resolvehost_end",
        "connection_create_end",
        "request_headers_sent",
        "request_end",
        "response_chunk_received",
    ]
    assert rec.names(2) == [
        "request_start",
        "connection_create_start",
        "dns_cache_hit",
        "connection_create_end",
        "request_headers_sent",
        "request_end",
        "response_chunk_received",
    ]
    for name, cls in (
        ("dns_cache_miss", aiohttp.TraceDnsCacheMissParams),
        ("dns_resolvehost_start", aiohttp.TraceDnsResolveHostStartParams),
        ("dns_resolvehost_end", aiohttp.TraceDnsResolveHostEndParams),
        ("dns_cache_hit", aiohttp.TraceDnsCacheHitParams),
    ):
        (params,) = rec.get(name)
        assert type(params) is cls
        assert params.host == "localhost"


async def test_dns_without_cache(aiohttp: Any, base: str) -> None:
    rec = Recorder(aiohttp)
    connector = aiohttp.TCPConnector(use_dns_cache=False)
    async with aiohttp.ClientSession(trace_configs=[rec.config], connector=connector) as s:
        async with s.get(f"http://localhost:{port_of(base)}/ok") as resp:
            await resp.read()
    assert rec.names() == [
        "request_start",
        "connection_create_start",
        "dns_resolvehost_start",
        "dns_resolvehost_end",
        "connection_create_end",
        "request_headers_sent",
        "request_end",
        "response_chunk_received",
    ]


async def test_redirect(aiohttp: Any, base: str) -> None:
    rec = Recorder(aiohttp)
    async with aiohttp.ClientSession(trace_configs=[rec.config]) as s:
        async with s.get(f"{base}/redirect", headers={"X-A": "b"}) as resp:
            assert await resp.read() == b"hello"
        assert rec.names() == [
            "request_start",
            "connection_create_start",
            "connection_create_end",
            "request_headers_sent",
            "request_redirect",
            "connection_reuseconn",
            "request_headers_sent",
            "request_end",
            "response_chunk_received",
        ]
        (start,) = rec.get("request_start")
        assert start.url == URL(f"{base}/redirect")
        (redirect,) = rec.get("request_redirect")
        assert type(redirect) is aiohttp.TraceRequestRedirectParams
        # The hop that was redirected, and its 302.
        assert (redirect.method, redirect.url) == ("GET", URL(f"{base}/redirect"))
        assert dict(redirect.headers) == {"X-A": "b"}
        assert redirect.response.status == 302
        assert redirect.response is resp.history[0]
        sent = rec.get("request_headers_sent")
        assert [p.url for p in sent] == [URL(f"{base}/redirect"), URL(f"{base}/ok")]
        # request_end names the final URL.
        (end,) = rec.get("request_end")
        assert (end.method, end.url) == ("GET", URL(f"{base}/ok"))
        assert end.response is resp
        assert len({id(e.ctx) for e in rec.events}) == 1


@pytest.mark.parametrize("params", [None, {"b": "2"}])
async def test_the_query_is_in_every_signals_url(
    aiohttp: Any, base: str, unused_port: int, params: Any
) -> None:
    # As aiohttp: a query written in the URL stays in the URL every signal
    # names, with or without params= (which update it).
    rec = Recorder(aiohttp)
    query = "?a=1" if params is None else "?a=1&b=2"
    async with aiohttp.ClientSession(trace_configs=[rec.config]) as s:
        async with s.get(f"{base}/redirect?a=1", params=params) as resp:
            assert await resp.read() == b"hello"
        with pytest.raises(aiohttp.ClientConnectorError):
            await s.get(f"http://127.0.0.1:{unused_port}/x?a=1", params=params)
    refused = URL(f"http://127.0.0.1:{unused_port}/x{query}")
    starts = [p.url for p in rec.get("request_start")]
    assert starts == [URL(f"{base}/redirect{query}"), refused]
    (redirect,) = rec.get("request_redirect")
    assert redirect.url == URL(f"{base}/redirect{query}")
    (end,) = rec.get("request_end")
    assert end.url == URL(f"{base}/ok")
    (exc,) = rec.get("request_exception")
    assert exc.url == refused


async def test_post_redirect_307_resends_the_body(aiohttp: Any, base: str) -> None:
    """A 307 keeps the POST and its body: chunk_sent on both hops."""
    rec = Recorder(aiohttp)
    async with aiohttp.ClientSession(trace_configs=[rec.config]) as s:
        async with s.post(f"{base}/redirect307", data=b"body") as resp:
            assert resp.status == 200
        assert rec.names() == [
            "request_start",
            "connection_create_start",
            "connection_create_end",
            "request_headers_sent",
            "request_chunk_sent",
            "request_redirect",
            "connection_reuseconn",
            "request_headers_sent",
            "request_chunk_sent",
            "request_end",
        ]
        (redirect,) = rec.get("request_redirect")
        assert (redirect.method, redirect.response.status) == ("POST", 307)
        chunks = rec.get("request_chunk_sent")
        assert [p.method for p in chunks] == ["POST", "POST"]
        assert [p.url for p in chunks] == [URL(f"{base}/redirect307"), URL(f"{base}/ok")]


async def test_request_chunk_sent(aiohttp: Any, base: str) -> None:
    rec = Recorder(aiohttp)
    async with aiohttp.ClientSession(trace_configs=[rec.config]) as s:
        async with s.post(f"{base}/ok", data=b"payload bytes") as resp:
            await resp.read()
        assert rec.names() == [
            "request_start",
            "connection_create_start",
            "connection_create_end",
            "request_headers_sent",
            "request_chunk_sent",
            "request_end",
            "response_chunk_received",
        ]
        chunks = rec.get("request_chunk_sent")
        assert all(type(p) is aiohttp.TraceRequestChunkSentParams for p in chunks)
        assert all((p.method, p.url) == ("POST", URL(f"{base}/ok")) for p in chunks)
        assert b"".join(p.chunk for p in chunks) == b"payload bytes"
        (sent,) = rec.get("request_headers_sent")
        assert sent.headers["Content-Length"] == "13"


async def test_response_chunk_received_on_read(aiohttp: Any, base: str) -> None:
    rec = Recorder(aiohttp)
    async with aiohttp.ClientSession(trace_configs=[rec.config]) as s:
        async with s.get(f"{base}/big") as resp:
            body = await resp.read()
        chunks = rec.get("response_chunk_received")
        assert b"".join(p.chunk for p in chunks) == body
        assert len(body) == 4000
        rec.clear()
        # aiohttp sends it from read() (with the whole body), not for content reads.
        async with s.get(f"{base}/big") as resp:
            assert len(await resp.content.read()) == 4000
        assert "response_chunk_received" not in rec.names()


@pytest.mark.h1_only("limit=1 queues the 2nd request for the connection; h2 multiplexes it")
async def test_connection_queued(aiohttp: Any, base: str) -> None:
    rec = Recorder(aiohttp)
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(trace_configs=[rec.config], connector=connector) as s:

        async def one(tag: int) -> None:
            async with s.get(f"{base}/slow", trace_request_ctx=tag) as resp:
                await resp.read()

        await asyncio.gather(one(1), one(2))
    assert rec.names(1) == GET_BY_IP
    assert rec.names(2) == [
        "request_start",
        "connection_queued_start",
        "connection_queued_end",
        "connection_reuseconn",
        "request_headers_sent",
        "request_end",
        "response_chunk_received",
    ]
    assert type(rec.get("connection_queued_start")[0]) is (aiohttp.TraceConnectionQueuedStartParams)
    assert type(rec.get("connection_queued_end")[0]) is aiohttp.TraceConnectionQueuedEndParams


async def test_exception_on_connect(aiohttp: Any, unused_port: int) -> None:
    rec = Recorder(aiohttp)
    url = f"http://127.0.0.1:{unused_port}/x"
    async with aiohttp.ClientSession(trace_configs=[rec.config]) as s:
        with pytest.raises(aiohttp.ClientConnectorError) as excinfo:
            async with s.get(url, headers={"X-A": "b"}):
                pass
    assert rec.names() == ["request_start", "connection_create_start", "request_exception"]
    (exc,) = rec.get("request_exception")
    assert type(exc) is aiohttp.TraceRequestExceptionParams
    assert (exc.method, exc.url) == ("GET", URL(url))
    assert dict(exc.headers) == {"X-A": "b"}
    assert exc.exception is excinfo.value


async def test_exception_after_sending(aiohttp: Any, raw_server: Any) -> None:
    async def close_after_head(reader: asyncio.StreamReader, writer: Any) -> None:
        await read_request_head(reader)

    base = await raw_server(close_after_head)
    rec = Recorder(aiohttp)
    async with aiohttp.ClientSession(trace_configs=[rec.config]) as s:
        with pytest.raises(aiohttp.ServerDisconnectedError) as excinfo:
            async with s.post(f"{base}/", data=b"xyz"):
                pass
    assert rec.names() == [
        "request_start",
        "connection_create_start",
        "connection_create_end",
        "request_headers_sent",
        "request_chunk_sent",
        "request_exception",
    ]
    assert rec.get("request_exception")[0].exception is excinfo.value


async def test_failing_trace_handler(aiohttp: Any, base: str) -> None:
    rec = Recorder(aiohttp)

    async def boom(session: Any, ctx: Any, params: Any) -> None:
        raise ValueError("boom")

    rec.config.on_request_start.append(boom)
    async with aiohttp.ClientSession(trace_configs=[rec.config]) as s:
        with pytest.raises(ValueError, match="boom"):
            await s.get(f"{base}/ok")
    # The request never started for this trace: no request_exception.
    assert rec.names() == ["request_start"]


async def test_a_failing_request_start_ends_the_traces_already_started(
    aiohttp: Any, base: str
) -> None:
    """When a later trace config's request_start raises, the configs whose
    request_start already ran see request_exception, the others nothing."""
    first, third = Recorder(aiohttp), Recorder(aiohttp)
    failing = aiohttp.TraceConfig()

    async def boom(session: Any, ctx: Any, params: Any) -> None:
        raise RuntimeError("trace boom")

    failing.on_request_start.append(boom)
    configs = [first.config, failing, third.config]
    async with aiohttp.ClientSession(trace_configs=configs) as s:
        with pytest.raises(RuntimeError, match="trace boom"):
            await s.get(f"{base}/ok")
    assert first.names() == ["request_start", "request_exception"]
    assert type(first.get("request_exception")[0].exception) is RuntimeError
    assert third.names() == []


async def test_trace_request_ctx_and_factory(aiohttp: Any, base: str) -> None:
    class Ctx(SimpleNamespace):
        pass

    rec = Recorder(aiohttp, trace_config_ctx_factory=Ctx)
    marker = {"request": 1}
    async with aiohttp.ClientSession(trace_configs=[rec.config]) as s:
        async with s.get(f"{base}/ok", trace_request_ctx=marker) as resp:
            await resp.read()
        first = rec.events[0].ctx
        assert type(first) is Ctx
        assert first.trace_request_ctx is marker
        assert all(e.ctx is first for e in rec.events)
        rec.clear()
        async with s.get(f"{base}/ok") as resp:
            await resp.read()
        assert rec.events[0].ctx is not first
        assert rec.events[0].ctx.trace_request_ctx is None


async def test_ctx_carries_state_between_signals(aiohttp: Any, base: str) -> None:
    tc = aiohttp.TraceConfig()
    seen: list[Any] = []

    async def on_start(session: Any, ctx: Any, params: Any) -> None:
        ctx.started = params.url

    async def on_end(session: Any, ctx: Any, params: Any) -> None:
        seen.append((ctx.started, ctx.trace_request_ctx, params.response.status))

    tc.on_request_start.append(on_start)
    tc.on_request_end.append(on_end)
    async with aiohttp.ClientSession(trace_configs=[tc]) as s:
        async with s.get(f"{base}/ok", trace_request_ctx="t") as resp:
            await resp.read()
    assert seen == [(URL(f"{base}/ok"), "t", 200)]


async def test_several_trace_configs(aiohttp: Any, base: str) -> None:
    calls: list[tuple[str, Any]] = []
    configs = [aiohttp.TraceConfig(), aiohttp.TraceConfig()]
    for label, tc in zip("ab", configs):
        for name in ("request_start", "request_end"):

            async def handler(
                session: Any, ctx: Any, params: Any, label: str = label, name: str = name
            ) -> None:
                calls.append((f"{label}:{name}", ctx))

            getattr(tc, f"on_{name}").append(handler)
    async with aiohttp.ClientSession(trace_configs=configs) as s:
        async with s.get(f"{base}/ok") as resp:
            await resp.read()
    assert [c for c, _ in calls] == [
        "a:request_start",
        "b:request_start",
        "a:request_end",
        "b:request_end",
    ]
    # Each TraceConfig has its own ctx.
    assert calls[0][1] is calls[2][1]
    assert calls[1][1] is calls[3][1]
    assert calls[0][1] is not calls[1][1]


async def test_session_freezes_trace_configs(aiohttp: Any) -> None:
    tc = aiohttp.TraceConfig()
    assert tc.on_request_start.frozen is False
    async with aiohttp.ClientSession(trace_configs=[tc]):
        for name in SIGNALS:
            assert getattr(tc, f"on_{name}").frozen is True
        with pytest.raises(RuntimeError):
            tc.on_request_start.append(lambda *a: None)


def test_exported_names(aiohttp: Any) -> None:
    assert aiohttp.TraceConfig is tracing.TraceConfig
    for cls_name, _ in SIGNALS.values():
        assert getattr(aiohttp, cls_name) is getattr(tracing, cls_name)
        assert cls_name in aiohttp.__all__
    assert "TraceConfig" in aiohttp.__all__


# --- unit level: TraceConfig and Trace with a fake session -------------------------


def test_unit_trace_config_signals() -> None:
    tc = tracing.TraceConfig()
    signals = [getattr(tc, f"on_{name}") for name in SIGNALS]
    assert len({id(sig) for sig in signals}) == len(SIGNALS)

    async def handler(*args: Any) -> None:
        pass

    for sig in signals:
        assert list(sig) == [] and len(sig) == 0 and sig.frozen is False
        sig.append(handler)
        assert list(sig) == [handler] and sig[0] is handler
    tc.freeze()
    for sig in signals:
        assert sig.frozen is True
        with pytest.raises(RuntimeError):
            sig.append(handler)
        with pytest.raises(RuntimeError):
            sig.insert(0, handler)
        with pytest.raises(RuntimeError):
            del sig[0]
        with pytest.raises(RuntimeError):
            sig[0] = handler
        assert list(sig) == [handler]


async def test_unit_send_requires_freeze_and_calls_in_order() -> None:
    tc = tracing.TraceConfig()
    calls: list[tuple[int, tuple[Any, ...]]] = []

    async def first(*args: Any) -> None:
        calls.append((1, args))

    async def second(*args: Any) -> None:
        calls.append((2, args))

    tc.on_request_start.append(first)
    tc.on_request_start.extend([second])
    with pytest.raises(RuntimeError, match="Cannot send non-frozen signal."):
        await tc.on_request_start.send("s", "c", "p")
    tc.freeze()
    await tc.on_request_start.send("s", "c", "p")
    assert calls == [(1, ("s", "c", "p")), (2, ("s", "c", "p"))]


def test_unit_signal_as_decorator() -> None:
    tc = tracing.TraceConfig()

    @tc.on_request_end
    async def handler(*args: Any) -> None:
        pass

    assert list(tc.on_request_end) == [handler]
    assert inspect.iscoroutinefunction(handler)


def test_unit_trace_config_ctx() -> None:
    ctx = tracing.TraceConfig().trace_config_ctx()
    assert type(ctx) is SimpleNamespace
    assert vars(ctx) == {"trace_request_ctx": None}
    marker = object()
    assert tracing.TraceConfig().trace_config_ctx(trace_request_ctx=marker).trace_request_ctx is (
        marker
    )

    class Ctx(SimpleNamespace):
        pass

    tc = tracing.TraceConfig(trace_config_ctx_factory=Ctx)
    made = tc.trace_config_ctx(marker)
    assert type(made) is Ctx and made.trace_request_ctx is marker
    assert tc.trace_config_ctx() is not tc.trace_config_ctx()


def test_unit_params_classes() -> None:
    for cls_name, fields in SIGNALS.values():
        cls = getattr(tracing, cls_name)
        assert tuple(inspect.signature(cls).parameters) == fields
        assert cls_name in tracing.__all__
        values = [f"v{i}" for i in range(len(fields))]
        obj = cls(*values)
        assert [getattr(obj, f) for f in fields] == values
        assert obj == cls(*values)
        assert hash(obj) == hash(cls(*values))
        assert not hasattr(obj, "__dict__")
        assert (
            repr(obj)
            == f"{cls_name}(" + ", ".join(f"{f}={v!r}" for f, v in zip(fields, values)) + ")"
        )
        with pytest.raises(AttributeError):
            obj.extra = 1
        for f in fields:
            with pytest.raises(AttributeError):
                setattr(obj, f, "changed")
            assert obj != cls(*[("x" if g == f else v) for g, v in zip(fields, values)])


def _send_args(name: str) -> tuple[Any, ...]:
    url = URL("http://h.test/p")
    headers: CIMultiDict[str] = CIMultiDict({"A": "1"})
    return {
        "method, url, headers": ("GET", url, headers),
        "method, url, chunk": ("POST", url, b"chunk"),
        "method, url, headers, response": ("GET", url, headers, object()),
        "method, url, headers, exception": ("GET", url, headers, OSError("x")),
        "": (),
        "host": ("h.test",),
    }[", ".join(SIGNALS[name][1])]


async def test_unit_trace_sends_every_signal() -> None:
    session = object()
    tc = tracing.TraceConfig()
    received: list[tuple[str, Any, Any, Any]] = []
    for name in SIGNALS:

        async def handler(s: Any, ctx: Any, params: Any, name: str = name) -> None:
            received.append((name, s, ctx, params))

        getattr(tc, f"on_{name}").append(handler)
    tc.freeze()
    ctx = tc.trace_config_ctx(trace_request_ctx="r")
    trace = tracing.Trace(session, tc, ctx)
    for name in SIGNALS:
        args = _send_args(name)
        assert await getattr(trace, SENDERS[name])(*args) is None
        got_name, got_session, got_ctx, params = received[-1]
        cls = getattr(tracing, SIGNALS[name][0])
        assert (got_name, got_session, got_ctx) == (name, session, ctx)
        assert got_ctx is ctx
        assert type(params) is cls
        assert params == cls(*args)
    assert [r[0] for r in received] == list(SIGNALS)


async def test_unit_trace_with_no_handlers() -> None:
    tc = tracing.TraceConfig()
    tc.freeze()
    trace = tracing.Trace(object(), tc, tc.trace_config_ctx())
    for name in SIGNALS:
        await getattr(trace, SENDERS[name])(*_send_args(name))
