"""Idempotent submission: the Idempotency-Key header, and a per-job key in a batch."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jobqueue.api.submission import body_hash
from jobqueue.brokers import Broker
from jobqueue.job import Job
from jobqueue.store import Reservation
from tests.status.conftest import BACKENDS, System

BODY = {"type": "email", "payload": {"to": "a@b.c"}}


async def _post(system: System, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return await system.client.post("/jobs", json=body, headers=headers)


async def _ready(broker: Broker) -> int:
    return (await broker.depth()).ready


@BACKENDS
async def test_the_same_key_and_body_answer_the_original_job(system: System) -> None:
    first = await _post(system, BODY, "order-1")
    again = await _post(system, {"payload": {"to": "a@b.c"}, "type": "email"}, "order-1")

    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["state"] == "queued"
    assert again.headers["Location"] == f"/jobs/{first.json()['id']}"
    assert await _ready(system.broker) == 1
    assert (await system.job(first.json()["id"]))["idempotency_key"] == "order-1"


async def test_the_same_key_with_another_body_is_refused(system: System) -> None:
    first = await _post(system, BODY, "order-2")
    other = await _post(system, {**BODY, "payload": {"to": "x@y.z"}}, "order-2")

    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert first.json()["id"] in other.json()["error"]["message"]
    assert await _ready(system.broker) == 1


async def test_a_duplicate_while_the_first_is_in_flight_is_a_conflict(system: System) -> None:
    job = Job(BODY["type"], BODY["payload"])
    outcome = await system.store.reserve_idempotency_key("order-3", body_hash(job), job.id)
    assert outcome.status is Reservation.NEW  # another request holds it, not yet published

    response = await _post(system, BODY, "order-3")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_flight"
    assert response.headers["Retry-After"] == "1"
    assert await _ready(system.broker) == 0


async def test_concurrent_duplicates_make_one_job(system: System) -> None:
    answers = await asyncio.gather(*(_post(system, BODY, "order-4") for _ in range(8)))

    accepted = [a for a in answers if a.status_code in (200, 202)]
    assert {a.status_code for a in answers} <= {200, 202, 409}
    assert [a.status_code for a in answers].count(202) == 1
    assert len({a.json()["id"] for a in accepted}) == 1
    assert await _ready(system.broker) == 1


@pytest.mark.parametrize("give_up_after_steps", [0, 1, 2, 5, 10, 50])
async def test_a_retry_after_a_timeout_never_makes_a_second_job(
    system: System, give_up_after_steps: int
) -> None:
    # The client gives up at some point of the request (a timeout), then retries until answered.
    first = asyncio.create_task(_post(system, BODY, "order-5"))
    for _ in range(give_up_after_steps):
        await asyncio.sleep(0)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)

    async with asyncio.timeout(10):
        while True:  # 409 while the abandoned request still finishes
            retried = await _post(system, BODY, "order-5")
            if retried.status_code != 409:
                break
            await asyncio.sleep(0.01)

    assert retried.status_code in (200, 202)
    assert await _ready(system.broker) == 1
    assert (await system.job(retried.json()["id"]))["idempotency_key"] == "order-5"


async def test_a_failed_publish_releases_the_key_for_the_retry(system: System) -> None:
    await system.broker.close()  # the broker is unreachable for this request
    failed = await _post(system, BODY, "order-6")
    assert failed.status_code == 503
    await system.broker.connect()

    retried = await _post(system, BODY, "order-6")

    assert retried.status_code == 202
    assert await _ready(system.broker) == 1


async def test_keys_in_a_batch_answer_the_jobs_submitted_before(system: System) -> None:
    first = await _post(system, BODY, "item-1")
    batch = {
        "jobs": [
            {**BODY, "idempotency_key": "item-1"},
            {**BODY, "idempotency_key": "item-2"},
            {"type": "email", "payload": {"n": 3}},
        ]
    }
    response = await system.client.post("/jobs/batch", json=batch)
    again = await system.client.post("/jobs/batch", json={"jobs": batch["jobs"][:2]})

    assert response.status_code == 202
    ids = [job["id"] for job in response.json()["jobs"]]
    assert ids[0] == first.json()["id"]
    assert len(set(ids)) == 3
    assert again.status_code == 200
    assert [job["id"] for job in again.json()["jobs"]] == ids[:2]
    assert await _ready(system.broker) == 3


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        ([{**BODY, "idempotency_key": "k"}, {**BODY, "idempotency_key": "k"}], "repeats"),
        ([{**BODY, "idempotency_key": ""}], "1 to 255 characters"),
        ([{**BODY, "idempotency_key": 7}], "must be a string"),
    ],
)
async def test_bad_keys_in_a_batch_are_refused(
    system: System, jobs: list[dict[str, Any]], message: str
) -> None:
    response = await system.client.post("/jobs/batch", json={"jobs": jobs})

    assert response.status_code == 422
    assert message in response.json()["error"]["message"]
    assert await _ready(system.broker) == 0
