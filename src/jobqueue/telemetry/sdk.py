"""The OpenTelemetry SDK's tracer provider, built only when tracing is on (the ``[otel]`` extra)."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)

_UNNAMED = "unknown_service"


def tracer_provider(service_name: str, version: str, exporters: Sequence[str]) -> TracerProvider:
    """A provider sending every span, in batches, to each exporter named (``otlp``,
    ``console``); its sampler is the SDK's, from ``OTEL_TRACES_SAMPLER``."""
    resource = Resource.create({SERVICE_VERSION: version})
    if str(resource.attributes.get(SERVICE_NAME, _UNNAMED)).startswith(_UNNAMED):
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    provider = TracerProvider(resource=resource)
    for name in exporters:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
    return provider


def _exporter(name: str) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()
