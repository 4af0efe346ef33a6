"""The dead-letter routes over the real SQLite broker: list, show, replay, replay all, purge."""

from __future__ import annotations

import httpx

from jobqueue.brokers import Broker, Death
from jobqueue.job import Job
from tests.api.conftest import make_dead, queued_jobs


def _death(job: Job) -> Death:
    return Death(
        reason="max_attempts",
        error=f"failed {job.type}",
        traceback="Traceback (most recent call last): ...",
        attempts=3,
        worker_id="worker-1",
        failed_at="2026-01-02T03:04:05.000Z",
    )


async def test_empty_dead_letter_queue_lists_nothing(client: httpx.AsyncClient) -> None:
    response = await client.get("/dlq")

    assert response.status_code == 200
    assert response.json() == {"dead_jobs": []}


async def test_dead_jobs_are_listed_with_why_they_died(
    client: httpx.AsyncClient, broker: Broker
) -> None:
    jobs = [Job(type="email", payload={"n": 123456789012345678901234567890, "f": 0.1})]
    [dead_id] = await make_dead(broker, jobs, _death)

    response = await client.get("/dlq")

    assert response.status_code == 200
    [item] = response.json()["dead_jobs"]
    assert item == {
        "id": dead_id,
        "type": "email",
        "attempts": 3,
        "reason": "max_attempts",
        "error": "failed email",
        "failed_at": "2026-01-02T03:04:05.000Z",
        "worker_id": "worker-1",
        "payload": {"n": 123456789012345678901234567890, "f": 0.1},
    }
    assert '"n":123456789012345678901234567890' in response.text


async def test_list_limit_is_honoured_and_checked(
    client: httpx.AsyncClient, broker: Broker
) -> None:
    await make_dead(broker, [Job(type="t", payload=i) for i in range(3)], _death)

    two = await client.get("/dlq", params={"limit": 2})
    zero = await client.get("/dlq", params={"limit": 0})

    assert len(two.json()["dead_jobs"]) == 2
    assert zero.status_code == 422
    assert "limit" in zero.json()["error"]["message"]


async def test_one_dead_job_is_shown_with_its_traceback(
    client: httpx.AsyncClient, broker: Broker
) -> None:
    job = Job(type="resize", payload={"w": 1})
    [dead_id] = await make_dead(broker, [job], _death)

    response = await client.get(f"/dlq/{dead_id}")

    assert response.status_code == 200
    detail = response.json()
    assert detail["traceback"] == "Traceback (most recent call last): ..."
    assert detail["job"]["id"] == job.id
    assert detail["job"]["payload"] == {"w": 1}


async def test_unknown_dead_job_is_404(client: httpx.AsyncClient) -> None:
    shown = await client.get("/dlq/no-such-id")
    replayed = await client.post("/dlq/no-such-id/replay")

    for response in (shown, replayed):
        assert response.status_code == 404
        assert "no-such-id" in response.json()["error"]["message"]


async def test_replayed_job_is_queued_again_with_attempts_reset(
    client: httpx.AsyncClient, broker: Broker
) -> None:
    job = Job(type="email", payload={"to": "a@b.c"}, attempts=2)
    [dead_id] = await make_dead(broker, [job], _death)

    response = await client.post(f"/dlq/{dead_id}/replay")

    assert response.status_code == 202
    assert response.json()["attempts"] == 0
    assert (await client.get("/dlq")).json() == {"dead_jobs": []}
    [queued] = await queued_jobs(broker, 1)
    assert (queued.id, queued.payload, queued.attempts) == (job.id, job.payload, 0)


async def test_undecodable_dead_message_is_shown_and_replay_is_409(
    client: httpx.AsyncClient, broker: Broker
) -> None:
    not_a_job = Job(type="", payload="garbage")  # encodes to a body that does not decode
    [dead_id] = await make_dead(
        broker, [not_a_job], lambda _job: Death(reason="undecodable", error="no type")
    )

    listed = await client.get("/dlq")
    replayed = await client.post(f"/dlq/{dead_id}/replay")

    [item] = listed.json()["dead_jobs"]
    assert (item["type"], item["payload"], item["reason"]) == (None, None, "undecodable")
    assert '"payload":"garbage"' in item["body"]
    assert replayed.status_code == 409
    assert replayed.json()["error"]["code"] == "undecodable"
    assert len((await client.get("/dlq")).json()["dead_jobs"]) == 1


async def test_replay_all_queues_every_dead_job(client: httpx.AsyncClient, broker: Broker) -> None:
    jobs = [Job(type="t", payload=i) for i in range(3)]
    await make_dead(broker, jobs, _death)

    response = await client.post("/dlq/replay")

    assert response.status_code == 200
    assert response.json() == {"replayed": 3}
    queued = await queued_jobs(broker, 3)
    assert sorted(job.payload for job in queued) == [0, 1, 2]


async def test_purge_deletes_every_dead_job(client: httpx.AsyncClient, broker: Broker) -> None:
    await make_dead(broker, [Job(type="t", payload=i) for i in range(4)], _death)

    response = await client.delete("/dlq")

    assert response.json() == {"purged": 4}
    assert (await client.get("/dlq")).json() == {"dead_jobs": []}
    assert (await broker.depth()).dead == 0
