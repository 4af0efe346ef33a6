"""The worker's job path on a real SQLite broker: run, retry, dead-letter, time out, in threads."""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from typing import Any

import pytest

from jobqueue import demo
from jobqueue.brokers import Broker, DeathReason, QueueDepth
from jobqueue.errors import ConfigError, Reject, Retry
from jobqueue.handlers import Handlers, JobContext
from jobqueue.job import Job
from jobqueue.worker import RetryPolicy
from tests.worker.conftest import BOTH_BACKENDS, Place, make_worker, run_burst

EMPTY = QueueDepth(ready=0, delayed=0, dead=0)
CLOCK_SLACK_S = 0.005  # the broker schedules by wall clock, the test measures by monotonic


class Undecodable(Job):
    """A "job" whose body is not JSON, as a foreign or corrupt publisher might send."""

    def encode(self) -> bytes:
        return b"\xff not json"


@BOTH_BACKENDS
async def test_a_job_runs_once_and_leaves_the_queue(
    broker: Broker, place: Place, worker_log: pytest.LogCaptureFixture
) -> None:
    seen: list[Any] = []
    handlers = Handlers()
    handlers.add("email", seen.append)
    job = Job("email", {"to": "a@b.c"})
    await broker.publish([job])

    worker = await run_burst(place, handlers)

    assert seen == [{"to": "a@b.c"}]
    assert await broker.depth() == EMPTY
    assert (worker.stats().processed, worker.stats().failed) == (1, 0)
    assert f"processing job {job.id} (type=email, attempt=0)" in worker_log.messages
    assert f"job {job.id} succeeded" in worker_log.messages


async def test_the_demo_handlers_run(broker: Broker, place: Place) -> None:
    payloads = [
        ("email", {"to": "a@b.c", "subject": "Hi"}),
        ("echo", [1, 2]),
        ("sleep", {"seconds": 0.01}),
        ("flaky", {"fail_times": 1}),
        ("noop", None),
    ]
    await broker.publish([Job(job_type, payload) for job_type, payload in payloads])

    worker = await run_burst(place, demo.handlers)

    assert await broker.depth() == EMPTY
    assert (worker.stats().processed, worker.stats().failed) == (6, 1)


async def test_a_flaky_job_is_retried_after_growing_delays_and_succeeds_on_its_last_attempt(
    broker: Broker, place: Place, worker_log: pytest.LogCaptureFixture
) -> None:
    started: dict[int, float] = {}
    handlers = Handlers()

    @handlers.job("flaky", max_attempts=3)
    def flaky(payload: Any, ctx: JobContext) -> None:
        started[ctx.attempt] = time.monotonic()
        if not ctx.is_last_attempt:
            raise ValueError(f"failure {ctx.attempt}")

    delays_s = [RetryPolicy(0.05, 1.0, rng=random.Random(5)).delay_s(n) for n in (0, 1)]
    job = Job("flaky", None)
    await broker.publish([job])

    await run_burst(place, handlers, retry=RetryPolicy(0.05, 1.0, rng=random.Random(5)))

    assert sorted(started) == [0, 1, 2]
    assert delays_s[0] <= delays_s[1]
    assert started[1] - started[0] >= delays_s[0] - CLOCK_SLACK_S
    assert started[2] - started[1] >= delays_s[1] - CLOCK_SLACK_S
    assert await broker.depth() == EMPTY
    first = f"job {job.id} failed (attempt 1/3): ValueError: failure 0 — retrying in"
    assert any(message.startswith(first) for message in worker_log.messages)


