"""The client against a real API and worker: submit and wait, batches, pages, cancel, the
dead-letter queue, workers, and the API's errors as the project's exceptions."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from jobqueue import errors
from jobqueue.client import (
    AsyncClient,
    Client,
    Forbidden,
    IdempotencyKeyReused,
    InvalidRequest,
    JobFinished,
    JobSpec,
    JobState,
    NotFound,
    Unauthorized,
    WaitTimeout,
)
from tests.client.conftest import READER_SECRET
from tests.ui.conftest import Stack, wait_until

WAIT_S = 20.0


def test_a_submitted_job_is_run_by_the_worker_and_waited_for_with_its_result(
    client: Client,
) -> None:
    submitted = client.submit("echo", {"n": 2**70, "text": "héllo"}, priority=7, max_attempts=1)

    done = client.wait(submitted.id, timeout_s=WAIT_S)

    assert submitted.created
    assert submitted.priority == 7
    assert done.id == submitted.id
    assert done.state is JobState.SUCCEEDED
    assert done.finished
    assert done.result == {"n": 2**70, "text": "héllo"}
    assert done.idempotency_key == submitted.idempotency_key  # the client made one
    kinds = [event.kind for event in client.events(done.id)]
    assert kinds == ["queued", "running", "succeeded"]


def test_a_batch_is_accepted_whole_in_order_and_every_job_runs(client: Client) -> None:
    specs = [JobSpec("echo", {"i": i}) for i in range(5)]

    batch = client.submit_batch(specs)

    assert [job.payload for job in batch.jobs] == [{"i": i} for i in range(5)]
    assert len({job.id for job in batch.jobs}) == 5
    results = [client.wait(job.id, timeout_s=WAIT_S).result for job in batch.jobs]
    assert results == [{"i": i} for i in range(5)]


def test_pages_follow_their_cursors_and_the_iterator_reads_them_all(client: Client) -> None:
    job_type = f"paged-{uuid.uuid4().hex[:8]}"  # served by no worker: the jobs only wait
    batch = client.submit_batch([JobSpec(job_type, {"i": i}, delay_s=3600) for i in range(5)])
    ids = {job.id for job in batch.jobs}

    first = client.list_jobs(type=job_type, limit=2)
    second = client.list_jobs(type=job_type, limit=2, cursor=first.next_cursor)
    last = client.list_jobs(type=job_type, limit=2, cursor=second.next_cursor)

    assert batch.warning is not None
    assert job_type in batch.warning
    assert [len(page.items) for page in (first, second, last)] == [2, 2, 1]
    assert last.next_cursor is None
    listed = [job.id for page in (first, second, last) for job in page.items]
    assert set(listed) == ids
    assert [job.id for job in client.iter_jobs(type=job_type, page_size=2)] == listed
    assert all(job.state is JobState.SCHEDULED for job in first.items)
    for job_id in ids:
        client.cancel(job_id)


def test_filters_by_state_and_time_reach_the_api(client: Client) -> None:
    job_type = f"filtered-{uuid.uuid4().hex[:8]}"
    before = datetime.now(UTC) - timedelta(seconds=1)
    job = client.submit(job_type, run_at=datetime.now(UTC) + timedelta(hours=1))

    scheduled = client.list_jobs(type=job_type, state=JobState.SCHEDULED, since=before)
    later = client.list_jobs(type=job_type, since=datetime.now(UTC) + timedelta(minutes=1))

    assert [found.id for found in scheduled.items] == [job.id]
    assert job.run_at is not None
    assert job.run_at > before + timedelta(minutes=59)
    assert later.items == []
    assert client.cancel(job.id).state is JobState.CANCELLED


def test_a_waiting_job_is_cancelled_and_a_running_one_asked_to_stop(client: Client) -> None:
    waiting = client.submit("echo", {}, delay_s=600)
    running = client.submit("crawl", {"seconds": 10})
    wait_until(lambda: client.get(running.id).state is JobState.RUNNING, WAIT_S)

    cancelled = client.cancel(waiting.id)
    asked = client.cancel(running.id)

    assert cancelled.state is JobState.CANCELLED
    assert asked.cancel_requested
    assert client.wait(running.id, timeout_s=WAIT_S).state is JobState.CANCELLED
    with pytest.raises(JobFinished) as finished:
        client.cancel(waiting.id)
    assert finished.value.status == 409


def test_wait_gives_up_at_its_timeout_with_the_job_as_it_last_was(client: Client) -> None:
    job = client.submit("crawl", {"seconds": 5})

    with pytest.raises(WaitTimeout) as timed_out:
        client.wait(job.id, timeout_s=0.5)

    assert timed_out.value.job.id == job.id
    assert timed_out.value.job.state in (JobState.QUEUED, JobState.RUNNING)
    client.cancel(job.id)


def test_a_dead_job_is_listed_shown_replayed_and_purged(client: Client) -> None:
    job = client.submit("explode", {"message": f"kaboom {uuid.uuid4()}"})
    assert client.wait(job.id, timeout_s=WAIT_S).state is JobState.DEAD

    listed = [dead.id for dead in client.dead_jobs()]
    shown = client.get_dead(job.id)
    replayed = client.replay(job.id)
    again = client.wait(job.id, timeout_s=WAIT_S)
    wait_until(lambda: job.id in [dead.id for dead in client.dead_jobs()], WAIT_S)
    purged = client.purge_dead()

    assert job.id in listed
    assert shown.reason == "max_attempts"
    assert shown.traceback is not None
    assert "kaboom" in shown.traceback
    assert shown.job is not None
    assert replayed.id == job.id
    assert replayed.attempts == 0
    assert again.state is JobState.DEAD
    assert [event.kind for event in client.events(job.id)].count("running") == 2
    assert purged >= 1
    assert client.dead_jobs() == []
    with pytest.raises(NotFound):
        client.get_dead(job.id)


def test_dead_jobs_grouped_by_failure_are_replayed_and_purged_by_group(client: Client) -> None:
    tag = "".join(random.choices("ghijklmnopqrstuvwxyz", k=10))  # no hex: it is not masked
    jobs = [client.submit("explode", {"message": f"quota {n} spent by {tag}"}) for n in (3, 4)]
    for job in jobs:
        client.wait(job.id, timeout_s=WAIT_S)

    (group,) = [group for group in client.dead_groups() if tag in group.message]
    replaying = client.replay_selected([jobs[0].id])
    wait_until(lambda: [e.kind for e in client.events(jobs[0].id)].count("dead") == 2, WAIT_S)
    wait_until(lambda: jobs[0].id in [dead.id for dead in client.dead_jobs()], WAIT_S)
    purged = client.purge_group(group.fingerprint)

    assert group.count == 2
    assert group.message == f"Boom: quota <n> spent by {tag}"
    assert (group.job_type, group.error_type) == ("explode", "tests.ui.handlers.Boom")
    assert replaying == 1
    assert purged == 2
    with pytest.raises(NotFound):
        client.replay_group(group.fingerprint)


def test_bulk_actions_count_cancel_and_delete_the_jobs_they_name(client: Client) -> None:
    job_type = f"bulk-{uuid.uuid4().hex[:8]}"
    batch = client.submit_batch([JobSpec(job_type, delay_s=600) for _ in range(3)])
    ids = [job.id for job in batch.jobs]

    counted = client.bulk("cancel", type=job_type, dry_run=True)
    cancelled = client.bulk("cancel", type=job_type, state=JobState.SCHEDULED)
    deleted = client.bulk("delete", ids=ids)

    assert (counted.matched, counted.done) == (3, 0)
    assert (cancelled.done, cancelled.truncated) == (3, False)
    assert deleted.done == 3
    assert client.list_jobs(type=job_type).items == []


def test_workers_are_listed_and_take_commands(client: Client) -> None:
    workers = list(client.iter_workers(page_size=1))
    worker = workers[0]

    client.command_worker(worker.worker_id, "pause")
    paused = wait_until(lambda: client.get_worker(worker.worker_id).state == "paused", WAIT_S)
    client.command_worker(worker.worker_id, "resume")
    wait_until(lambda: client.get_worker(worker.worker_id).state == "active", WAIT_S)

    assert paused
    assert {"echo", "explode", "crawl"} <= set(worker.job_types)
    assert worker.concurrency == 4
    with pytest.raises(NotFound):
        client.command_worker("no-such-worker", "drain")


def test_a_unique_key_answers_the_job_holding_it_not_a_new_one(client: Client) -> None:
    key = f"sync-{uuid.uuid4()}"
    first = client.submit("echo", {}, unique_key=key, unique_while="running", delay_s=600)
    second = client.submit("echo", {"other": 1}, unique_key=key, unique_while="running")

    assert first.created
    assert not second.created
    assert second.id == first.id
    assert second.state is JobState.SCHEDULED
    client.cancel(first.id)


def test_an_idempotency_key_given_twice_answers_its_job_or_refuses_another_body(
    client: Client,
) -> None:
    key = f"order-{uuid.uuid4()}"
    first = client.submit("echo", {"order": 1}, idempotency_key=key)
    repeat = client.submit("echo", {"order": 1}, idempotency_key=key)

    with pytest.raises(IdempotencyKeyReused) as reused:
        client.submit("echo", {"order": 2}, idempotency_key=key)

    assert repeat.id == first.id
    assert repeat.created
    assert reused.value.status == 422
    assert key in reused.value.message
    assert isinstance(reused.value, errors.IdempotencyConflict)


def test_an_unknown_job_is_not_found(client: Client) -> None:
    with pytest.raises(NotFound) as missing:
        client.get("no-such-job")

    assert missing.value.status == 404
    assert missing.value.code == "not_found"
    assert "no-such-job" in missing.value.message
    assert isinstance(missing.value, errors.NotFound)


def test_a_job_the_api_refuses_is_an_invalid_request_naming_the_field(client: Client) -> None:
    with pytest.raises(InvalidRequest) as refused:
        client.submit("echo", {}, priority=42)

    assert refused.value.status == 422
    assert refused.value.code == "invalid_job"
    assert str(refused.value) == "priority: must be an integer from 0 to 9 (higher first)"
    assert isinstance(refused.value, errors.InvalidJob)


def test_a_cursor_the_api_did_not_make_is_a_400(client: Client) -> None:
    with pytest.raises(InvalidRequest) as refused:
        client.list_jobs(cursor="not-a-cursor")

    assert refused.value.status == 400
    assert refused.value.code == "invalid_cursor"


def test_no_token_is_unauthorized_and_a_reader_may_not_submit(stack: Stack) -> None:
    with Client(stack.base, token="") as anonymous, pytest.raises(Unauthorized) as denied:
        anonymous.get("anything")
    with Client(stack.base, token=READER_SECRET) as reader:
        reader.list_jobs(limit=1)  # read is allowed
        with pytest.raises(Forbidden) as forbidden:
            reader.submit("echo", {})

    assert denied.value.status == 401
    assert isinstance(denied.value, errors.Unauthenticated)
    assert forbidden.value.status == 403
    assert "submit" in forbidden.value.message


async def test_the_async_client_submits_waits_pages_and_maps_errors(
    async_client: AsyncClient,
) -> None:
    job_type = f"async-{uuid.uuid4().hex[:8]}"
    submitted = await async_client.submit("echo", {"async": True})
    batch = await async_client.submit_batch([JobSpec(job_type, delay_s=600) for _ in range(3)])

    done = await async_client.wait(submitted.id, timeout_s=WAIT_S)
    listed = [job.id async for job in async_client.iter_jobs(type=job_type, page_size=2)]
    with pytest.raises(NotFound):
        await async_client.events("no-such-job")

    assert done.result == {"async": True}
    assert sorted(listed) == sorted(job.id for job in batch.jobs)
    for job in batch.jobs:
        assert (await async_client.cancel(job.id)).state is JobState.CANCELLED
