"""Conformance checks of delayed and unique jobs, part of :data:`jobqueue.testing.store.CHECKS`:
scheduled records, due jobs handed over once (by concurrent promoters too), unique key holds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any

from jobqueue.job import Job, JobState
from jobqueue.store import Store, UniqueClaim
from jobqueue.store import events as ev
from jobqueue.store.events import EventKind, JobEvent
from jobqueue.store.unique import Hold

StoreFactory = Callable[[], AbstractAsyncContextManager[Store]]
Check = Callable[[StoreFactory], Awaitable[None]]


def delayed_job(run_at: datetime, job_type: str = "report", **fields: Any) -> Job:
    """A job due at ``run_at``."""
    return Job(job_type, fields.pop("payload", {"n": 1}), run_at=ev.to_iso(run_at), **fields)


class Published:
    """A publish function that keeps what it was given (and fails while ``failing``)."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self.failing = False

    async def __call__(self, jobs: Sequence[Job]) -> None:
        if self.failing:
            raise ConnectionError("broker down")
        await asyncio.sleep(0)  # let concurrent promoters interleave
        self.jobs.extend(jobs)

    @property
    def ids(self) -> list[str]:
        """The ids published, in order."""
        return [job.id for job in self.jobs]


def _event(job_id: str, kind: EventKind, attempt: int = 0) -> JobEvent:
    return JobEvent(
        event_id=ev.new_event_id(),
        job_id=job_id,
        kind=kind,
        attempt=attempt,
        at=ev.utc_now(),
        job_type="report",
        worker_id="w1",
    )


async def check_a_scheduled_job_waits_with_its_run_at(factory: StoreFactory) -> None:
    """Recorded scheduled with its run_at; counted, listed, not handed over before it is due."""
    async with factory() as store:
        run_at = ev.utc_now() + timedelta(hours=1)
        job = delayed_job(run_at)
        await store.record_scheduled([job])
        await store.record_scheduled([job])  # twice: one record, one history entry
        record = await store.get(job.id)
        assert record is not None
        assert (record.state, record.run_at, record.payload) == (
            JobState.SCHEDULED,
            run_at,
            {"n": 1},
        )
        assert record.to_wire()["run_at"] == ev.to_iso(run_at)
        assert await store.next_run_at() == run_at
        assert await store.scheduled_count() == 1
        assert (await store.state_counts())[JobState.SCHEDULED] == 1
        page = await store.list(state=JobState.SCHEDULED)
        assert [r.id for r in page.records] == [job.id]
        published = Published()
        assert await store.promote_due(published) == []
        assert published.jobs == []
        assert [e.kind for e in await store.events(job.id)] == [EventKind.SCHEDULED]


async def check_due_jobs_are_handed_over_once_earliest_first(factory: StoreFactory) -> None:
    """Due jobs are published earliest first with their body and headers, then queued."""
    async with factory() as store:
        now = ev.utc_now()
        later = delayed_job(now - timedelta(seconds=1), payload={"n": 2})
        earlier = delayed_job(now - timedelta(seconds=5), headers={"traceparent": "00-ab-cd-01"})
        future = delayed_job(now + timedelta(hours=1))
        await store.record_scheduled([later, earlier, future])
        published = Published()
        handed = await store.promote_due(published)
        assert [due.job.id for due in handed] == [earlier.id, later.id]
        assert published.ids == [earlier.id, later.id]
        assert published.jobs[0].headers == {"traceparent": "00-ab-cd-01"}
        assert published.jobs[1].payload == {"n": 2}
        assert published.jobs[1].run_at == later.run_at
        assert await store.promote_due(published) == []
        assert len(published.jobs) == 2
        for job in (earlier, later):
            record = await store.get(job.id)
            assert record is not None
            assert record.state is JobState.QUEUED
            assert [e.kind for e in await store.events(job.id)][-1] is EventKind.QUEUED
        assert await store.next_run_at() == ev.parse_time(future.run_at or "")
        assert await store.scheduled_count() == 1


