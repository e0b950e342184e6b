"""OpenTelemetry for aioxide sessions, as ``AioHttpClientInstrumentor`` does it
for aiohttp's.

The spans come from ``opentelemetry-instrumentation-aiohttp-client``'s own
``create_trace_config()``: an ``aiohttp.TraceConfig`` that an
``aioxide.ClientSession`` takes as its own (``trace_configs=``).  Its
``on_request_start`` opens a CLIENT span named after the method (URL and
method attributes in the semantic conventions the environment selects) and
injects the context into the request headers (``traceparent``), which go on
the wire of every hop; ``on_request_end`` sets the status code (a 5xx marks
the span as an error); ``on_request_exception`` records the exception.  The
duration histogram is recorded with the meter provider given.

``AioxideClientInstrumentor().instrument()`` adds one such trace config to
every ``aioxide.ClientSession`` created until ``uninstrument()``.  Needs
``pip install aioxide[otel]`` (the instrumentation imports aiohttp itself).
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from typing import Any, Callable

from opentelemetry.instrumentation._semconv import (
    _OpenTelemetrySemanticConventionStability,
    _OpenTelemetryStabilitySignalType,
    _StabilityMode,
)
from opentelemetry.instrumentation.aiohttp_client import create_trace_config
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.util.http import (
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST,
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE,
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS,
    get_custom_headers,
)

from ..client import ClientSession

__all__ = ("AioxideClientInstrumentor", "create_trace_config")

# The mark aiohttp's instrumentation puts on its trace configs (its
# uninstrument_session looks for it too).
_MARK = "_is_instrumented_by_opentelemetry"

_Init = Callable[..., None]


def _instrumented(trace_config: Any) -> bool:
    return bool(getattr(trace_config, _MARK, False))


def _semconv_mode() -> _StabilityMode:
    """The semantic conventions asked for by OTEL_SEMCONV_STABILITY_OPT_IN."""
    initialize: Callable[[], None] = _OpenTelemetrySemanticConventionStability._initialize
    initialize()
    return _OpenTelemetrySemanticConventionStability._get_opentelemetry_stability_opt_in_mode(
        _OpenTelemetryStabilitySignalType.HTTP
    )


def _trace_config(kwargs: dict[str, Any]) -> Any:
    """The instrumentation's trace config, with the instrumentor's options."""
    tc = create_trace_config(
        url_filter=kwargs.get("url_filter"),
        request_hook=kwargs.get("request_hook"),
        response_hook=kwargs.get("response_hook"),
        tracer_provider=kwargs.get("tracer_provider"),
        meter_provider=kwargs.get("meter_provider"),
        sem_conv_opt_in_mode=_semconv_mode(),
        captured_request_headers=get_custom_headers(
            OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST
        ),
        captured_response_headers=get_custom_headers(
            OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE
        ),
        sensitive_headers=get_custom_headers(
            OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS
        ),
    )
    setattr(tc, _MARK, True)
    return tc


def _wrap_init(original: _Init, ours: Any, extra: Sequence[Any]) -> _Init:
    """``ClientSession.__init__`` that adds ``extra`` and ``ours`` to the
    session's trace configs, unless an instrumented one is there already."""

    @functools.wraps(original)
    def __init__(self: ClientSession, *args: Any, **kwargs: Any) -> None:
        configs = list(kwargs.get("trace_configs") or ())
        if not any(_instrumented(tc) for tc in configs):
            configs.extend(tc for tc in extra if tc not in configs)
            configs.append(ours)
        kwargs["trace_configs"] = configs
        original(self, *args, **kwargs)

    return __init__


class AioxideClientInstrumentor(BaseInstrumentor):  # type: ignore[misc, unused-ignore]
    """Traces every ``aioxide.ClientSession`` created while instrumented.

    ``instrument(**options)`` takes ``AioHttpClientInstrumentor``'s options:
    ``tracer_provider``, ``meter_provider``, ``url_filter`` (the URL as a
    span attribute, from the ``yarl.URL``), ``request_hook(span, params)``,
    ``response_hook(span, params)`` and ``trace_configs`` (more configs
    added to each session).  Sessions made before keep what they have;
    ``uninstrument()`` stops adding to new ones.  The trace config is made
    once per ``instrument()`` and shared by the sessions.
    """

    _original_init: _Init | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        # aioxide is this package itself: nothing to check.
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        if type(self)._original_init is not None:
            return
        original: _Init = ClientSession.__init__
        extra = tuple(kwargs.get("trace_configs") or ())
        wrapped = _wrap_init(original, _trace_config(kwargs), extra)
        type(self)._original_init = original
        ClientSession.__init__ = wrapped  # type: ignore[method-assign]

    def _uninstrument(self, **kwargs: Any) -> None:
        original = type(self)._original_init
        if original is not None:
            ClientSession.__init__ = original  # type: ignore[method-assign]
            type(self)._original_init = None

    @staticmethod
    def uninstrument_session(session: ClientSession) -> None:
        """Stop tracing ``session``'s later requests."""
        session._trace_configs = [tc for tc in session._trace_configs if not _instrumented(tc)]
