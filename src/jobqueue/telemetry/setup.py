"""Turning tracing on: the OpenTelemetry SDK configured from the standard ``OTEL_*`` variables.

Tracing is on when any of :data:`SWITCHES` is set (``OTEL_TRACES_EXPORTER=none`` and
``OTEL_SDK_DISABLED=true`` turn it off), and the SDK (the ``[otel]`` extra) is installed. The
SDK then reads the rest itself: the OTLP exporter its endpoint, headers and timeouts, the
sampler ``OTEL_TRACES_SAMPLER``, the batch processor ``OTEL_BSP_*``, the resource
``OTEL_RESOURCE_ATTRIBUTES``. A process whose tracer provider was set up before (by
``opentelemetry-instrument``, or by an application embedding jobqueue) traces with that one.
This is decided once, at start: a process with tracing off builds no span and writes no
trace header on the job path.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from opentelemetry import trace

import jobqueue
from jobqueue.errors import ConfigError

log = logging.getLogger("jobqueue.telemetry")

SWITCHES = (
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_SERVICE_NAME",
)
EXPORTERS = ("otlp", "console", "none")
PROTOCOLS = ("http/protobuf",)


def start_tracing(service_name: str) -> trace.TracerProvider | None:
    """The tracer provider of this process, or None when tracing is off: the global one if it
    was set up before, else one made from the environment, which then becomes the global one
    (so that handlers' own spans join the job's)."""
    if _disabled(os.environ):
        return None
    current = trace.get_tracer_provider()
    if not isinstance(current, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        log.info("tracing: on, with the tracer provider this process was given")
        return current
    provider = configure(service_name, os.environ)
    if provider is not None:
        trace.set_tracer_provider(provider)
        exporters = os.environ.get("OTEL_TRACES_EXPORTER") or "otlp"
        log.info("tracing: on, exporting to %s", exporters.strip())
    return provider


def configure(service_name: str, environ: Mapping[str, str]) -> trace.TracerProvider | None:
    """An SDK tracer provider exporting as ``environ`` says, named ``service_name`` unless
    ``OTEL_SERVICE_NAME`` (or ``OTEL_RESOURCE_ATTRIBUTES``) names it; None when the variables
    do not ask for tracing or the SDK is missing. Bad values are a :class:`ConfigError`."""
    if _disabled(environ) or not any(environ.get(name) for name in SWITCHES):
        return None
    exporters = _exporter_names(environ)
    if not exporters:
        return None
    _check_protocol(environ)
    try:
        from jobqueue.telemetry.sdk import tracer_provider
    except ImportError as exc:
        log.warning(
            "tracing is asked for (%s) but the OpenTelemetry SDK is missing (%s): "
            "pip install 'jobqueue[otel]'; tracing stays off",
            ", ".join(name for name in SWITCHES if environ.get(name)),
            exc.name,
        )
        return None
    return tracer_provider(service_name, jobqueue.__version__, exporters)


def _disabled(environ: Mapping[str, str]) -> bool:
    return environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def _exporter_names(environ: Mapping[str, str]) -> list[str]:
    """The exporters of ``OTEL_TRACES_EXPORTER`` (default ``otlp``), ``none`` left out."""
    names = [
        name.strip().lower()
        for name in environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")
        if name.strip()
    ]
    unknown = [name for name in names if name not in EXPORTERS]
    if unknown:
        raise ConfigError(
            f"OTEL_TRACES_EXPORTER: unknown exporter {unknown[0]!r} (use {', '.join(EXPORTERS)})"
        )
    return [name for name in names if name != "none"]


def _check_protocol(environ: Mapping[str, str]) -> None:
    for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        protocol = environ.get(name, "").strip()
        if protocol and protocol not in PROTOCOLS:
            raise ConfigError(
                f"{name}: {protocol!r} is not supported; jobqueue exports over http/protobuf"
            )
