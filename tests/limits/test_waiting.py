"""A job deferred by a limit shows ``waiting`` with the reason; no attempt is counted."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from jobqueue.job import Job, JobState
from jobqueue.store import events as ev
from tests.store.conftest import open_store

REASON = "concurrency limit: 2 of sync key customer:42 running"


def history(job: Job) -> list[ev.JobEvent]:
    start = ev.utc_now()
    later = ev.to_iso(start + timedelta(seconds=1))
    waiting = {"reason": REASON, "next_attempt_at": later}
    return [
        ev.job_event(job, ev.EventKind.WAITING, "w1", waiting, at=start),
        ev.job_event(job, ev.EventKind.WAITING, "w2", waiting, at=start + timedelta(seconds=1)),
        ev.job_event(job, ev.EventKind.RUNNING, "w2", at=start + timedelta(seconds=2)),
        ev.job_event(
            job, ev.EventKind.SUCCEEDED, "w2", {"result": 1}, start + timedelta(seconds=3)
        ),
    ]


def test_waiting_folds_before_running_and_counts_no_attempt() -> None:
    events = history(Job("sync", {}))
    waiting = ev.fold(events[:2])
    assert waiting is not None
    assert (waiting.state, waiting.attempts, waiting.waiting_reason) == (
        JobState.WAITING,
        0,
        REASON,
    )
    assert waiting.next_attempt_at is not None
    running = ev.fold(events[:3])
    assert running is not None
    assert (running.state, running.attempts, running.waiting_reason) == (JobState.RUNNING, 1, None)
    # Whatever order the events arrive in, the end is the same.
    assert ev.fold(reversed(events)) == ev.fold(events)


async def test_the_store_shows_a_waiting_job_with_its_reason_and_counts_the_deferral(
    tmp_path: Path,
) -> None:
    job = Job("sync", {"customer": 42})
    async with open_store(f"sqlite:///{tmp_path / 'state.db'}") as store:
        await store.record_submitted([job])
        events = history(job)
        await store.apply_events(events[:1])
        record = await store.get(job.id)
        assert record is not None
        assert (record.state, record.attempts, record.waiting_reason) == (
            JobState.WAITING,
            0,
            REASON,
        )
        assert record.to_wire()["waiting_reason"] == REASON
        assert (await store.state_counts())[JobState.WAITING] == 1
        await store.apply_events(events[1:])
        done = await store.get(job.id)
        assert done is not None
        assert (done.state, done.attempts, done.waiting_reason) == (JobState.SUCCEEDED, 1, None)
        deferred = [t for t in await store.job_totals() if t.outcome == "deferred"]
        assert [(t.type, t.count) for t in deferred] == [("sync", 2)]
