"""OpenTelemetry: opentelemetry-instrumentation-aiohttp-client's trace config on
aioxide sessions, and aioxide.contrib.opentelemetry's instrumentor.

Spans go to the SDK's in-memory exporter, the duration histogram to an
in-memory metric reader; the peer is a local aiohttp.web server that records
the traceparent header each request carried.  ``AIOXIDE_TEST_TARGET=aiohttp``
runs the same tests on aiohttp with AioHttpClientInstrumentor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from conftest import start_app

pytest.importorskip("opentelemetry.sdk")
otel_aiohttp = pytest.importorskip("opentelemetry.instrumentation.aiohttp_client")

from opentelemetry.instrumentation._semconv import _StabilityMode  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode  # noqa: E402

from conftest import TARGET  # noqa: E402, start_app

create_trace_config = otel_aiohttp.create_trace_config


class Otel:
    """A tracer provider and a meter provider that keep what they get."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def only_span(self) -> ReadableSpan:
        spans = self.spans()
        assert len(spans) == 1, spans
        return spans[0]

    def trace_config(self, **kw: Any) -> Any:
        return create_trace_config(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **kw
        )

    def durations(self) -> list[Any]:
        """The data points of the client duration histograms."""
        data = self.reader.get_metrics_data()
        points = []
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if "duration" in m.name:
                        points.extend(m.data.data_points)
        return points


@pytest.fixture
def otel() -> Otel:
    return Otel()


