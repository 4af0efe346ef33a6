"""The store conformance suite: public checks that every ``Store`` backend's tests call.

Each check takes a *factory*: calling it gives an async context manager that yields a connected,
upgraded store of its own (an empty database, file or schema) and cleans up after. A backend's
tests run every check in :data:`CHECKS`::

    @pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
    async def test_store_conforms(check, store_factory):
        await check(store_factory)
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from jobqueue.auth.records import AuditEntry, TokenRecord
from jobqueue.errors import InvalidCursor, TokenExists
from jobqueue.job import Job, JobState
from jobqueue.store import JobFilter, JobRecord, Reservation, Store
from jobqueue.store import events as ev
from jobqueue.store.events import EventKind, JobEvent
from jobqueue.testing.schedule_checks import SCHEDULE_CHECKS

StoreFactory = Callable[[], AbstractAsyncContextManager[Store]]
Check = Callable[[StoreFactory], Awaitable[None]]
DAY_S = 24 * 3600.0
# The fields that events decide: a store's record must agree with the reference fold on these.
_TRACKED = (
    "state",
    "attempts",
    "worker_id",
    "started_at",
    "finished_at",
    "updated_at",
    "next_attempt_at",
    "result",
    "progress",
    "progress_message",
    "error",
)


def make_job(job_type: str = "email", created_at: datetime | None = None, **fields: Any) -> Job:
    """A job with a fresh id, created at ``created_at`` (now by default)."""
    moment = created_at or ev.utc_now()
    return Job(job_type, fields.pop("payload", {"n": 1}), created_at=ev.to_iso(moment), **fields)


def at_attempt(job: Job, attempt: int) -> Job:
    """``job`` as delivered for attempt ``attempt``."""
    return dataclasses.replace(job, attempts=attempt)


def event(job: Job, kind: EventKind, moment: datetime, worker: str = "w1", **data: Any) -> JobEvent:
    """An event of ``kind`` for ``job``'s current attempt, stamped ``moment``."""
    return ev.job_event(job, kind, worker, data, at=moment)


def attempt_events(job: Job, attempt: int, start: datetime, outcome: str) -> list[JobEvent]:
    """One attempt's events: running, two progress reports, then ``outcome``.

    ``outcome`` is ``succeeded``, ``retrying`` (a failure with a retry scheduled) or ``dead``
    (the last failure).
    """
    run = at_attempt(job, attempt)
    moments = [start + timedelta(milliseconds=10 * step) for step in range(6)]
    history = [
        event(run, EventKind.RUNNING, moments[0]),
        event(run, EventKind.PROGRESS, moments[1], fraction=0.25, message="a quarter"),
        event(run, EventKind.PROGRESS, moments[2], fraction=0.5, message=f"half of {attempt}"),
    ]
    if outcome == "succeeded":
        history.append(event(run, EventKind.SUCCEEDED, moments[3], result={"attempt": attempt}))
        return history
    history.append(event(run, EventKind.FAILED_ATTEMPT, moments[3], error=f"boom {attempt}"))
    if outcome == "retrying":
        later = ev.to_iso(moments[5] + timedelta(seconds=2**attempt))
        history.append(event(run, EventKind.RETRYING, moments[4], next_attempt_at=later))
    else:
        history.append(event(run, EventKind.DEAD, moments[4], reason="max_attempts"))
    return history


def full_history(job: Job, failures: int, final: str, start: datetime) -> list[JobEvent]:
    """``failures`` retried attempts, then one attempt ending ``final`` (succeeded or dead)."""
    history: list[JobEvent] = []
    for attempt in range(failures):
        history += attempt_events(job, attempt, start + timedelta(seconds=attempt), "retrying")
    return history + attempt_events(job, failures, start + timedelta(seconds=failures), final)


def assert_matches_fold(
    record: JobRecord | None, history: Sequence[JobEvent], start: ev.Tracked | None = None
) -> None:
    """The record agrees with :func:`jobqueue.store.events.fold` on every tracked field."""
    expected = ev.fold(history, start)
    assert record is not None, "no record for a job with events"
    assert expected is not None
    for name in _TRACKED:
        got, want = getattr(record, name), getattr(expected, name)
        assert got == want, f"{name}: store has {got!r}, the event rules give {want!r}"


async def check_unknown_job_is_absent(factory: StoreFactory) -> None:
    """An id never recorded has no record, no history, nothing to cancel."""
    async with factory() as store:
        assert await store.get("no-such-job") is None
        assert await store.events("no-such-job") == []
        assert await store.request_cancel("no-such-job") is None
        assert await store.is_cancel_requested(["no-such-job"]) == set()


async def check_submitted_job_is_queued(factory: StoreFactory) -> None:
    """A recorded job is queued with its fields, and recording it again changes nothing."""
    async with factory() as store:
        job = make_job(payload={"to": "a@b.c", "big": 2**70}, max_attempts=3)
        await store.record_submitted([job], {job.id: "key-1"})
        await store.record_submitted([job], {job.id: "key-1"})
        record = await store.get(job.id)
        assert record is not None
        assert (record.state, record.attempts, record.type) == (JobState.QUEUED, 0, "email")
        assert record.payload == {"to": "a@b.c", "big": 2**70}
        assert (record.max_attempts, record.idempotency_key) == (3, "key-1")
        assert record.created_at == ev.parse_time(job.created_at)
        assert not record.finished
        assert not record.cancel_requested
        assert [e.kind for e in await store.events(job.id)] == [EventKind.QUEUED]


