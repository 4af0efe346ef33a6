"""Parsing limits: rates, concurrency, keys; what a job carries and what its handler declares."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jobqueue.cli.submit import _limit_fields
from jobqueue.errors import ConfigError, InvalidLimit
from jobqueue.handlers import Handlers
from jobqueue.job import Job
from jobqueue.limits.policy import (
    DEFER_BASE_S,
    DEFER_CAP_S,
    KEY_SEPARATOR,
    JobLimit,
    LimitPolicy,
    deferral_delay_s,
    demand,
    parse_rate,
)


@pytest.mark.parametrize(
    ("text", "per_s"),
    [
        ("10/s", 10.0),
        ("600/m", 10.0),
        ("5/h", 5 / 3600),
        ("3/2s", 1.5),
        (2.5, 2.5),
        ("1 / min", 1 / 60),
    ],
)
def test_rates_parse_to_starts_per_second(text: str | float, per_s: float) -> None:
    assert parse_rate(text) == pytest.approx(per_s)


@pytest.mark.parametrize("text", ["10/x", "ten/s", "", "10", "-1/s", "0/s", "1/0s", True, [1]])
def test_a_rate_that_is_nonsense_is_refused_naming_the_field(text: object) -> None:
    with pytest.raises(InvalidLimit, match=r"^jobs\[2\]\.rate: "):
        parse_rate(text, "jobs[2].rate")


def test_a_job_body_limit_is_checked_field_by_field() -> None:
    with pytest.raises(InvalidLimit, match=r"^concurrency: must be an integer from 1"):
        JobLimit.from_body({"concurrency": 0})
    with pytest.raises(InvalidLimit, match=r"^concurrency_key: control character"):
        JobLimit.from_body({"concurrency_key": "a\nb"})
    with pytest.raises(InvalidLimit, match="not both"):
        JobLimit.from_body({"rate": "1/s", "rate_per_s": 1})
    assert JobLimit.from_body({"concurrency_key": 42}) == JobLimit(key="42")
    assert JobLimit.from_body({}) is None


def test_a_job_keeps_its_limit_and_deferrals_on_the_wire() -> None:
    job = Job("sync", {}, limit=JobLimit("customer:42", 2, 10.0).deferred())
    again = Job.decode(job.encode())
    assert again.limit == JobLimit("customer:42", 2, 10.0, 1)
    assert Job.decode(Job("plain", {}).encode()).limit is None


def test_a_handler_declaration_that_is_nonsense_is_a_config_error() -> None:
    handlers = Handlers()
    with pytest.raises(ConfigError, match=r"^job type 'sync': concurrency: must be an integer"):
        handlers.job("sync", concurrency=-1)(print)
    with pytest.raises(ConfigError, match="give rate or rate_per_s, not both"):
        handlers.job("other", rate="1/s", rate_per_s=1)(print)


def test_the_jobs_own_fields_win_over_its_handlers() -> None:
    policy = LimitPolicy(2, None, lambda payload: payload["customer"])
    asked = demand("sync", {"customer": 7}, None, policy)
    assert asked is not None
    assert asked.name == f"sync{KEY_SEPARATOR}7"
    assert asked.concurrency == 2
    own = demand("sync", {"customer": 7}, JobLimit("vip", 5, 1.0), policy)
    assert own is not None
    assert (own.name, own.concurrency, own.rate_per_s) == (
        f"sync{KEY_SEPARATOR}vip",
        5,
        1.0,
    )
    assert own.shown == "sync key vip"
    assert demand("sync", {}, None, None) is None


def test_deferrals_back_off_with_jitter_up_to_a_cap() -> None:
    first = [deferral_delay_s(0) for _ in range(50)]
    late = [deferral_delay_s(30) for _ in range(50)]
    assert all(DEFER_BASE_S / 2 <= delay <= DEFER_BASE_S for delay in first)
    assert all(DEFER_CAP_S / 2 <= delay <= DEFER_CAP_S for delay in late)
    assert len(set(late)) > 1
    assert deferral_delay_s(0, retry_after_s=0.3) >= 0.3


def test_the_worker_command_says_in_one_line_that_a_declared_rate_is_nonsense() -> None:
    command = [sys.executable, "-m", "jobqueue", "worker", "--app", "tests.limits.bad_app:handlers"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "'10/fortnight' is not a rate" in lines[0]


def test_submit_refuses_a_rate_that_is_nonsense_in_one_line_before_any_request() -> None:
    command = [sys.executable, "-m", "jobqueue", "submit", "sync", "--rate", "10/x"]
    command += ["--api-url", "http://127.0.0.1:9"]  # nothing listens there: no request is made
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: rate: '10/x' is not a rate: write COUNT/UNIT, such as '10/s', '600/m' or '5/h'"
    ]


def test_submit_sends_the_limit_fields_given() -> None:
    assert _limit_fields("customer:42", 2, "10/s") == {
        "concurrency_key": "customer:42",
        "concurrency": 2,
        "rate": "10/s",
    }
    assert _limit_fields(None, None, None) == {}
