"""The retry guarantee: a submission whose answer is lost after the API accepted it is sent
again with the same idempotency key, and makes one job, not two — through a proxy that cuts
the connection, answers 503 in the API's place, or holds the answer past the timeout."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from jobqueue import codec
from jobqueue.client import NO_RETRY, Client, JobSpec, JobState, RetryPolicy, Unavailable
from tests.client.conftest import ADMIN_SECRET
from tests.client.proxy import FaultyProxy
from tests.ui.conftest import Stack

FAST = RetryPolicy(attempts=4, deadline_s=10.0, base_s=0.05, cap_s=0.2)
TIMEOUT_S = {"cut": 5.0, "503": 5.0, "stall": 0.5}


@pytest.fixture(params=["cut", "503", "stall"])
def proxy(request: pytest.FixtureRequest, stack: Stack) -> Iterator[FaultyProxy]:
    """A proxy to the stack's API spoiling its first POST's answer as the param says."""
    address = urlsplit(stack.base)
    assert address.hostname is not None
    assert address.port is not None
    proxy = FaultyProxy((address.hostname, address.port), request.param)
    yield proxy
    proxy.close()


def through(proxy: FaultyProxy, retry: RetryPolicy = FAST) -> Client:
    """A client of the API behind ``proxy``, with the fault's timeout."""
    return Client(proxy.url, token=ADMIN_SECRET, retry=retry, timeout_s=TIMEOUT_S[proxy.fault])


def jobs_with(client: Client, job_type: str) -> list[str]:
    """The ids of every job of ``job_type``."""
    return [job.id for job in client.iter_jobs(type=job_type)]


def test_a_submission_whose_answer_was_lost_is_retried_with_its_key_into_one_job(
    proxy: FaultyProxy, client: Client
) -> None:
    job_type = f"retried-{uuid.uuid4().hex[:8]}"

    with through(proxy) as flaky:
        submitted = flaky.submit(job_type, {"n": 1}, delay_s=600)

    first, second = proxy.posts()
    accepted = codec.loads(first.answer.partition(b"\r\n\r\n")[2])
    assert first.answer.startswith(b"HTTP/1.1 202")  # the API had taken the job
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert first.body == second.body
    assert submitted.id == accepted["id"]
    assert submitted.created
    assert jobs_with(client, job_type) == [submitted.id]
    if proxy.fault == "503":  # its Retry-After: 1 was honoured
        assert second.at - first.at >= 1.0
    assert client.cancel(submitted.id).state is JobState.CANCELLED


@pytest.mark.parametrize("proxy", ["cut"], indirect=True)
def test_a_batch_whose_answer_was_lost_is_retried_into_the_same_jobs(
    proxy: FaultyProxy, client: Client
) -> None:
    job_type = f"retried-batch-{uuid.uuid4().hex[:8]}"
    specs = [JobSpec(job_type, {"i": i}, delay_s=600) for i in range(3)]

    with through(proxy) as flaky:
        batch = flaky.submit_batch(specs)

    first, second = proxy.posts()
    accepted = codec.loads(first.answer.partition(b"\r\n\r\n")[2])["jobs"]
    assert first.body == second.body  # every job's key the same on the second try
    assert [job.id for job in batch.jobs] == [job["id"] for job in accepted]
    assert all(job.created for job in batch.jobs)
    assert sorted(jobs_with(client, job_type)) == sorted(job.id for job in batch.jobs)
    for job in batch.jobs:
        client.cancel(job.id)


@pytest.mark.parametrize("proxy", ["cut"], indirect=True)
def test_without_retries_the_lost_answer_is_an_error_though_the_job_exists(
    proxy: FaultyProxy, client: Client
) -> None:
    job_type = f"unretried-{uuid.uuid4().hex[:8]}"

    with through(proxy, NO_RETRY) as flaky, pytest.raises(Unavailable) as lost:
        flaky.submit(job_type, {}, delay_s=600)

    assert lost.value.status is None
    assert "cannot reach the API" in lost.value.message
    assert len(proxy.posts()) == 1
    (job_id,) = jobs_with(client, job_type)  # why a client must retry with the same key
    client.cancel(job_id)


def test_an_api_that_is_not_there_is_unavailable_after_the_bounded_retries() -> None:
    policy = RetryPolicy(attempts=3, deadline_s=5.0, base_s=0.01, cap_s=0.02)
    with Client("http://127.0.0.1:9", retry=policy) as nowhere, pytest.raises(Unavailable) as down:
        nowhere.submit("echo", {})

    assert "cannot reach the API at http://127.0.0.1:9" in str(down.value)
    assert down.value.code == "ConnectError"
