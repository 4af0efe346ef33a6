"""The retry policy's arithmetic and rules, and the package's exports: no server needed."""

from __future__ import annotations

import inspect
import ssl
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

import jobqueue.client
from jobqueue.client import RetryPolicy, errors, models
from jobqueue.client.retry import may_repeat_answer, may_repeat_failure, retry_after_s


def answer(status: int, **headers: str) -> httpx.Response:
    """An answer of ``status`` with ``headers``."""
    return httpx.Response(status, headers=headers)


def test_backoff_grows_within_its_cap_and_retry_after_is_waited_out() -> None:
    policy = RetryPolicy(base_s=0.1, cap_s=1.0)

    first = [policy.delay_s(0, None) for _ in range(50)]
    late = [policy.delay_s(10, None) for _ in range(50)]
    asked = [policy.delay_s(0, 3.0) for _ in range(50)]

    assert all(0.05 <= delay <= 0.1 for delay in first)
    assert all(0.5 <= delay <= 1.0 for delay in late)
    assert all(3.0 <= delay <= 3.1 for delay in asked)


def test_no_retry_starts_past_the_attempts_or_the_deadline() -> None:
    policy = RetryPolicy(attempts=3, deadline_s=2.0, base_s=0.1, cap_s=0.1)

    assert policy.next_delay_s(1, 0.0, None) is not None
    assert policy.next_delay_s(3, 0.0, None) is None
    assert policy.next_delay_s(1, 1.99, None) is None
    assert policy.next_delay_s(1, 1.0, 5.0) is None  # Retry-After past the deadline
    assert policy.next_delay_s(1, 30.0, None, held_s=60.0) is not None  # a long poll's hold
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    soon = datetime.now(UTC) + timedelta(seconds=30)

    assert retry_after_s(answer(503, **{"Retry-After": "2"})) == 2.0
    assert (retry_after_s(answer(503, **{"Retry-After": format_datetime(soon)})) or 0) > 25.0
    assert retry_after_s(answer(503, **{"Retry-After": "whenever"})) is None
    assert retry_after_s(answer(503)) is None


def test_only_what_cannot_act_twice_is_repeated() -> None:
    assert may_repeat_answer(answer(503), "broker_unavailable", idempotent=True)
    assert not may_repeat_answer(answer(503), "broker_unavailable", idempotent=False)
    assert may_repeat_answer(answer(503), "overloaded", idempotent=False)  # refused unread
    assert may_repeat_answer(answer(409), "idempotency_key_in_flight", idempotent=True)
    assert not may_repeat_answer(answer(409), "job_finished", idempotent=True)
    assert not may_repeat_answer(answer(422), "invalid_job", idempotent=True)
    request = httpx.Request("POST", "http://127.0.0.1/jobs")
    cut = httpx.RemoteProtocolError("Server disconnected", request=request)
    refused = httpx.ConnectError("refused", request=request)
    assert may_repeat_failure(cut, idempotent=True)
    assert not may_repeat_failure(cut, idempotent=False)
    assert may_repeat_failure(refused, idempotent=False)  # it never left
    unverified = httpx.ConnectError("certificate verify failed", request=request)
    unverified.__cause__ = ssl.SSLCertVerificationError("self-signed certificate")
    assert not may_repeat_failure(unverified, idempotent=True)  # no retry mends it


def test_every_public_error_and_model_is_exported() -> None:
    public = {
        name
        for module in (errors, models)
        for name, value in vars(module).items()
        if inspect.isclass(value)
        and value.__module__ == module.__name__
        and not name.startswith("_")
    }

    assert public <= set(jobqueue.client.__all__)
    assert all(hasattr(jobqueue.client, name) for name in jobqueue.client.__all__)