class Peer:
    """The server's record: (path, traceparent) per request."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []


@pytest.fixture
async def peer(serve: Any) -> tuple[str, Peer]:
    p = Peer()

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        p.seen.append((request.path, request.headers.get("traceparent")))
        return await handler(request)

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def boom(request: web.Request) -> web.Response:
        return web.Response(status=500, text="boom")

    async def hop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/ok")

    async def ws(request: web.Request) -> web.WebSocketResponse:
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        async for msg in sock:
            await sock.send_str(msg.data)
        return sock

    app = web.Application(middlewares=[record])
    app.router.add_get("/ws", ws)
    app.router.add_get("/ok", ok)
    app.router.add_get("/boom", boom)
    app.router.add_get("/hop", hop)
    return await serve(app), p


def _trace_ids(traceparent: str | None) -> tuple[int, int]:
    """(trace id, parent span id) of a W3C traceparent value."""
    assert traceparent is not None
    version, trace_id, span_id, _flags = traceparent.split("-")
    assert version == "00"
    return int(trace_id, 16), int(span_id, 16)


async def test_get_span(aiohttp: Any, otel: Otel, peer: tuple[str, Peer]) -> None:
    base, p = peer
    async with aiohttp.ClientSession(trace_configs=[otel.trace_config()]) as s:
        async with s.get(base + "/ok") as resp:
            assert await resp.text() == "ok"
    span = otel.only_span()
    assert span.name == "GET"
    assert span.kind is SpanKind.CLIENT
    attrs = dict(span.attributes or {})
    assert attrs["http.method"] == "GET"
    assert attrs["http.url"] == base + "/ok"
    assert attrs["http.status_code"] == 200
    assert span.status.status_code is StatusCode.UNSET
    # The context went on the wire: the server saw this span as the parent.
    assert [path for path, _ in p.seen] == ["/ok"]
    trace_id, parent = _trace_ids(p.seen[0][1])
    assert span.context is not None
    assert (trace_id, parent) == (span.context.trace_id, span.context.span_id)
    assert otel.durations(), "the duration histogram was recorded"


async def test_new_and_old_semconv_attributes(
    aiohttp: Any, otel: Otel, peer: tuple[str, Peer]
) -> None:
    base, _ = peer
    tc = otel.trace_config(sem_conv_opt_in_mode=_StabilityMode.HTTP_DUP)
    async with aiohttp.ClientSession(trace_configs=[tc]) as s:
        async with s.get(base + "/ok") as resp:
            await resp.read()
    attrs = dict(otel.only_span().attributes or {})
    port = int(base.rsplit(":", 1)[1])
    assert attrs["http.method"] == attrs["http.request.method"] == "GET"
    assert attrs["http.url"] == attrs["url.full"] == base + "/ok"
    assert attrs["http.status_code"] == attrs["http.response.status_code"] == 200
    assert attrs["server.address"] == "127.0.0.1" and attrs["server.port"] == port


async def test_404_and_500(aiohttp: Any, otel: Otel, peer: tuple[str, Peer]) -> None:
    base, _ = peer
    async with aiohttp.ClientSession(trace_configs=[otel.trace_config()]) as s:
        async with s.get(base + "/missing") as resp:
            assert resp.status == 404
        async with s.get(base + "/boom") as resp:
            assert resp.status == 500
    missing, boom = otel.spans()
    assert dict(missing.attributes or {})["http.status_code"] == 404
    assert dict(boom.attributes or {})["http.status_code"] == 500
    # A client span: 4xx and 5xx are both errors (the instrumentation's rule).
    assert missing.status.status_code is StatusCode.ERROR
    assert boom.status.status_code is StatusCode.ERROR


async def test_connection_error(aiohttp: Any, otel: Otel, unused_port: int) -> None:
    tc = otel.trace_config(sem_conv_opt_in_mode=_StabilityMode.HTTP_DUP)
    url = f"http://127.0.0.1:{unused_port}/x"
    async with aiohttp.ClientSession(trace_configs=[tc]) as s:
        with pytest.raises(aiohttp.ClientConnectorError):
            await s.get(url)
    span = otel.only_span()
    assert span.status.status_code is StatusCode.ERROR
    attrs = dict(span.attributes or {})
    assert attrs["error.type"] == "ClientConnectorError"
    assert attrs["url.full"] == url and "http.status_code" not in attrs
    assert [e.name for e in span.events] == ["exception"]
    assert (span.events[0].attributes or {})["exception.type"].endswith("ClientConnectorError")


async def test_redirect_is_one_span_and_every_hop_carries_it(
    aiohttp: Any, otel: Otel, peer: tuple[str, Peer]
) -> None:
    base, p = peer
    async with aiohttp.ClientSession(trace_configs=[otel.trace_config()]) as s:
        async with s.get(base + "/hop") as resp:
            assert resp.status == 200 and await resp.text() == "ok"
    span = otel.only_span()
    attrs = dict(span.attributes or {})
    assert attrs["http.url"] == base + "/hop" and attrs["http.status_code"] == 200
    assert [path for path, _ in p.seen] == ["/hop", "/ok"]
    assert span.context is not None
    for _, traceparent in p.seen:
        assert _trace_ids(traceparent) == (span.context.trace_id, span.context.span_id)


async def test_span_is_a_child_of_the_current_span(
    aiohttp: Any, otel: Otel, peer: tuple[str, Peer]
) -> None:
    base, p = peer
    tracer = otel.tracer_provider.get_tracer("test")
    async with aiohttp.ClientSession(trace_configs=[otel.trace_config()]) as s:
        with tracer.start_as_current_span("outer") as outer:
            async with s.get(base + "/ok") as resp:
                await resp.read()
    client, outer_done = otel.spans()
    assert outer_done.name == "outer"
    assert client.parent is not None
    assert client.parent.span_id == outer.get_span_context().span_id
    assert _trace_ids(p.seen[0][1])[0] == outer.get_span_context().trace_id


async def test_middlewares_see_the_traceparent(
    aiohttp: Any, otel: Otel, peer: tuple[str, Peer]
) -> None:
    base, p = peer
    seen: list[str | None] = []

    async def mw(req: Any, handler: Any) -> Any:
        seen.append(req.headers.get("traceparent"))
        req.headers["X-Mw"] = "1"
        return await handler(req)

    async with aiohttp.ClientSession(trace_configs=[otel.trace_config()], middlewares=(mw,)) as s:
        async with s.get(base + "/hop") as resp:
            assert await resp.text() == "ok"
    span = otel.only_span()
    assert len(seen) == 2 and seen[0] is not None and seen == [tp for _, tp in p.seen]
    assert span.context is not None
    assert _trace_ids(seen[0]) == (span.context.trace_id, span.context.span_id)


async def test_websocket_upgrade(aiohttp: Any, otel: Otel, peer: tuple[str, Peer]) -> None:
    base, p = peer
    async with aiohttp.ClientSession(trace_configs=[otel.trace_config()]) as s:
        async with s.ws_connect(base + "/ws") as ws:
            await ws.send_str("hi")
            assert await asyncio.wait_for(ws.receive_str(), 10) == "hi"
    span = otel.only_span()
    assert dict(span.attributes or {})["http.status_code"] == 101
    assert span.context is not None
    assert _trace_ids(p.seen[0][1]) == (span.context.trace_id, span.context.span_id)


# -- the instrumentor ------------------------------------------------------------


@pytest.fixture
def instrumentor() -> Iterator[Any]:
    """aioxide's instrumentor (aiohttp's for the reference run), left
    uninstrumented after the test."""
    if TARGET == "aiohttp":
        inst: Any = otel_aiohttp.AioHttpClientInstrumentor()
    else:
        from aioxide.contrib.opentelemetry import AioxideClientInstrumentor

        inst = AioxideClientInstrumentor()
    yield inst
    inst.uninstrument()


async def test_instrument_and_uninstrument(
    aiohttp: Any, otel: Otel, peer: tuple[str, Peer], instrumentor: Any
) -> None:
    base, p = peer
    hooked: list[str] = []
    instrumentor.instrument(
        tracer_provider=otel.tracer_provider,
        meter_provider=otel.meter_provider,
        url_filter=lambda url: str(url.with_path("/filtered")),
        request_hook=lambda span, params: hooked.append("request " + params.method),
        response_hook=lambda span, params: hooked.append(f"response {params.response.status}"),
    )
    async with aiohttp.ClientSession() as s:
        async with s.get(base + "/ok") as resp:
            assert await resp.text() == "ok"
    span = otel.only_span()
    assert span.kind is SpanKind.CLIENT and span.name == "GET"
    assert dict(span.attributes or {})["http.url"] == base + "/filtered"
    assert hooked == ["request GET", "response 200"]
    assert p.seen[0][1] is not None
    assert otel.durations()

    instrumentor.uninstrument()
    async with aiohttp.ClientSession() as s:
        assert s.trace_configs == []
        async with s.get(base + "/ok") as resp:
            await resp.read()
    assert len(otel.spans()) == 1
    assert p.seen[1][1] is None


async def test_instrumented_sessions_keep_their_own_configs(
    aiohttp: Any, otel: Otel, peer: tuple[str, Peer], instrumentor: Any
) -> None:
    base, _ = peer
    starts: list[str] = []

    async def on_start(session: Any, ctx: Any, params: Any) -> None:
        starts.append(params.method)

    mine = aiohttp.TraceConfig()
    mine.on_request_start.append(on_start)
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    instrumentor.instrument(tracer_provider=otel.tracer_provider)  # a no-op
    async with aiohttp.ClientSession(trace_configs=[mine]) as s:
        assert len(s.trace_configs) == 2 and s.trace_configs[0] is mine
        async with s.get(base + "/ok") as resp:
            await resp.read()
    assert starts == ["GET"]
    assert len(otel.spans()) == 1


@pytest.mark.skipif(TARGET == "aiohttp", reason="aiohttp's instrumentor adds its own regardless")
async def test_no_second_config_when_one_is_given(
    aiohttp: Any, otel: Otel, peer: tuple[str, Peer], instrumentor: Any
) -> None:
    base, p = peer
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    given = otel.trace_config()
    given._is_instrumented_by_opentelemetry = True  # as the instrumentors mark theirs
    async with aiohttp.ClientSession(trace_configs=[given]) as s:
        assert s.trace_configs == [given]
        async with s.get(base + "/ok") as resp:
            await resp.read()
    assert len(otel.spans()) == 1
    assert p.seen[0][1] is not None


async def test_uninstrument_session(
    aiohttp: Any, otel: Otel, peer: tuple[str, Peer], instrumentor: Any
) -> None:
    base, _ = peer
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    async with aiohttp.ClientSession() as s:
        type(instrumentor).uninstrument_session(s)
        async with s.get(base + "/ok") as resp:
            await resp.read()
    assert otel.spans() == []


def test_uvloop_spans(aiohttp: Any) -> None:
    uvloop = pytest.importorskip("uvloop")
    otel = Otel()
    seen: list[str | None] = []

    async def main() -> None:
        async def ok(request: web.Request) -> web.Response:
            seen.append(request.headers.get("traceparent"))
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_get("/ok", ok)
        runner, base = await start_app(app)
        try:
            async with aiohttp.ClientSession(trace_configs=[otel.trace_config()]) as s:
                async with s.get(base + "/ok") as resp:
                    assert await resp.text() == "ok"
        finally:
            await runner.cleanup()

    loop = uvloop.new_event_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(main(), 30))
    finally:
        loop.close()
    span = otel.only_span()
    assert span.context is not None
    assert _trace_ids(seen[0]) == (span.context.trace_id, span.context.span_id)
