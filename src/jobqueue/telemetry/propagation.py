"""The W3C trace context (``traceparent``, ``tracestate``) to and from message headers."""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACEPARENT = "traceparent"
_W3C = TraceContextTextMapPropagator()
_TRACE_ID = slice(3, 35)  # "00-<32 hex digits>-<16 hex digits>-<2 hex digits>"


def inject(context: Context | None = None) -> dict[str, str]:
    """The headers that carry ``context`` (the current one by default): none without a span."""
    headers: dict[str, str] = {}
    _W3C.inject(headers, context)
    return headers


def extract(headers: Mapping[str, str] | None) -> Context:
    """The context the headers carry (an HTTP request's or a message's); empty without any, or
    with a malformed ``traceparent``."""
    if not headers:
        return Context()
    return _W3C.extract(headers, Context())


def trace_id(headers: Mapping[str, str] | None) -> str | None:
    """The trace id of a ``traceparent`` header, as 32 hex digits; None without one."""
    traceparent = headers.get(TRACEPARENT) if headers else None
    if traceparent is None or len(traceparent) < 55:
        return None
    return traceparent[_TRACE_ID]
