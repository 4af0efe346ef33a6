"""JOBQUEUE_LOG_FORMAT=json: one JSON object per line, per-job lines with the job's fields."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from jobqueue.brokers import Broker
from jobqueue.errors import ConfigError
from jobqueue.handlers import Handlers
from jobqueue.logs import setup_logging
from tests.telemetry.conftest import TRACE_ID, TRACEPARENT, Traces, submit
from tests.worker.conftest import Place, run_burst

pytestmark = pytest.mark.usefixtures("restored_logging")

HOSTILE = "bad\x1b[31m\r\n2026-01-01 00:00:00,000 INFO jobqueue.api: forged\u2028\u202e"


def _lines(err: str) -> list[dict[str, Any]]:
    """Every line of ``err`` parsed; a line that is not one JSON object fails the test."""
    parsed = [json.loads(line) for line in err.splitlines()]
    assert all(isinstance(entry, dict) for entry in parsed)
    return parsed


def test_a_line_is_one_json_object_with_time_level_logger_and_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_logging("INFO", "json")
    logging.getLogger("jobqueue.api").info("listening on %s", "127.0.0.1:8080")
    logging.getLogger("jobqueue.api").debug("not shown")

    [line] = _lines(capsys.readouterr().err)
    assert line["level"] == "INFO"
    assert line["logger"] == "jobqueue.api"
    assert line["message"] == "listening on 127.0.0.1:8080"
    assert line["time"].endswith("Z")
    assert datetime.fromisoformat(line["time"]).utcoffset() is not None
    assert "job_id" not in line


def test_the_variable_chooses_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBQUEUE_LOG_FORMAT", "JSON")
    setup_logging("INFO")
    logging.getLogger("jobqueue.worker").warning("careful")

    assert _lines(capsys.readouterr().err)[0]["message"] == "careful"


def test_what_a_client_sent_is_escaped_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", "json")
    logging.getLogger("jobqueue.api").warning("job type %s refused", HOSTILE)

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    for raw in ("\x1b", "\r", "\u2028", "\u202e"):
        assert raw not in err
    assert "\\u2028\\u202e" in err
    assert _lines(err)[0]["message"] == f"job type {HOSTILE} refused"


def test_a_traceback_is_a_field_of_the_line(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", "json")
    try:
        raise ValueError("boom\x1b[2J")
    except ValueError:
        logging.getLogger("jobqueue.api").exception("unexpected error")

    [line] = _lines(capsys.readouterr().err)
    assert line["message"] == "unexpected error"
    assert "ValueError: boom\x1b[2J" in line["exception"]


def test_extra_fields_name_the_job_of_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", "json")
    extra = {"job_id": "j-1", "type": "email", "attempt": 2, "worker_id": "w-1"}
    logging.getLogger("jobqueue.api").info("job recorded", extra=extra)

    [line] = _lines(capsys.readouterr().err)
    assert {key: line[key] for key in extra} == extra


async def test_per_job_lines_carry_the_job_worker_and_trace(
    broker: Broker, place: Place, traces: Traces, capsys: pytest.CaptureFixture[str]
) -> None:
    handlers = Handlers()

    @handlers.job("email", max_attempts=2)
    def fail_once(payload: Any, ctx: Any) -> None:
        if ctx.attempt == 0:
            raise ValueError(HOSTILE)

    answer = await submit(
        broker, "/jobs", {"type": "email", "payload": {}}, {"traceparent": TRACEPARENT}, traces
    )
    job_id = answer.json()["id"]
    setup_logging("DEBUG", "json")

    await run_burst(place, handlers, tracer_provider=traces.provider, worker_id="worker-7")

    per_job = [line for line in _lines(capsys.readouterr().err) if "job_id" in line]
    messages = [line["message"] for line in per_job]
    assert f"processing job {job_id} (type=email, attempt=0)" in messages
    assert f"job {job_id} succeeded" in messages
    failed = next(line for line in per_job if line["message"].startswith(f"job {job_id} failed"))
    assert HOSTILE in failed["message"]
    assert failed["level"] == "WARNING"
    for line in per_job:
        assert line["job_id"] == job_id
        assert line["type"] == "email"
        assert line["worker_id"] == "worker-7"
        assert line["trace_id"] == TRACE_ID
    assert {line["attempt"] for line in per_job} == {0, 1}


def test_a_bad_log_format_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="JOBQUEUE_LOG_FORMAT must be text or json, got 'xml'"):
        setup_logging("INFO", "xml")
    monkeypatch.setenv("JOBQUEUE_LOG_FORMAT", "yaml")
    with pytest.raises(ConfigError, match="got 'yaml'"):
        setup_logging("INFO")


def test_a_command_given_a_bad_log_format_says_so_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "JOBQUEUE_LOG_FORMAT": "xml"}
    result = subprocess.run(
        [sys.executable, "-m", "jobqueue", "worker", "--burst", "--api-grpc", ""],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: JOBQUEUE_LOG_FORMAT must be text or json, got 'xml'"
    ]
