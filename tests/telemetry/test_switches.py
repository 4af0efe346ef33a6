"""Tracing on and off: the OTEL_* switches; off, nothing is configured and no header written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from jobqueue.brokers import Broker
from jobqueue.errors import ConfigError
from jobqueue.handlers import Handlers
from jobqueue.telemetry.setup import SWITCHES, configure, start_tracing
from tests.api.conftest import take_deliveries
from tests.telemetry.conftest import TRACEPARENT, run_jobs, submit
from tests.worker.conftest import Place

EMAIL = {"type": "email", "payload": {}}


@pytest.fixture
def no_otel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment of a process nobody asked to trace."""
    for name in (*SWITCHES, "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)


async def test_without_tracing_an_incoming_traceparent_is_not_written_into_the_message(
    broker: Broker,
) -> None:
    assert (await submit(broker, "/jobs", EMAIL, {"traceparent": TRACEPARENT})).status_code == 202

    [delivery] = await take_deliveries(broker, 1)
    assert delivery.headers is None


async def test_without_tracing_a_job_with_headers_still_runs(broker: Broker, place: Place) -> None:
    ran: list[object] = []
    handlers = Handlers()
    handlers.add("email", ran.append)
    await submit(broker, "/jobs", EMAIL, {"traceparent": TRACEPARENT})

    worker = await run_jobs(place, handlers)

    assert ran == [{}]
    assert worker.stats().processed == 1


@pytest.mark.usefixtures("no_otel_variables")
def test_with_no_otel_variable_nothing_is_configured() -> None:
    assert configure("jobqueue-api", {}) is None
    assert start_tracing("jobqueue-api") is None
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


@pytest.mark.parametrize(
    "environ",
    [
        {"OTEL_TRACES_EXPORTER": "none"},
        {"OTEL_SERVICE_NAME": "api", "OTEL_SDK_DISABLED": "true"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "TRUE"},
    ],
)
def test_exporter_none_and_sdk_disabled_leave_tracing_off(environ: dict[str, str]) -> None:
    assert configure("jobqueue-api", environ) is None


def test_an_otel_variable_turns_tracing_on_named_by_default_after_the_process() -> None:
    provider = configure("jobqueue-worker", {"OTEL_TRACES_EXPORTER": "console"})
    assert isinstance(provider, TracerProvider)
    try:
        assert provider.resource.attributes["service.name"] == "jobqueue-worker"
    finally:
        provider.shutdown()


def test_otel_service_name_names_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "billing-jobs")  # the SDK's resource reads it
    provider = configure("jobqueue-api", {"OTEL_SERVICE_NAME": "billing-jobs"})
    assert isinstance(provider, TracerProvider)
    try:
        assert provider.resource.attributes["service.name"] == "billing-jobs"
    finally:
        provider.shutdown()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER: unknown exporter 'zipkin'"),
        (
            {"OTEL_SERVICE_NAME": "api", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            "OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' is not supported",
        ),
    ],
)
def test_a_bad_otel_value_is_a_one_line_config_error(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        configure("jobqueue-api", environ)
    assert "\n" not in str(caught.value)


def test_a_process_asked_to_trace_makes_its_provider_the_global_one(tmp_path: Path) -> None:
    script = (
        "from opentelemetry import trace\n"
        "from jobqueue.telemetry.setup import start_tracing\n"
        "provider = start_tracing('jobqueue-worker')\n"
        "print(provider is not None and trace.get_tracer_provider() is provider)\n"
        "print(start_tracing('jobqueue-worker') is provider)\n"
    )
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "false"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.split() == ["True", "True"]
