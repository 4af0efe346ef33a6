"""Deciding what becomes of a failed job: retry, dead-letter, and the death it carries."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from pathlib import Path
from typing import Any

from jobqueue.brokers import DeathReason
from jobqueue.brokers.sqlite import SqliteBroker
from jobqueue.errors import Reject, Retry
from jobqueue.handlers import Handlers
from jobqueue.job import Job
from jobqueue.worker import Worker
from jobqueue.worker.backoff import RetryPolicy
from jobqueue.worker.settle import (
    TRACEBACK_MAX_CHARS,
    TRACEBACK_MAX_LINES,
    DeadLetter,
    RetryLater,
    after_failure,
    short_traceback,
)

POLICY = RetryPolicy(base_s=2.0, cap_s=100.0, rng=random.Random(0))


def _raised(exc: Exception) -> Exception:
    try:
        raise exc
    except Exception as caught:
        return caught


def test_a_failure_with_attempts_left_is_retried_as_the_next_attempt_after_backoff() -> None:
    job = Job("email", {}, attempts=1)
    decided = after_failure(job, 3, _raised(ValueError("x")), POLICY, "w1")
    assert isinstance(decided, RetryLater)
    assert decided.job.first_failed_at is not None
    assert decided.job == dataclasses.replace(
        job.next_attempt(), first_failed_at=decided.job.first_failed_at
    )
    assert 2.0 <= decided.delay_s <= 4.0


def test_the_first_failure_time_is_kept_across_retries_and_given_to_the_death() -> None:
    first = "2026-12-03T12:00:00.000000Z"
    retried = after_failure(
        Job("email", {}, attempts=1, first_failed_at=first), 3, ValueError("x"), POLICY, "w1"
    )
    assert isinstance(retried, RetryLater)
    assert retried.job.first_failed_at == first
    dead = after_failure(retried.job, 3, _raised(ValueError("x")), POLICY, "w1")
    assert isinstance(dead, DeadLetter)
    assert dead.death.first_failed_at == first
    assert dead.job is not None
    assert (dead.job.attempts, dead.death.attempts) == (3, 3)


def test_a_failure_on_the_last_attempt_dead_letters_with_what_happened() -> None:
    job = Job("email", {}, attempts=2)
    decided = after_failure(job, 3, _raised(ValueError("bad address")), POLICY, "w1")
    assert isinstance(decided, DeadLetter)
    death = decided.death
    assert death.reason == DeathReason.MAX_ATTEMPTS
    assert death.error == "ValueError: bad address"
    assert death.traceback is not None
    assert "ValueError: bad address" in death.traceback
    assert death.attempts == 3
    assert death.worker_id == "w1"
    assert death.failed_at
    assert death.first_failed_at is not None
    assert death.first_failed_at <= death.failed_at
    assert decided.job is not None
    assert decided.job.attempts == 3  # the dead copy counts every attempt made, as its death


def test_retry_asks_for_its_own_delay() -> None:
    decided = after_failure(Job("email", {}), 3, Retry(delay_s=7.5), POLICY, "w1")
    assert isinstance(decided, RetryLater)
    assert decided.delay_s == 7.5


def test_retry_without_a_delay_gets_the_backoff() -> None:
    decided = after_failure(Job("email", {}), 3, Retry(), POLICY, "w1")
    assert isinstance(decided, RetryLater)
    assert 1.0 <= decided.delay_s <= 2.0


def test_retry_on_the_last_attempt_dead_letters_for_max_attempts() -> None:
    decided = after_failure(Job("email", {}, attempts=2), 3, Retry(1.0), POLICY, "w1")
    assert isinstance(decided, DeadLetter)
    assert decided.death.reason == DeathReason.MAX_ATTEMPTS


def test_reject_dead_letters_at_once_even_with_attempts_left() -> None:
    decided = after_failure(Job("email", {}), 5, _raised(Reject("no such user")), POLICY, "w1")
    assert isinstance(decided, DeadLetter)
    assert decided.death.reason == DeathReason.REJECTED
    assert decided.death.error == "Reject: no such user"
    assert decided.death.attempts == 1


def _recurse(depth: int) -> None:
    if depth == 0:
        raise RuntimeError("x" * 10_000)
    _recurse(depth - 1)


def test_a_traceback_is_cut_to_its_last_lines_and_4_kb() -> None:
    try:
        _recurse(50)
    except RuntimeError as exc:
        text = short_traceback(exc)
    assert len(text.splitlines()) <= TRACEBACK_MAX_LINES
    assert len(text) <= TRACEBACK_MAX_CHARS
    assert text.endswith("x" * 100)


def test_retry_with_a_delay_that_is_not_a_number_gets_the_backoff() -> None:
    decided = after_failure(Job("email", {}), 3, Retry("soon"), POLICY, "w1")  # type: ignore[arg-type]
    assert isinstance(decided, RetryLater)
    assert 1.0 <= decided.delay_s <= 2.0


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no")


def test_an_exception_that_cannot_be_printed_still_dead_letters_with_its_type() -> None:
    decided = after_failure(Job("email", {}), 1, _raised(Unprintable()), POLICY, "w1")
    assert isinstance(decided, DeadLetter)
    assert decided.death.error is not None
    assert decided.death.error.startswith("Unprintable: ")


def _parse(text: str) -> int:
    return int(text)


async def test_a_stored_traceback_starts_at_the_handlers_own_frame(
    tmp_path: Path,
) -> None:
    broker = SqliteBroker(f"sqlite:///{tmp_path / 'b.db'}")
    await broker.connect()
    handlers = Handlers()

    @handlers.job("thread")
    def in_a_thread(payload: Any) -> None:
        _parse("not a number")

    @handlers.job("loop")
    async def on_the_loop(payload: Any) -> None:
        _parse("not a number")

    @handlers.job("slow", timeout_s=0.01)
    async def past_its_limit(payload: Any) -> None:
        await asyncio.sleep(1)

    jobs = [Job(job_type, {}, max_attempts=1) for job_type in ("thread", "loop", "slow")]
    await broker.publish(jobs)
    await Worker(broker, handlers, burst=True).run()

    reader = SqliteBroker(f"sqlite:///{tmp_path / 'b.db'}")
    await reader.connect()
    try:
        dead = await reader.dead_jobs()
    finally:
        await reader.close()
    by_type = {job.job.type: job.death.traceback for job in dead if job.job is not None}
    assert (
        by_type.pop("slow")
        == "jobqueue.errors.JobTimeout: handler 'slow' ran past its 0.01s time limit"
    )
    assert len(by_type) == 2
    for text in by_type.values():
        assert text is not None
        lines = text.splitlines()
        assert lines[0] == "Traceback (most recent call last):"
        assert lines[1].startswith(f'  File "{__file__}", line '), text
        assert "jobqueue/worker" not in text
        assert lines[-1] == "ValueError: invalid literal for int() with base 10: 'not a number'"