async def check_concurrent_submissions_are_all_recorded(factory: StoreFactory) -> None:
    """Many submissions recorded at once (as concurrent requests do) are each recorded once."""
    async with factory() as store:
        jobs = [make_job(payload={"n": n}) for n in range(60)]
        keys = {job.id: f"key-{n}" for n, job in enumerate(jobs)}
        await asyncio.gather(
            *(store.record_submitted([job], {job.id: keys[job.id]}) for job in jobs),
            store.record_submitted(jobs[:10]),
        )
        page = await store.list(limit=100)
        assert sorted(record.id for record in page.records) == sorted(job.id for job in jobs)
        for record in page.records:
            assert record.idempotency_key == keys[record.id]
            assert record.state is JobState.QUEUED


async def check_history_through_retries_to_success(factory: StoreFactory) -> None:
    """Two failed attempts, then success: every field follows the job's life."""
    async with factory() as store:
        job = make_job(max_attempts=3)
        await store.record_submitted([job])
        history = full_history(job, failures=2, final="succeeded", start=ev.utc_now())
        for index, item in enumerate(history):
            assert await store.apply_events([item]) == 1
            assert_matches_fold(await store.get(job.id), history[: index + 1])
        record = await store.get(job.id)
        assert record is not None
        assert (record.state, record.attempts, record.result) == (
            JobState.SUCCEEDED,
            3,
            {"attempt": 2},
        )
        assert record.error == "boom 1"
        assert record.finished_at == history[-1].at
        assert record.started_at == history[0].at
        assert record.next_attempt_at is None
        kinds = [e.kind for e in await store.events(job.id)]
        assert kinds == [EventKind.QUEUED, *(e.kind for e in history)]


async def check_history_through_retries_to_dead(factory: StoreFactory) -> None:
    """Three failed attempts end dead, with the last error; a retrying job shows its next run."""
    async with factory() as store:
        job = make_job(max_attempts=3)
        await store.record_submitted([job])
        history = full_history(job, failures=2, final="dead", start=ev.utc_now())
        await store.apply_events(history[:5])
        waiting = await store.get(job.id)
        assert waiting is not None
        assert waiting.state is JobState.RETRYING
        assert waiting.next_attempt_at == ev.parse_time(history[4].data["next_attempt_at"])
        assert await store.apply_events(history[5:]) == len(history) - 5
        record = await store.get(job.id)
        assert record is not None
        assert (record.state, record.attempts, record.error) == (JobState.DEAD, 3, "boom 2")
        assert record.finished
        assert record.result is None
        assert_matches_fold(record, history)


async def check_duplicate_events_are_ignored(factory: StoreFactory) -> None:
    """Events delivered twice (in one batch and in a later one) count and apply once."""
    async with factory() as store:
        job = make_job()
        history = full_history(job, failures=1, final="succeeded", start=ev.utc_now())
        assert await store.apply_events(history + history[:3]) == len(history)
        assert await store.apply_events(history) == 0
        assert len(await store.events(job.id)) == len(history)
        assert_matches_fold(await store.get(job.id), history)


