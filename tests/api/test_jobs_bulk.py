"""GET /jobs's time and id filters, and POST /jobs/bulk (retry, cancel, delete; by ids or by
filter; dry runs; the cap), over the real SQLite broker and store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from jobqueue.api.app import create_app
from jobqueue.api.tracking import Tracking
from jobqueue.brokers import Broker
from jobqueue.job import Job, JobState
from jobqueue.store import Store, default_store_url
from jobqueue.store import events as ev
from jobqueue.store.events import EventKind
from jobqueue.testing.store import attempt_events, event, make_job
from tests.api.conftest import asgi_client, make_dead, queued_jobs
from tests.store.conftest import open_store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(default_store_url(f"sqlite:///{tmp_path / 'jobqueue.db'}")) as store:
        yield store


@pytest.fixture
def tracking(store: Store) -> Tracking:
    return Tracking(store)


@pytest.fixture
def app(broker: Broker, tracking: Tracking) -> FastAPI:
    return create_app(broker, tracking=tracking)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as client:
        yield client


async def _states(store: Store) -> dict[str, Job]:
    """One job in each state of interest: queued, running, succeeded, dead, cancelled."""
    jobs = {name: make_job(name) for name in ("queued", "running", "succeeded", "dead", "gone")}
    await store.record_submitted(list(jobs.values()))
    now = ev.utc_now()
    await store.apply_events([event(jobs["running"], EventKind.RUNNING, now)])
    await store.apply_events(attempt_events(jobs["succeeded"], 0, now, "succeeded"))
    await store.apply_events(attempt_events(jobs["dead"], 0, now, "dead"))
    await store.request_cancel(jobs["gone"].id)
    return jobs


async def _state_of(store: Store, job: Job) -> JobState | None:
    record = await store.get(job.id)
    return None if record is None else record.state


async def test_jobs_are_listed_by_submission_time(client: httpx.AsyncClient, store: Store) -> None:
    start = ev.utc_now() - timedelta(hours=1)
    jobs = [make_job(created_at=start + timedelta(minutes=n)) for n in range(6)]
    await store.record_submitted(jobs)
    since, until = ev.to_iso(start + timedelta(minutes=2)), ev.to_iso(start + timedelta(minutes=4))

    window = await client.get("/jobs", params={"since": since, "until": until})
    first = await client.get("/jobs", params={"since": since, "limit": 1})
    rest = await client.get(
        "/jobs", params={"since": since, "limit": 10, "cursor": first.json()["next_cursor"]}
    )

    assert window.status_code == 200
    assert [j["id"] for j in window.json()["jobs"]] == [jobs[3].id, jobs[2].id]
    assert [j["id"] for j in first.json()["jobs"] + rest.json()["jobs"]] == [
        job.id for job in reversed(jobs[2:])
    ]


async def test_jobs_are_found_by_id_or_id_prefix(client: httpx.AsyncClient, store: Store) -> None:
    jobs = [make_job() for _ in range(3)]
    await store.record_submitted(jobs)

    exact = await client.get("/jobs", params={"id": jobs[1].id})
    prefix = await client.get("/jobs", params={"id": jobs[1].id[:8]})
    none = await client.get("/jobs", params={"id": "zzz"})

    assert [j["id"] for j in exact.json()["jobs"]] == [jobs[1].id]
    assert jobs[1].id in [j["id"] for j in prefix.json()["jobs"]]
    assert none.json() == {"jobs": [], "next_cursor": None}


@pytest.mark.parametrize(
    "params", [{"since": "2026-01-02T03:04:05"}, {"until": "yesterday"}, {"id": ""}]
)
async def test_a_bad_filter_is_a_422(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    answer = await client.get("/jobs", params=params)

    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_request"


async def test_a_dry_run_counts_and_changes_nothing(
    client: httpx.AsyncClient, store: Store
) -> None:
    jobs = await _states(store)

    answer = await client.post(
        "/jobs/bulk", json={"action": "cancel", "filter": {"state": "queued"}, "dry_run": True}
    )

    assert answer.status_code == 200
    assert answer.json() == {"matched": 1, "done": 0, "skipped": 0, "truncated": False}
    assert await _state_of(store, jobs["queued"]) is JobState.QUEUED


async def test_bulk_cancel_cancels_the_waiting_asks_the_running_and_skips_the_rest(
    client: httpx.AsyncClient, store: Store, tracking: Tracking
) -> None:
    jobs = await _states(store)
    ids = [job.id for job in jobs.values()] + ["no-such-job"]

    answer = await client.post("/jobs/bulk", json={"action": "cancel", "ids": ids})

    assert answer.json() == {"matched": 6, "done": 2, "skipped": 4, "truncated": False}
    assert await _state_of(store, jobs["queued"]) is JobState.CANCELLED
    running = await store.get(jobs["running"].id)
    assert running is not None
    assert running.cancel_requested
    assert await _state_of(store, jobs["succeeded"]) is JobState.SUCCEEDED
    recent, _ = tracking.cancels.since("")
    assert {jobs["queued"].id, jobs["running"].id} <= set(recent)


async def test_bulk_delete_removes_finished_jobs_only(
    client: httpx.AsyncClient, store: Store
) -> None:
    jobs = await _states(store)
    ids = [job.id for job in jobs.values()]

    answer = await client.post("/jobs/bulk", json={"action": "delete", "ids": ids})

    assert answer.json() == {"matched": 5, "done": 3, "skipped": 2, "truncated": False}
    assert [await _state_of(store, jobs[name]) for name in jobs] == [
        JobState.QUEUED,
        JobState.RUNNING,
        None,
        None,
        None,
    ]
    assert await store.events(jobs["dead"].id) == []


async def test_bulk_retry_replays_the_dead_and_skips_the_others(
    client: httpx.AsyncClient, broker: Broker, store: Store
) -> None:
    dead = [Job(type="email", payload={"n": n}) for n in range(2)]
    await make_dead(broker, dead)
    await store.record_submitted(dead)
    await store.apply_events(
        [e for job in dead for e in attempt_events(job, 0, ev.utc_now(), "dead")]
    )
    waiting = make_job("email")
    await store.record_submitted([waiting])

    answer = await client.post("/jobs/bulk", json={"action": "retry", "filter": {"type": "email"}})

    assert answer.json() == {"matched": 3, "done": 2, "skipped": 1, "truncated": False}
    assert {job.id for job in await queued_jobs(broker, 2)} == {job.id for job in dead}
    assert [await _state_of(store, job) for job in dead] == [JobState.QUEUED, JobState.QUEUED]


async def test_a_filter_matching_more_than_the_cap_is_truncated(
    client: httpx.AsyncClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("jobqueue.api.bulk.MAX_BULK", 3)
    jobs = [make_job(created_at=ev.utc_now() - timedelta(seconds=n)) for n in range(5)]
    await store.record_submitted(jobs)

    answer = await client.post("/jobs/bulk", json={"action": "cancel", "filter": {}})

    assert answer.json() == {"matched": 3, "done": 3, "skipped": 0, "truncated": True}
    assert [await _state_of(store, job) for job in jobs] == [JobState.CANCELLED] * 3 + [
        JobState.QUEUED
    ] * 2


@pytest.mark.parametrize(
    "body",
    [
        {"action": "cancel"},
        {"action": "cancel", "ids": ["a"], "filter": {}},
        {"action": "explode", "ids": ["a"]},
        {"action": "cancel", "ids": []},
        {"action": "cancel", "filter": {"state": "bogus"}},
        {"action": "cancel", "filter": {"since": "2026-01-02"}},
        {"action": "cancel", "filter": {"colour": "red"}},
    ],
)
async def test_a_bad_bulk_request_is_a_422(client: httpx.AsyncClient, body: object) -> None:
    answer = await client.post("/jobs/bulk", json=body)

    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_another_method_on_bulk_is_a_405_not_a_job_lookup(
    client: httpx.AsyncClient, method: str
) -> None:
    answer = await client.request(method, "/jobs/bulk")

    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"
    assert answer.json()["error"]["code"] == "method_not_allowed"