async def check_a_failed_publish_leaves_jobs_scheduled(factory: StoreFactory) -> None:
    """A publish that raises changes nothing: the next round hands the jobs over."""
    async with factory() as store:
        job = delayed_job(ev.utc_now() - timedelta(seconds=1))
        await store.record_scheduled([job])
        published = Published()
        published.failing = True
        try:
            await store.promote_due(published)
        except ConnectionError:
            pass
        else:
            raise AssertionError("the publish error was swallowed")
        record = await store.get(job.id)
        assert record is not None
        assert record.state is JobState.SCHEDULED
        published.failing = False
        assert [due.job.id for due in await store.promote_due(published)] == [job.id]


async def check_a_cancelled_scheduled_job_is_never_handed_over(factory: StoreFactory) -> None:
    """Cancelling a scheduled job takes it off the schedule."""
    async with factory() as store:
        job = delayed_job(ev.utc_now() - timedelta(seconds=1))
        await store.record_scheduled([job])
        record = await store.request_cancel(job.id)
        assert record is not None
        assert record.state is JobState.CANCELLED
        published = Published()
        assert await store.promote_due(published) == []
        assert published.jobs == []
        assert await store.scheduled_count() == 0


async def check_concurrent_promoters_hand_each_job_over_once(factory: StoreFactory) -> None:
    """Three promoters at once, small batches: every due job published exactly once."""
    async with factory() as store:
        now = ev.utc_now()
        jobs = [delayed_job(now - timedelta(milliseconds=n)) for n in range(120)]
        await store.record_scheduled(jobs)
        published = Published()

        async def promoter() -> None:
            while await store.promote_due(published, limit=7):
                pass

        await asyncio.gather(promoter(), promoter(), promoter())
        assert sorted(published.ids) == sorted(job.id for job in jobs)


async def check_unique_keys_hold_for_their_window(factory: StoreFactory) -> None:
    """``for``: until expiry; ``queued``: until the job starts; ``running``: until it ends."""
    async with factory() as store:
        first, second = await store.claim_unique_keys(
            [UniqueClaim("k-for", "a", Hold.FOR, 3600.0), UniqueClaim("k-for", "b", Hold.FOR, 1.0)]
        )
        assert (first.new, second.new, second.job_id) == (True, False, "a")
        await store.release_unique_keys([("k-for", "a")])
        (again,) = await store.claim_unique_keys([UniqueClaim("k-for", "c", Hold.FOR, 1.0)])
        assert again.new
        for hold, ends in ((Hold.QUEUED, EventKind.RUNNING), (Hold.RUNNING, EventKind.SUCCEEDED)):
            job = Job("report", {})
            key = f"k-{hold.value}"
            (won,) = await store.claim_unique_keys([UniqueClaim(key, job.id, hold)])
            await store.record_submitted([job])
            (held,) = await store.claim_unique_keys([UniqueClaim(key, "other", hold)])
            assert (won.new, held.new, held.job_id) == (True, False, job.id)
            assert held.record is not None
            assert held.record.id == job.id
            await store.apply_events([_event(job.id, EventKind.RUNNING)])
            if ends is EventKind.SUCCEEDED:
                (still,) = await store.claim_unique_keys([UniqueClaim(key, "other", hold)])
                assert not still.new
                await store.apply_events([_event(job.id, EventKind.SUCCEEDED)])
            (freed,) = await store.claim_unique_keys([UniqueClaim(key, "next", hold)])
            assert (freed.new, freed.job_id) == (True, "next")


async def check_concurrent_unique_claims_have_one_winner(factory: StoreFactory) -> None:
    """Racing claims of one key: exactly one job gets it, the others learn which."""
    async with factory() as store:
        claims = [UniqueClaim("race", f"job-{n}", Hold.FOR, 60.0) for n in range(8)]
        results = await asyncio.gather(*(store.claim_unique_keys([c]) for c in claims))
        outcomes = [outcome for (outcome,) in results]
        winners = [outcome.job_id for outcome in outcomes if outcome.new]
        assert len(winners) == 1
        assert {outcome.job_id for outcome in outcomes} == set(winners)


SCHEDULE_CHECKS: tuple[Check, ...] = (
    check_a_scheduled_job_waits_with_its_run_at,
    check_due_jobs_are_handed_over_once_earliest_first,
    check_a_failed_publish_leaves_jobs_scheduled,
    check_a_cancelled_scheduled_job_is_never_handed_over,
    check_concurrent_promoters_hand_each_job_over_once,
    check_unique_keys_hold_for_their_window,
    check_concurrent_unique_claims_have_one_winner,
)