async def check_out_of_order_events_reach_the_in_order_state(factory: StoreFactory) -> None:
    """Shuffled, duplicated and split into batches, a history leaves the in-order state."""
    rng = random.Random(6)
    async with factory() as store:
        for trial in range(12):
            job = make_job()
            final = "succeeded" if trial % 2 else "dead"
            history = full_history(job, trial % 4, final, ev.utc_now())
            delivered = history + rng.sample(history, k=len(history) // 3)
            rng.shuffle(delivered)
            while delivered:
                size = rng.randint(1, 6)
                await store.apply_events(delivered[:size])
                delivered = delivered[size:]
            assert_matches_fold(await store.get(job.id), history)
            assert len(await store.events(job.id)) == len(history)


async def check_late_events_never_move_a_job_back(factory: StoreFactory) -> None:
    """After a final state, earlier events and later ones join the history but change nothing."""
    async with factory() as store:
        job = make_job()
        history = attempt_events(job, 0, ev.utc_now(), "succeeded")
        await store.apply_events([history[-1]])
        before = await store.get(job.id)
        later = event(at_attempt(job, 1), EventKind.RUNNING, history[-1].at + timedelta(seconds=1))
        await store.apply_events([*history[:-1], later])
        after = await store.get(job.id)
        assert before is not None
        assert after is not None
        assert (after.state, after.result, after.finished_at) == (
            JobState.SUCCEEDED,
            {"attempt": 0},
            before.finished_at,
        )
        assert len(await store.events(job.id)) == len(history) + 1


async def check_events_for_an_unknown_job_create_its_record(factory: StoreFactory) -> None:
    """A job whose submission was never recorded gets a record from its events alone; recording
    the submission afterwards fills in the payload without moving its state back."""
    async with factory() as store:
        created = ev.utc_now() - timedelta(seconds=5)
        job = make_job("report", created_at=created, max_attempts=4, payload={"p": 1})
        history = attempt_events(job, 0, ev.utc_now(), "succeeded")
        await store.apply_events(history[2:])
        record = await store.get(job.id)
        assert record is not None
        assert (record.type, record.state, record.max_attempts) == (
            "report",
            JobState.SUCCEEDED,
            4,
        )
        assert record.created_at == created
        assert record.payload is None
        await store.record_submitted([job], {job.id: "late-key"})
        record = await store.get(job.id)
        assert record is not None
        assert record.state is JobState.SUCCEEDED
        assert (record.payload, record.idempotency_key) == ({"p": 1}, "late-key")


async def check_progress_shows_only_the_current_attempt(factory: StoreFactory) -> None:
    """Progress of an attempt is shown until a newer attempt starts; a late report of an old
    attempt is kept in the history but not shown."""
    async with factory() as store:
        job = make_job()
        first = attempt_events(job, 0, ev.utc_now(), "retrying")
        second = attempt_events(job, 1, ev.utc_now() + timedelta(seconds=1), "succeeded")
        await store.apply_events(first[:2])
        record = await store.get(job.id)
        assert record is not None
        assert (record.progress, record.progress_message) == (
            0.25,
            "a quarter",
        )
        await store.apply_events(first[3:] + second[:1])
        record = await store.get(job.id)
        assert record is not None
        assert record.progress is None
        assert record.attempts == 2
        await store.apply_events([first[2]])
        record = await store.get(job.id)
        assert record is not None
        assert record.progress is None
        assert_matches_fold(record, first + second[:1])


async def check_store_event_kinds_are_refused(factory: StoreFactory) -> None:
    """Only workers' kinds can be applied; the store writes queued/cancel entries itself."""
    async with factory() as store:
        job = make_job()
        for kind in (EventKind.QUEUED, EventKind.CANCEL_REQUESTED, EventKind.REQUEUED):
            try:
                await store.apply_events([event(job, kind, ev.utc_now())])
            except ValueError:
                continue
            raise AssertionError(f"a {kind.value!r} event was applied")
        assert await store.get(job.id) is None


async def check_many_events_apply_in_one_batch(factory: StoreFactory) -> None:
    """A large batch (many jobs, several events each) applies completely."""
    async with factory() as store:
        jobs = [make_job() for _ in range(300)]
        start = ev.utc_now()
        batch = [e for job in jobs for e in attempt_events(job, 0, start, "succeeded")]
        assert await store.apply_events(batch) == len(batch)
        page = await store.list(state=JobState.SUCCEEDED, limit=1000)
        assert {record.id for record in page.records} == {job.id for job in jobs}


async def _seed_listing(store: Store) -> list[Job]:
    """25 jobs a second apart, types alternating, every third one succeeded."""
    start = ev.utc_now() - timedelta(hours=1)
    jobs = [
        make_job("even" if n % 2 == 0 else "odd", created_at=start + timedelta(seconds=n))
        for n in range(25)
    ]
    await store.record_submitted(jobs)
    done = [event(job, EventKind.SUCCEEDED, ev.utc_now(), result=None) for job in jobs[::3]]
    await store.apply_events(done)
    return jobs


async def _walk(store: Store, limit: int, **filters: Any) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        page = await store.list(limit=limit, cursor=cursor, **filters)
        assert len(page.records) <= limit
        ids += [record.id for record in page.records]
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


async def check_list_filters_and_paginates_newest_first(factory: StoreFactory) -> None:
    """Cursor pages walk every matching job once, newest first, for each filter."""
    async with factory() as store:
        jobs = await _seed_listing(store)
        newest_first = [job.id for job in reversed(jobs)]
        assert await _walk(store, 7) == newest_first
        assert await _walk(store, 100) == newest_first
        odd = [job.id for job in reversed(jobs) if job.type == "odd"]
        assert await _walk(store, 4, type="odd") == odd
        done = {job.id for job in jobs[::3]}
        assert await _walk(store, 3, state=JobState.SUCCEEDED) == [
            job_id for job_id in newest_first if job_id in done
        ]
        both = await _walk(store, 2, state=JobState.QUEUED, type="even")
        assert both == [
            job.id for job in reversed(jobs) if job.type == "even" and job.id not in done
        ]
        assert await _walk(store, 5, type="none") == []


async def check_list_filters_by_submission_time_and_id_prefix(factory: StoreFactory) -> None:
    """``since`` (included), ``until`` (excluded) and an id prefix narrow the pages, with the
    other filters, and a prefix's LIKE wildcards are taken literally."""
    async with factory() as store:
        jobs = await _seed_listing(store)
        start = ev.parse_time(jobs[0].created_at)
        since, until = start + timedelta(seconds=5), start + timedelta(seconds=10)
        window = [job.id for job in reversed(jobs[5:10])]
        assert await _walk(store, 2, since=since, until=until) == window
        assert await _walk(store, 2, since=since, until=until, type="odd") == [
            job.id for job in reversed(jobs[5:10]) if job.type == "odd"
        ]
        assert await _walk(store, 50, until=start) == []
        assert await _walk(store, 3, id_prefix=jobs[7].id) == [jobs[7].id]
        prefix = jobs[7].id[:-6]
        assert await _walk(store, 3, id_prefix=prefix) == [
            job.id for job in reversed(jobs) if job.id.startswith(prefix)
        ]
        assert await _walk(store, 3, id_prefix="%") == []
        assert await _walk(store, 3, id_prefix=jobs[7].id[:-1] + "_") == []


async def check_job_ids_follow_the_listing(factory: StoreFactory) -> None:
    """``job_ids`` names the jobs a filtered listing shows, in its order, up to its limit."""
    async with factory() as store:
        jobs = await _seed_listing(store)
        odd = [job.id for job in reversed(jobs) if job.type == "odd"]
        assert await store.job_ids(JobFilter(type="odd"), 5) == odd[:5]
        assert await store.job_ids(JobFilter(type="odd"), 1000) == odd
        done = JobFilter(state=JobState.SUCCEEDED, type="even")
        listed = await _walk(store, 3, state=done.state, type="even")
        assert await store.job_ids(done, 100) == listed
        assert await store.job_ids(JobFilter(), 0) == []


async def check_bulk_cancel_cancels_waiting_and_flags_running(factory: StoreFactory) -> None:
    """``request_cancels`` cancels the waiting, asks the running to stop, leaves the rest, and
    answers only the jobs it changed."""
    async with factory() as store:
        waiting, running, done = make_job(), make_job(), make_job()
        await store.record_submitted([waiting, running, done])
        await store.apply_events([event(running, EventKind.RUNNING, ev.utc_now())])
        await store.apply_events(attempt_events(done, 0, ev.utc_now(), "succeeded"))
        changed = await store.request_cancels([waiting.id, running.id, done.id, "unknown"])
        assert {(record.id, record.state) for record in changed} == {
            (waiting.id, JobState.CANCELLED),
            (running.id, JobState.RUNNING),
        }
        assert await store.is_cancel_requested([waiting.id, running.id, done.id]) == {
            waiting.id,
            running.id,
        }
        assert await store.request_cancels([waiting.id, running.id, done.id]) == []


async def check_delete_finished_leaves_waiting_and_running_jobs(factory: StoreFactory) -> None:
    """``delete_finished`` deletes finished jobs with their history, never a waiting or running
    one, and the job counts keep what they counted."""
    async with factory() as store:
        succeeded, dead, cancelled, waiting, running = (make_job() for _ in range(5))
        await store.record_submitted([cancelled, waiting, running])
        await store.request_cancel(cancelled.id)
        await store.apply_events([event(running, EventKind.RUNNING, ev.utc_now())])
        await store.apply_events(attempt_events(succeeded, 0, ev.utc_now(), "succeeded"))
        await store.apply_events(attempt_events(dead, 0, ev.utc_now(), "dead"))
        totals = await store.job_totals()
        ids = [job.id for job in (succeeded, dead, cancelled, waiting, running)]
        assert await store.delete_finished([*ids, "unknown"]) == 3
        for gone in (succeeded, dead, cancelled):
            assert await store.get(gone.id) is None
            assert await store.events(gone.id) == []
        assert {r.id for r in (await store.list()).records} == {waiting.id, running.id}
        assert await store.delete_finished(ids) == 0
        assert await store.job_totals() == totals


async def check_pagination_is_stable_under_inserts(factory: StoreFactory) -> None:
    """Jobs added between two pages neither repeat nor hide older jobs on the next page."""
    async with factory() as store:
        jobs = await _seed_listing(store)
        first = await store.list(limit=10)
        await store.record_submitted([make_job(created_at=ev.utc_now()) for _ in range(5)])
        rest = await _walk_from(store, first.next_cursor)
        ids = [record.id for record in first.records] + rest
        assert ids == [job.id for job in reversed(jobs)]


async def _walk_from(store: Store, cursor: str | None) -> list[str]:
    ids: list[str] = []
    while cursor is not None:
        page = await store.list(limit=10, cursor=cursor)
        ids += [record.id for record in page.records]
        cursor = page.next_cursor
    return ids


async def check_a_foreign_cursor_is_refused(factory: StoreFactory) -> None:
    """A cursor the store did not make raises InvalidCursor."""
    async with factory() as store:
        for cursor in ("not-a-cursor", "W10", "WyJ4IiwgMV0"):
            try:
                await store.list(cursor=cursor)
            except InvalidCursor:
                continue
            raise AssertionError(f"cursor {cursor!r} was accepted")


async def check_cancel_before_run(factory: StoreFactory) -> None:
    """A queued job is cancelled at once; the worker that receives it later cannot revive it."""
    async with factory() as store:
        job = make_job()
        await store.record_submitted([job])
        record = await store.request_cancel(job.id)
        assert record is not None
        assert record.state is JobState.CANCELLED
        assert record.cancel_requested
        assert record.finished_at is not None
        assert await store.is_cancel_requested([job.id, "other"]) == {job.id}
        late = attempt_events(job, 0, ev.utc_now(), "succeeded")
        await store.apply_events([event(job, EventKind.CANCELLED, ev.utc_now()), *late])
        after = await store.get(job.id)
        assert after is not None
        assert after.state is JobState.CANCELLED
        assert after.result is None
        kinds = [e.kind for e in await store.events(job.id)]
        assert kinds[:2] == [EventKind.QUEUED, EventKind.CANCELLED]


async def check_cancel_during_run(factory: StoreFactory) -> None:
    """A running job is asked to stop; it ends cancelled when its worker says so."""
    async with factory() as store:
        job = make_job()
        await store.record_submitted([job])
        await store.apply_events([event(job, EventKind.RUNNING, ev.utc_now())])
        assert await store.is_cancel_requested([job.id]) == set()
        record = await store.request_cancel(job.id)
        assert record is not None
        assert record.state is JobState.RUNNING
        assert record.cancel_requested
        assert await store.request_cancel(job.id) == record
        assert await store.is_cancel_requested([job.id]) == {job.id}
        stopped = event(job, EventKind.CANCELLED, ev.utc_now(), reason="requested")
        await store.apply_events([stopped])
        record = await store.get(job.id)
        assert record is not None
        assert record.state is JobState.CANCELLED
        assert record.finished
        kinds = [e.kind for e in await store.events(job.id)]
        assert kinds == [
            EventKind.QUEUED,
            EventKind.RUNNING,
            EventKind.CANCEL_REQUESTED,
            EventKind.CANCELLED,
        ]


async def check_cancel_leaves_a_finished_job(factory: StoreFactory) -> None:
    """Cancelling a job that already finished changes nothing."""
    async with factory() as store:
        job = make_job()
        await store.apply_events(attempt_events(job, 0, ev.utc_now(), "succeeded"))
        before = await store.get(job.id)
        assert await store.request_cancel(job.id) == before
        assert await store.is_cancel_requested([job.id]) == set()


async def check_cancel_requests_are_read_in_bulk(factory: StoreFactory) -> None:
    """``is_cancel_requested`` answers for many ids at once."""
    async with factory() as store:
        jobs = [make_job() for _ in range(1200)]
        await store.record_submitted(jobs)
        for job in jobs[::100]:
            await store.request_cancel(job.id)
        ids = [job.id for job in jobs] + ["unknown"]
        assert await store.is_cancel_requested(ids) == {job.id for job in jobs[::100]}


async def check_purge_removes_only_old_finished_jobs(factory: StoreFactory) -> None:
    """Retention deletes jobs finished before the period, with their history, nothing else."""
    async with factory() as store:
        old_start = ev.utc_now() - timedelta(days=8)
        old_done, old_running, recent = make_job(), make_job(), make_job()
        await store.apply_events(attempt_events(old_done, 0, old_start, "succeeded"))
        await store.apply_events(attempt_events(old_running, 0, old_start, "succeeded")[:2])
        await store.apply_events(attempt_events(recent, 0, ev.utc_now(), "dead"))
        assert await store.purge_finished(7 * DAY_S) == 1
        assert await store.get(old_done.id) is None
        assert await store.events(old_done.id) == []
        assert await store.get(old_running.id) is not None
        assert await store.get(recent.id) is not None
        assert await store.events(recent.id) != []
        assert await store.purge_finished(7 * DAY_S) == 0


async def check_purge_handles_more_jobs_than_one_transaction_takes(factory: StoreFactory) -> None:
    """A large backlog of old finished jobs is purged completely (in several transactions)."""
    async with factory() as store:
        old = ev.utc_now() - timedelta(days=8)
        jobs = [make_job(created_at=old) for _ in range(1100)]
        await store.apply_events([event(job, EventKind.DEAD, old, reason="x") for job in jobs])
        assert await store.purge_finished(7 * DAY_S) == len(jobs)
        assert (await store.list()).records == []


async def check_purge_expires_idempotency_keys(factory: StoreFactory) -> None:
    """Keys older than the retention period are forgotten: the key is new again."""
    async with factory() as store:
        await store.reserve_idempotency_key("k", "hash", "job-1")
        await store.confirm_idempotency_key("k")
        await store.purge_finished(0)
        outcome = await store.reserve_idempotency_key("k", "other-hash", "job-2")
        assert (outcome.status, outcome.job_id) == (Reservation.NEW, "job-2")


async def check_idempotency_key_cases(factory: StoreFactory) -> None:
    """New, in flight, existing (with the original job), conflict, and released."""
    async with factory() as store:
        job = make_job()
        new = await store.reserve_idempotency_key("key", "h1", job.id)
        assert (new.status, new.job_id) == (Reservation.NEW, job.id)
        in_flight = await store.reserve_idempotency_key("key", "h1", "second")
        assert (in_flight.status, in_flight.job_id) == (Reservation.IN_FLIGHT, job.id)
        conflict = await store.reserve_idempotency_key("key", "h2", "third")
        assert (conflict.status, conflict.job_id) == (Reservation.CONFLICT, job.id)
        await store.record_submitted([job], {job.id: "key"})
        await store.confirm_idempotency_key("key", job.id)
        existing = await store.reserve_idempotency_key("key", "h1", "fourth")
        assert (existing.status, existing.job_id) == (Reservation.EXISTING, job.id)
        assert existing.record is not None
        assert existing.record.id == job.id
        await store.release_idempotency_key("key")
        again = await store.reserve_idempotency_key("key", "h1", "fifth")
        assert again.status is Reservation.EXISTING, "a confirmed key was released"
        await store.reserve_idempotency_key("other", "h1", "sixth")
        await store.release_idempotency_key("other", "not-sixth")
        kept = await store.reserve_idempotency_key("other", "h1", "seventh")
        assert kept.status is Reservation.IN_FLIGHT
        await store.release_idempotency_key("other", "sixth")
        free = await store.reserve_idempotency_key("other", "h1", "eighth")
        assert (free.status, free.job_id) == (Reservation.NEW, "eighth")


async def check_concurrent_reservations_have_one_winner(factory: StoreFactory) -> None:
    """Of several submissions racing with one key, exactly one gets NEW."""
    async with factory() as store:
        for round_ in range(3):
            key = f"race-{round_}"
            outcomes = await asyncio.gather(
                *(store.reserve_idempotency_key(key, "h", f"job-{n}") for n in range(8))
            )
            statuses = sorted(outcome.status.value for outcome in outcomes)
            assert statuses == ["in_flight"] * 7 + ["new"], statuses
            winner = next(o.job_id for o in outcomes if o.status is Reservation.NEW)
            assert {o.job_id for o in outcomes} == {winner}


async def check_an_abandoned_reservation_is_taken_over(factory: StoreFactory) -> None:
    """A reservation never confirmed is taken over after the in-flight timeout, unless its
    job was recorded after all (then that job is the answer)."""
    async with factory() as store:
        await store.reserve_idempotency_key("lost", "h", "crashed-before-publish")
        taken = await store.reserve_idempotency_key("lost", "h", "retry", in_flight_timeout_s=0)
        assert (taken.status, taken.job_id) == (Reservation.NEW, "retry")
        job = make_job()
        await store.reserve_idempotency_key("kept", "h", job.id)
        await store.record_submitted([job], {job.id: "kept"})
        found = await store.reserve_idempotency_key("kept", "h", "retry", in_flight_timeout_s=0)
        assert (found.status, found.job_id) == (Reservation.EXISTING, job.id)
        again = await store.reserve_idempotency_key("kept", "h", "retry-2")
        assert again.status is Reservation.EXISTING


async def check_requeue_restarts_a_dead_job(factory: StoreFactory) -> None:
    """A dead job replayed is queued again with attempts reset, and can then succeed."""
    async with factory() as store:
        job = make_job(max_attempts=1)
        await store.record_submitted([job], {job.id: "replayed-key"})
        # The failed attempt ended a second ago: its events (spread over 40 ms) all come before
        # the requeue, which is stamped with the current time.
        failed_at = ev.utc_now() - timedelta(seconds=1)
        await store.apply_events(attempt_events(job, 0, failed_at, "dead"))
        await store.record_requeued([job.fresh()])
        record = await store.get(job.id)
        assert record is not None
        assert (record.state, record.attempts, record.error, record.finished_at) == (
            JobState.QUEUED,
            0,
            None,
            None,
        )
        assert record.idempotency_key == "replayed-key"
        await store.apply_events(attempt_events(job, 0, ev.utc_now(), "succeeded"))
        record = await store.get(job.id)
        assert record is not None
        assert record.state is JobState.SUCCEEDED
        kinds = [e.kind for e in await store.events(job.id)]
        assert EventKind.REQUEUED in kinds
        assert kinds[-1] is EventKind.SUCCEEDED


async def check_upgrade_twice_is_a_no_op(factory: StoreFactory) -> None:
    """Upgrading an up-to-date store keeps its data and its revision."""
    async with factory() as store:
        version = await store.schema_version()
        assert version is not None
        job = make_job()
        await store.record_submitted([job])
        await store.upgrade()
        await store.upgrade()
        assert await store.schema_version() == version
        assert await store.get(job.id) is not None
        assert await store.is_ready()


def make_token(name: str, token_id: str, *scopes: str) -> TokenRecord:
    """A token record as ``jobqueue token create`` makes it (hash fields are opaque bytes)."""
    return TokenRecord(
        name,
        token_id,
        b"salt-" + token_id.encode(),
        b"digest-" + name.encode(),
        frozenset(scopes),
        ev.utc_now(),
    )


async def check_tokens_are_kept_listed_and_revoked(factory: StoreFactory) -> None:
    """A token is kept with its scopes and hash, listed by name, revoked once, never reused."""
    async with factory() as store:
        await store.add_token(make_token("zeta", "000000000002", "read"))
        await store.add_token(make_token("alpha", "000000000001", "submit", "read"))
        listed = await store.tokens()
        assert [token.name for token in listed] == ["alpha", "zeta"]
        assert listed[0].scopes == frozenset({"submit", "read"})
        assert listed[0].salt == b"salt-000000000001"
        assert listed[0].digest == b"digest-alpha"
        assert all(token.active for token in listed)
        assert await store.revoke_token("alpha")
        assert not await store.revoke_token("alpha")
        assert not await store.revoke_token("nobody")
        alpha = (await store.tokens())[0]
        assert not alpha.active
        assert alpha.revoked_at is not None
        try:
            await store.add_token(make_token("alpha", "000000000003", "admin"))
        except TokenExists:
            pass
        else:
            raise AssertionError("a token name was reused")
        assert len(await store.tokens()) == 2


def make_audit(at: datetime, actor: str = "ops", action: str = "job.cancel") -> AuditEntry:
    """An audit entry at ``at``."""
    return AuditEntry(
        entry_id=f"{at.isoformat()}-{actor}",
        at=at,
        actor=actor,
        token_id="000000000001",
        action=action,
        target="job-1",
        count=1,
        client="127.0.0.1",
        status=200,
    )


async def check_audit_pages_newest_first_and_expires(factory: StoreFactory) -> None:
    """The audit log pages newest first with stable cursors, filters by actor, ignores an
    entry stored twice, and goes with the retention purge."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    entries = [
        make_audit(start + timedelta(seconds=i), actor="ops" if i % 2 else "ci") for i in range(7)
    ]
    async with factory() as store:
        await store.record_audit(entries)
        await store.record_audit(entries[:2])
        seen, cursor = [], None
        while True:
            page = await store.audit(limit=3, cursor=cursor)
            seen += [entry.entry_id for entry in page.entries]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == [entry.entry_id for entry in reversed(entries)]
        ops = await store.audit(limit=100, actor="ops")
        assert [entry.actor for entry in ops.entries] == ["ops"] * 3
        assert ops.entries[0] == entries[5]
        try:
            await store.audit(cursor="not-a-cursor")
        except InvalidCursor:
            pass
        else:
            raise AssertionError("a foreign audit cursor was accepted")
        await store.purge_finished(older_than_s=DAY_S)
        assert (await store.audit(limit=100)).entries == []


def _totals(found: Sequence[Any]) -> dict[tuple[str, str], int]:
    return {(total.type, total.outcome): total.count for total in found}


async def check_job_counts_survive_duplicates_and_purge(factory: StoreFactory) -> None:
    """Submissions and outcomes are counted once per event, under their minute, in series and
    in totals; duplicates add nothing and the purge keeps the totals."""
    async with factory() as store:
        old = ev.utc_now() - timedelta(days=9)
        done, retried, dead = make_job(), make_job("sms"), make_job("sms")
        await store.record_submitted([done, retried, dead])
        history = attempt_events(done, 0, old, "succeeded") + full_history(
            retried, 1, "succeeded", ev.utc_now()
        )
        await store.apply_events(history)
        await store.apply_events(history)
        await store.apply_events(attempt_events(dead, 0, ev.utc_now(), "dead"))
        want = {
            ("email", "submitted"): 1,
            ("email", "succeeded"): 1,
            ("sms", "submitted"): 2,
            ("sms", "failed"): 2,
            ("sms", "retried"): 1,
            ("sms", "succeeded"): 1,
            ("sms", "dead"): 1,
        }
        assert _totals(await store.job_totals()) == want
        assert {total.queue for total in await store.job_totals()} == {"jobs"}
        hour_ago = ev.utc_now() - timedelta(hours=1)
        assert all(point.at.minute == 0 for point in await store.job_counts(hour_ago, 3600))
        recent = {"submitted": 3, "failed": 2, "retried": 1, "succeeded": 1, "dead": 1}
        assert await _series_sums(store, hour_ago) == recent
        assert await _series_sums(store, old) == {**recent, "succeeded": 2}
        await store.purge_finished(7 * DAY_S)
        assert _totals(await store.job_totals()) == want
        assert await _series_sums(store, old) == recent


async def _series_sums(store: Store, since: datetime) -> dict[str, int]:
    sums: dict[str, int] = {}
    for point in await store.job_counts(since, 60):
        sums[point.outcome] = sums.get(point.outcome, 0) + point.count
    return sums


async def check_a_cancelled_waiting_job_is_counted(factory: StoreFactory) -> None:
    """Cancelling a queued job counts it as cancelled; flagging a running one does not."""
    async with factory() as store:
        waiting, running = make_job(), make_job()
        await store.record_submitted([waiting, running])
        await store.apply_events([event(running, EventKind.RUNNING, ev.utc_now())])
        await store.request_cancel(waiting.id)
        await store.request_cancel(running.id)
        assert _totals(await store.job_totals())[("email", "cancelled")] == 1


async def check_wait_and_run_times_are_bucketed(factory: StoreFactory) -> None:
    """A first start's wait and each attempt's ``run_s`` land in their buckets once, per type;
    a window leaves out older minutes; the purge keeps the all-time sums."""
    async with factory() as store:
        now = ev.utc_now()
        job = make_job("img", created_at=now - timedelta(seconds=3))
        old = make_job("img", created_at=now - timedelta(days=9, seconds=1))
        await store.record_submitted([job, old])
        history = [
            event(job, EventKind.RUNNING, now),
            event(job, EventKind.FAILED_ATTEMPT, now, error="x", run_s=0.2),
            event(at_attempt(job, 1), EventKind.RUNNING, now),
            event(at_attempt(job, 1), EventKind.SUCCEEDED, now, result=None, run_s=0.04),
            event(old, EventKind.RUNNING, now - timedelta(days=9)),
        ]
        await store.apply_events(history)
        await store.apply_events(history)
        found = {(t.measure, t.le): (t.count, round(t.sum_s, 3)) for t in await store.job_timings()}
        assert found == {
            ("wait", "5"): (1, 3.0),
            ("wait", "1"): (1, 1.0),
            ("run", "0.25"): (1, 0.2),
            ("run", "0.05"): (1, 0.04),
        }, found
        recent = await store.job_timings(since=now - timedelta(hours=1))
        assert sorted((t.measure, t.le) for t in recent) == [
            ("run", "0.05"), ("run", "0.25"), ("wait", "5"),
        ]  # fmt: skip
        await store.purge_finished(7 * DAY_S)
        assert sum(t.count for t in await store.job_timings()) == 4


async def check_depth_samples_keep_the_last_of_a_minute(factory: StoreFactory) -> None:
    """A later sample of a minute replaces the earlier; buckets show their highest sample."""
    async with factory() as store:
        minute = ev.utc_now().replace(second=0, microsecond=0) - timedelta(minutes=5)
        await store.record_depth("jobs", {"ready": 9, "dead": 1}, at=minute)
        await store.record_depth("jobs", {"ready": 4, "dead": 1}, at=minute)
        await store.record_depth("jobs", {"ready": 2}, at=minute + timedelta(minutes=1))
        await store.record_depth("other", {"ready": 50}, at=minute)
        points = await store.depth_series("jobs", minute - timedelta(minutes=1), 60)
        assert [(p.at, p.state, p.value) for p in points] == [
            (minute, "dead", 1),
            (minute, "ready", 4),
            (minute + timedelta(minutes=1), "ready", 2),
        ]
        hourly = await store.depth_series("jobs", minute - timedelta(hours=1), 3600)
        assert max(p.value for p in hourly if p.state == "ready") == 4


async def check_state_counts(factory: StoreFactory) -> None:
    """Every state is counted, those without jobs as zero."""
    async with factory() as store:
        done, waiting = make_job(), make_job()
        await store.record_submitted([done, waiting, make_job()])
        await store.apply_events(attempt_events(done, 0, ev.utc_now(), "succeeded"))
        counts = await store.state_counts()
        assert set(counts) == set(JobState)
        assert counts[JobState.QUEUED] == 2
        assert counts[JobState.SUCCEEDED] == 1
        assert counts[JobState.DEAD] == 0


CHECKS: tuple[Check, ...] = (
    check_unknown_job_is_absent,
    check_submitted_job_is_queued,
    check_concurrent_submissions_are_all_recorded,
    check_history_through_retries_to_success,
    check_history_through_retries_to_dead,
    check_duplicate_events_are_ignored,
    check_out_of_order_events_reach_the_in_order_state,
    check_late_events_never_move_a_job_back,
    check_events_for_an_unknown_job_create_its_record,
    check_progress_shows_only_the_current_attempt,
    check_store_event_kinds_are_refused,
    check_many_events_apply_in_one_batch,
    check_list_filters_and_paginates_newest_first,
    check_list_filters_by_submission_time_and_id_prefix,
    check_job_ids_follow_the_listing,
    check_pagination_is_stable_under_inserts,
    check_a_foreign_cursor_is_refused,
    check_cancel_before_run,
    check_cancel_during_run,
    check_cancel_leaves_a_finished_job,
    check_cancel_requests_are_read_in_bulk,
    check_bulk_cancel_cancels_waiting_and_flags_running,
    check_delete_finished_leaves_waiting_and_running_jobs,
    check_purge_removes_only_old_finished_jobs,
    check_purge_handles_more_jobs_than_one_transaction_takes,
    check_purge_expires_idempotency_keys,
    check_idempotency_key_cases,
    check_concurrent_reservations_have_one_winner,
    check_an_abandoned_reservation_is_taken_over,
    check_requeue_restarts_a_dead_job,
    check_upgrade_twice_is_a_no_op,
    check_tokens_are_kept_listed_and_revoked,
    check_audit_pages_newest_first_and_expires,
    check_job_counts_survive_duplicates_and_purge,
    check_a_cancelled_waiting_job_is_counted,
    check_wait_and_run_times_are_bucketed,
    check_depth_samples_keep_the_last_of_a_minute,
    check_state_counts,
    *SCHEDULE_CHECKS,
)
"""Every check, in the order a backend's tests should run them."""
