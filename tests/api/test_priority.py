"""A job's priority on submission: checked (a bad one is a 422 naming it), carried in the
broker's message, left out of bodies at the default."""

from __future__ import annotations

import httpx
import pytest

from jobqueue.brokers import Broker
from jobqueue.errors import DecodeError
from jobqueue.job import Job
from tests.api.conftest import JSON, queued_jobs


@pytest.mark.parametrize("value", [-1, 10, 2.5, "3", True, [1], {"p": 1}])
async def test_a_bad_priority_is_a_422_naming_it(client: httpx.AsyncClient, value: object) -> None:
    response = await client.post("/jobs", json={"type": "email", "priority": value})
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert message.startswith("priority: must be an integer from 0 to 9")


async def test_a_bad_priority_in_a_batch_names_its_job(client: httpx.AsyncClient) -> None:
    jobs = [{"type": "email", "priority": 9}, {"type": "email", "priority": 12}]
    response = await client.post("/jobs/batch", json={"jobs": jobs})
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("jobs[1].priority: must be an integer")


async def test_priorities_are_answered_and_travel_in_the_message(
    client: httpx.AsyncClient, broker: Broker
) -> None:
    single = await client.post("/jobs", json={"type": "email", "priority": 7})
    batch = await client.post(
        "/jobs/batch", json={"jobs": [{"type": "sms", "priority": 3}, {"type": "sms"}]}
    )
    default = await client.post(
        "/jobs", content=b'{"type": "push", "priority": null}', headers=JSON
    )
    assert single.status_code == batch.status_code == default.status_code == 202
    assert single.json()["priority"] == 7
    assert [job.get("priority") for job in batch.json()["jobs"]] == [3, None]
    assert "priority" not in default.json()  # the default's bodies stay as they were
    queued = {job.id: job for job in await queued_jobs(broker, 4)}
    assert queued[single.json()["id"]].priority == 7
    assert [queued[job["id"]].priority for job in batch.json()["jobs"]] == [3, 0]
    assert queued[default.json()["id"]].priority == 0


def test_a_message_with_a_priority_out_of_range_does_not_decode() -> None:
    body = b'{"id": "x", "type": "email", "payload": {}, "attempts": 0, "priority": 10}'
    with pytest.raises(DecodeError, match="priority"):
        Job.decode(body)
    assert Job.decode(body.replace(b"10", b"9")).priority == 9