@BOTH_BACKENDS
async def test_a_job_that_always_fails_runs_max_attempts_times_then_dies_once(
    broker: Broker, place: Place, worker_log: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []
    handlers = Handlers()

    @handlers.job("fail", max_attempts=3)
    def fail(payload: Any, ctx: JobContext) -> None:
        calls.append(ctx.attempt)
        raise RuntimeError("smtp down")

    job = Job("fail", None)
    await broker.publish([job])

    worker = await run_burst(place, handlers, worker_id="w-1")

    assert calls == [0, 1, 2]
    dead = await broker.dead_jobs()
    assert [d.message_id for d in dead] == [job.id]
    death = dead[0].death
    assert death.reason == DeathReason.MAX_ATTEMPTS
    assert death.error == "RuntimeError: smtp down"
    assert death.traceback is not None
    assert "raise RuntimeError" in death.traceback
    assert death.attempts == 3
    assert death.worker_id == "w-1"
    assert death.failed_at
    assert await broker.depth() == QueueDepth(ready=0, delayed=0, dead=1)
    assert (worker.stats().processed, worker.stats().failed) == (3, 3)
    dead_line = f"job {job.id} dead-lettered: max_attempts (RuntimeError: smtp down)"
    assert dead_line in worker_log.messages


async def test_a_jobs_own_max_attempts_overrides_its_handlers(broker: Broker, place: Place) -> None:
    calls: list[int] = []
    handlers = Handlers()

    @handlers.job("fail", max_attempts=2)
    def fail(payload: Any, ctx: JobContext) -> None:
        calls.append(ctx.attempt)
        raise RuntimeError("no")

    await broker.publish([Job("fail", None, max_attempts=5)])

    await run_burst(place, handlers)

    assert calls == [0, 1, 2, 3, 4]
    [dead] = await broker.dead_jobs()
    assert dead.death.attempts == 5


async def test_a_handler_raising_retry_is_retried_after_the_delay_it_asks(
    broker: Broker, place: Place
) -> None:
    started: list[float] = []
    handlers = Handlers()

    @handlers.job("poll")
    async def poll(payload: Any, ctx: JobContext) -> None:
        started.append(time.monotonic())
        if ctx.attempt == 0:
            raise Retry(delay_s=0.3)

    await broker.publish([Job("poll", None)])

    await run_burst(place, handlers, retry=RetryPolicy(base_s=0.01, cap_s=0.02))

    assert len(started) == 2
    assert started[1] - started[0] >= 0.3 - CLOCK_SLACK_S
    assert await broker.depth() == EMPTY


@BOTH_BACKENDS
async def test_a_handler_raising_reject_is_dead_lettered_at_once(
    broker: Broker, place: Place
) -> None:
    calls: list[int] = []
    handlers = Handlers()

    @handlers.job("email", max_attempts=5)
    def email(payload: Any, ctx: JobContext) -> None:
        calls.append(ctx.attempt)
        raise Reject("no such mailbox")

    await broker.publish([Job("email", None)])

    await run_burst(place, handlers)

    assert calls == [0]
    [dead] = await broker.dead_jobs()
    assert dead.death.reason == DeathReason.REJECTED
    assert dead.death.error == "Reject: no such mailbox"
    assert dead.death.attempts == 1


@BOTH_BACKENDS
async def test_a_job_of_an_unknown_type_is_dead_lettered_without_running_past_the_wait(
    broker: Broker, place: Place
) -> None:
    job = Job("nope", {"x": 1})
    await broker.publish([job])

    await run_burst(place, demo.handlers, unserved_timeout_s=0)

    [dead] = await broker.dead_jobs()
    assert dead.message_id == job.id
    assert dead.body == job.encode()
    assert dead.death.reason == DeathReason.UNKNOWN_TYPE
    assert dead.death.attempts == 0


@BOTH_BACKENDS
async def test_an_undecodable_body_is_dead_lettered_as_it_was(broker: Broker, place: Place) -> None:
    await broker.publish([Undecodable("email", None)])

    await run_burst(place, demo.handlers)

    [dead] = await broker.dead_jobs()
    assert dead.body == b"\xff not json"
    assert dead.death.reason == DeathReason.UNDECODABLE
    assert dead.death.error is not None
    assert "not valid JSON" in dead.death.error


async def test_an_async_handler_past_its_time_limit_is_cancelled_and_counts_as_a_failure(
    broker: Broker, place: Place
) -> None:
    cancelled: list[int] = []
    handlers = Handlers()

    @handlers.job("hang", max_attempts=2, timeout_s=0.05)
    async def hang(payload: Any, ctx: JobContext) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(ctx.attempt)
            raise

    await broker.publish([Job("hang", None)])

    await run_burst(place, handlers)

    assert cancelled == [0, 1]
    [dead] = await broker.dead_jobs()
    assert dead.death.reason == DeathReason.MAX_ATTEMPTS
    assert dead.death.error is not None
    assert dead.death.error.startswith("JobTimeout: ")


async def test_a_thread_handler_past_its_time_limit_is_abandoned_and_counts_as_a_failure(
    broker: Broker, place: Place
) -> None:
    release = threading.Event()
    handlers = Handlers()
    handlers.add("hang", lambda payload: release.wait(60), max_attempts=1, timeout_s=0.05)
    await broker.publish([Job("hang", None)])

    try:
        worker = await run_burst(place, handlers)
        assert worker.abandoned_threads == 1
    finally:
        release.set()

    [dead] = await broker.dead_jobs()
    assert dead.death.error is not None
    assert dead.death.error.startswith("JobTimeout: ")


async def test_a_handlers_own_timeout_error_is_an_ordinary_failure(
    broker: Broker, place: Place
) -> None:
    handlers = Handlers()

    @handlers.job("fetch", max_attempts=1, timeout_s=30)
    async def fetch(payload: Any) -> None:
        raise TimeoutError("upstream did not answer")

    await broker.publish([Job("fetch", None)])

    await run_burst(place, handlers)

    [dead] = await broker.dead_jobs()
    assert dead.death.error == "TimeoutError: upstream did not answer"


@BOTH_BACKENDS
async def test_plain_def_handlers_run_in_parallel_threads_up_to_the_concurrency(
    broker: Broker, place: Place
) -> None:
    barrier = threading.Barrier(3, timeout=10)
    lock = threading.Lock()
    running, most = [0], [0]
    thread_names: set[str] = set()

    def together(payload: Any) -> None:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            thread_names.add(threading.current_thread().name)
        try:
            barrier.wait()  # breaks (and fails the job) unless three run at once
        finally:
            with lock:
                running[0] -= 1

    handlers = Handlers()
    handlers.add("together", together, max_attempts=1)
    await broker.publish([Job("together", None) for _ in range(6)])

    worker = await run_burst(place, handlers, concurrency=3)

    assert await broker.depth() == EMPTY
    assert worker.stats().processed == 6
    assert most[0] == 3
    assert all(name.startswith("jobqueue-handler") for name in thread_names)


@BOTH_BACKENDS
async def test_async_handlers_in_flight_never_exceed_the_concurrency(
    broker: Broker, place: Place
) -> None:
    running, most = [0], [0]
    all_four = asyncio.Event()

    async def busy(payload: Any) -> None:
        running[0] += 1
        most[0] = max(most[0], running[0])
        if running[0] == 4:
            all_four.set()
        await all_four.wait()
        await asyncio.sleep(0)
        running[0] -= 1

    handlers = Handlers()
    handlers.add("busy", busy)
    await broker.publish([Job("busy", None) for _ in range(12)])

    worker = await run_burst(place, handlers, concurrency=4)

    assert worker.stats().processed == 12
    assert most[0] == 4


async def test_the_per_job_lines_can_be_logged_at_info(
    broker: Broker, place: Place, worker_log: pytest.LogCaptureFixture
) -> None:
    handlers = Handlers()
    handlers.add("email", lambda payload: None)
    job = Job("email", {})
    await broker.publish([job])

    await run_burst(place, handlers, job_log_level=logging.INFO)

    info = [r.getMessage() for r in worker_log.records if r.levelno == logging.INFO]
    assert f"processing job {job.id} (type=email, attempt=0)" in info
    assert f"job {job.id} succeeded" in info


def test_a_prefetch_below_concurrency_is_a_config_error(place: Place) -> None:
    with pytest.raises(ConfigError, match="prefetch 2 is below concurrency 4"):
        make_worker(place, Handlers(), concurrency=4, prefetch=2)
