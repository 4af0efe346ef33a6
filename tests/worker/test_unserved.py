"""Jobs of a type the receiving worker has no handler for: handed on, waited for, dead at last."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jobqueue.brokers import Broker, DeathReason
from jobqueue.handlers import Handlers, JobContext
from jobqueue.job import Job
from jobqueue.registry.fleet import ServedTypes
from jobqueue.worker import unserved
from jobqueue.worker.settle import DeadLetter, HandOn
from tests.worker.conftest import BOTH_BACKENDS, Place, eventually, make_worker, run_burst

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def handlers_of(job_type: str, ran: list[tuple[str, int]]) -> Handlers:
    """Handlers serving only ``job_type``, noting each job's id and attempt in ``ran``."""
    handlers = Handlers()

    @handlers.job(job_type)
    def record(payload: Any, ctx: JobContext) -> None:
        ran.append((ctx.job_id, ctx.attempt))

    return handlers


def test_a_type_another_live_worker_serves_is_handed_on_soon_without_a_stamp() -> None:
    job = Job("resize", {}, unserved_since="2026-12-03T11:00:00.000Z", attempts=1)
    decided = unserved.decide(
        job, ServedTypes(frozenset({"resize"})), timeout_s=600, worker_id="w1", now=NOW
    )
    assert isinstance(decided, HandOn)
    low, high = unserved.HAND_ON_DELAY_S
    assert low <= decided.delay_s <= high
    assert (decided.job.attempts, decided.job.unserved_since) == (1, None)


def test_a_type_nobody_serves_waits_stamped_with_when_the_wait_began() -> None:
    decided = unserved.decide(
        Job("resize", {}), ServedTypes(frozenset({"email"})), timeout_s=600, worker_id="w", now=NOW
    )
    assert isinstance(decided, HandOn)
    assert decided.delay_s == unserved.WAIT_DELAY_S
    assert decided.job.unserved_since == "2026-12-03T12:00:00.000000Z"
    assert decided.job.attempts == 0


def test_a_worker_that_never_heard_from_the_fleet_counts_the_type_as_served_by_nobody() -> None:
    decided = unserved.decide(Job("resize", {}), None, timeout_s=600, worker_id="w", now=NOW)
    assert isinstance(decided, HandOn)
    assert decided.job.unserved_since is not None


def test_the_last_wait_ends_at_the_timeout() -> None:
    stamp = (NOW - timedelta(seconds=595)).isoformat()
    decided = unserved.decide(
        Job("resize", {}, unserved_since=stamp), None, timeout_s=600, worker_id="w", now=NOW
    )
    assert isinstance(decided, HandOn)
    assert decided.delay_s == pytest.approx(5.0)


def test_a_job_unserved_for_the_timeout_is_dead_as_unknown_type_with_no_attempt_counted() -> None:
    stamp = (NOW - timedelta(seconds=601)).isoformat()
    job = Job("resize", {}, unserved_since=stamp, attempts=2)
    decided = unserved.decide(job, None, timeout_s=600, worker_id="w", now=NOW)
    assert isinstance(decided, DeadLetter)
    assert decided.death.reason == DeathReason.UNKNOWN_TYPE
    assert decided.death.attempts == 2
    assert decided.death.error == "no handler for job type 'resize' on any live worker for 601s"


def test_a_served_type_is_never_dead_lettered_however_long_it_waited() -> None:
    stamp = (NOW - timedelta(days=1)).isoformat()
    decided = unserved.decide(
        Job("resize", {}, unserved_since=stamp),
        ServedTypes(any_type=True),
        timeout_s=600,
        worker_id="w",
        now=NOW,
    )
    assert isinstance(decided, HandOn)


def test_the_stamp_travels_in_the_message() -> None:
    job = Job("resize", {}, unserved_since="2026-12-03T12:00:00.000Z")
    assert Job.decode(job.encode()).unserved_since == "2026-12-03T12:00:00.000Z"
    assert "unserved_since" not in Job("resize", {}).to_wire()
    assert job.next_attempt().unserved_since is None
    assert job.fresh().unserved_since is None


@BOTH_BACKENDS
async def test_each_job_reaches_the_worker_that_serves_its_type_and_no_attempt_is_spent(
    broker: Broker, place: Place, backend: str, worker_log: pytest.LogCaptureFixture
) -> None:
    email_ran: list[tuple[str, int]] = []
    resize_ran: list[tuple[str, int]] = []
    fleet = ServedTypes(frozenset({"email", "resize"}))
    workers = [
        make_worker(place, handlers_of("email", email_ran)),
        make_worker(place, handlers_of("resize", resize_ran)),
    ]
    for worker in workers:
        worker.fleet_seen(fleet)
    jobs = [Job(job_type, {}) for job_type in ("email", "resize") for _ in range(10)]
    await broker.publish(jobs)

    runs = [asyncio.create_task(worker.run()) for worker in workers]
    try:
        await eventually(lambda: len(email_ran) + len(resize_ran) == len(jobs), timeout_s=30)
    finally:
        for worker in workers:
            await worker.stop()
        await asyncio.gather(*runs)

    assert sorted(email_ran) == sorted((job.id, 0) for job in jobs if job.type == "email")
    assert sorted(resize_ran) == sorted((job.id, 0) for job in jobs if job.type == "resize")
    assert await broker.dead_jobs() == []
    assert [(w.stats().processed, w.stats().failed) for w in workers] == [(10, 0), (10, 0)]
    handed_on = [m for m in worker_log.messages if "here; handed on" in m]
    if backend == "sqlite":  # the embedded broker claims by type: no job went astray
        assert handed_on == []


@BOTH_BACKENDS
async def test_a_job_nobody_serves_waits_in_the_queue_until_a_worker_for_it_comes(
    broker: Broker,
    place: Place,
    monkeypatch: pytest.MonkeyPatch,
    worker_log: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(unserved, "WAIT_DELAY_S", 0.2)
    job = Job("resize", {"w": 10})
    await broker.publish([job])
    lacking = make_worker(place, handlers_of("email", []))
    running = asyncio.create_task(lacking.run())
    try:
        waiting = f"no live worker serves job type 'resize' (job {job.id} waits since"
        await eventually(lambda: any(waiting in m for m in worker_log.messages))
        await asyncio.sleep(0.5)  # it comes back to this worker two or three times meanwhile
    finally:
        await lacking.stop()
        await running

    assert await broker.dead_jobs() == []
    ran: list[tuple[str, int]] = []
    await run_burst(place, handlers_of("resize", ran))
    assert ran == [(job.id, 0)]


@BOTH_BACKENDS
async def test_a_job_that_waited_past_the_timeout_is_dead_lettered_as_unknown_type(
    broker: Broker, place: Place
) -> None:
    long_ago = (datetime.now(UTC) - timedelta(seconds=700)).isoformat()
    job = Job("resize", {}, unserved_since=long_ago)
    await broker.publish([job])

    await run_burst(place, handlers_of("email", []))

    [dead] = await broker.dead_jobs()
    assert dead.message_id == job.id
    assert dead.death.reason == DeathReason.UNKNOWN_TYPE
    assert dead.death.error is not None
    assert "on any live worker for 70" in dead.death.error
