"""The triage routes over the real SQLite broker and store: groups, group and chosen replays
(paced, in the background), replay all at a pace, group purge, and their errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from jobqueue.api.app import create_app
from jobqueue.api.tracking import Tracking
from jobqueue.brokers import Broker, Death
from jobqueue.job import Job
from jobqueue.store import Store, default_store_url
from tests.api.conftest import asgi_client, make_dead, queued_jobs
from tests.store.conftest import open_store


def _death(job: Job) -> Death:
    n = job.payload["n"]
    error = f"KeyError: 'user {n}'" if n < 3 else f"ValueError: bad address {n}"
    return Death("max_attempts", error=error, attempts=3, failed_at=f"2026-01-02T03:04:0{n}Z")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(default_store_url(f"sqlite:///{tmp_path / 'jobqueue.db'}")) as store:
        yield store


@pytest.fixture
def app(broker: Broker, store: Store) -> FastAPI:
    return create_app(broker, tracking=Tracking(store))


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as client:
        yield client


async def _seed(broker: Broker) -> list[Job]:
    """Five dead email jobs: three KeyErrors, then two ValueErrors."""
    jobs = [Job(type="email", payload={"n": n}) for n in range(5)]
    await make_dead(broker, jobs, _death)
    return jobs


async def test_groups_list_each_error_once_with_its_count_and_sample(
    client: httpx.AsyncClient, broker: Broker
) -> None:
    jobs = await _seed(broker)

    answer = await client.get("/dlq/groups")

    assert answer.status_code == 200
    body = answer.json()
    assert body["scanned"] == 5
    keys, values = body["groups"]
    assert set(keys) == {
        "fingerprint",
        "job_type",
        "error_type",
        "message",
        "count",
        "first_seen_unix",
        "last_seen_unix",
        "sample_job_id",
        "sample_error",
        "sample_traceback",
    }
    assert (keys["error_type"], keys["count"], keys["message"]) == ("KeyError", 3, "'<v>'")
    assert (values["error_type"], values["count"]) == ("ValueError", 2)
    assert values["message"] == "bad address <n>"
    assert keys["sample_job_id"] == jobs[2].id
    assert keys["last_seen_unix"] - keys["first_seen_unix"] == 2.0


async def test_the_scan_parameter_bounds_the_groups_and_is_checked(
    client: httpx.AsyncClient, broker: Broker
) -> None:
    await _seed(broker)

    two = await client.get("/dlq/groups", params={"scan": 2})
    zero = await client.get("/dlq/groups", params={"scan": 0})

    assert two.json()["scanned"] == 2
    assert [g["count"] for g in two.json()["groups"]] == [2]
    assert zero.status_code == 422
    assert zero.json()["error"]["code"] == "invalid_request"


async def test_a_group_replays_in_the_background_at_a_pace(
    client: httpx.AsyncClient, app: FastAPI, broker: Broker, store: Store
) -> None:
    jobs = await _seed(broker)
    [keys, _] = (await client.get("/dlq/groups")).json()["groups"]

    answer = await client.post(
        f"/dlq/groups/{keys['fingerprint']}/replay", params={"per_second": 40}
    )
    await app.state.replays.wait()

    assert answer.status_code == 202
    assert answer.json() == {"replaying": 3}
    assert {job.id for job in await queued_jobs(broker, 3)} == {job.id for job in jobs[:3]}
    [left] = (await client.get("/dlq/groups")).json()["groups"]
    assert left["error_type"] == "ValueError"
    record = await store.get(jobs[0].id)
    assert record is not None
    assert record.state.value == "queued"


async def test_an_unknown_or_malformed_fingerprint_is_refused(client: httpx.AsyncClient) -> None:
    unknown = await client.post("/dlq/groups/0123456789ab/replay")
    malformed = await client.post("/dlq/groups/NOT-HEX/replay")
    gone = await client.delete("/dlq/groups/0123456789ab")
    slow = await client.post("/dlq/groups/0123456789ab/replay", params={"per_second": 0})

    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    assert gone.status_code == 404
    assert malformed.status_code == 422
    assert slow.status_code == 422


async def test_a_group_is_purged_and_the_others_stay(
    client: httpx.AsyncClient, broker: Broker
) -> None:
    await _seed(broker)
    [keys, values] = (await client.get("/dlq/groups")).json()["groups"]

    answer = await client.delete(f"/dlq/groups/{values['fingerprint']}")

    assert answer.status_code == 200
    assert answer.json() == {"purged": 2}
    assert [g["fingerprint"] for g in (await client.get("/dlq/groups")).json()["groups"]] == [
        keys["fingerprint"]
    ]


async def test_chosen_ids_replay_in_the_background(
    client: httpx.AsyncClient, app: FastAPI, broker: Broker
) -> None:
    jobs = await _seed(broker)
    chosen = [jobs[1].id, jobs[4].id, jobs[1].id, "no-such-job"]

    answer = await client.post("/dlq/replay-selected", json={"ids": chosen, "per_second": 100})
    await app.state.replays.wait()

    assert answer.status_code == 202
    assert answer.json() == {"replaying": 3}
    assert {job.id for job in await queued_jobs(broker, 2)} == {jobs[1].id, jobs[4].id}
    assert len((await client.get("/dlq")).json()["dead_jobs"]) == 3


@pytest.mark.parametrize(
    "body",
    [{}, {"ids": []}, {"ids": ["x"], "per_second": -1}, {"ids": ["x"], "extra": 1}, {"ids": [""]}],
)
async def test_a_bad_selection_is_a_422(client: httpx.AsyncClient, body: object) -> None:
    answer = await client.post("/dlq/replay-selected", json=body)

    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_request"


async def test_replay_all_at_a_pace_answers_202_and_replays_everything(
    client: httpx.AsyncClient, app: FastAPI, broker: Broker
) -> None:
    jobs = await _seed(broker)

    answer = await client.post("/dlq/replay", params={"per_second": 1000})
    await app.state.replays.wait()

    assert answer.status_code == 202
    assert answer.json() == {"replaying": 5}
    assert {job.id for job in await queued_jobs(broker, 5)} == {job.id for job in jobs}


async def test_replay_all_without_a_pace_answers_as_before(
    client: httpx.AsyncClient, broker: Broker
) -> None:
    await _seed(broker)

    answer = await client.post("/dlq/replay")

    assert answer.status_code == 200
    assert answer.json() == {"replayed": 5}


async def test_the_routes_are_in_the_openapi_schema_with_their_models(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]

    assert "get" in paths["/dlq/groups"]
    assert {"post"} <= set(paths["/dlq/groups/{fingerprint}/replay"])
    assert "delete" in paths["/dlq/groups/{fingerprint}"]
    assert "post" in paths["/dlq/replay-selected"]
    replay = paths["/dlq/groups/{fingerprint}/replay"]["post"]["responses"]
    assert "ReplayingOut" in replay["202"]["content"]["application/json"]["schema"]["$ref"]
    assert "404" in replay
