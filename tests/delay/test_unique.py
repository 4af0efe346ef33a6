"""Unique jobs through the API: a key held for seconds, while queued or while running answers
the holder (200); checked fields; with Idempotency-Key; racing replicas on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path

import pytest

from jobqueue.store import events as ev
from jobqueue.store.events import EventKind, JobEvent
from tests.delay.conftest import Api, running_api
from tests.services import POSTGRES_URL
from tests.store.conftest import drop_schema


def _event(job_id: str, kind: EventKind) -> JobEvent:
    return JobEvent(
        event_id=ev.new_event_id(),
        job_id=job_id,
        kind=kind,
        attempt=0,
        at=ev.utc_now(),
        job_type="sync",
        worker_id="w1",
    )


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"unique_key": "k"}, "unique_key: give one of unique_for_s"),
        ({"unique_key": "k", "unique_for_s": 5, "unique_while": "queued"}, "unique_key: give one"),
        ({"unique_for_s": 5}, "unique_key: is required"),
        ({"unique_key": "", "unique_for_s": 5}, "unique_key: must be a string of 1 to 255"),
        ({"unique_key": "k" * 256, "unique_for_s": 5}, "unique_key: must be a string of 1 to 255"),
        ({"unique_key": "a\nb", "unique_for_s": 5}, "unique_key: control character '\\n'"),
        ({"unique_key": "k", "unique_for_s": 0}, "unique_for_s: must be more than 0"),
        ({"unique_key": "k", "unique_while": "done"}, "unique_while: must be 'queued' or"),
    ],
)
async def test_bad_unique_fields_are_refused_naming_the_field(
    idle_api: Api, fields: dict[str, object], named: str
) -> None:
    answer = await idle_api.post({"type": "sync", **fields})
    assert answer.status_code == 422, answer.text
    assert named in answer.json()["error"]["message"]
    batch = await idle_api.post({"jobs": [{"type": "sync", **fields}]}, "/jobs/batch")
    assert f"jobs[0].{named}" in batch.json()["error"]["message"]


async def test_a_key_held_for_seconds_answers_the_holder(idle_api: Api) -> None:
    body = {"type": "sync", "payload": {"n": 1}, "unique_key": "acct-1", "unique_for_s": 3600}
    first = await idle_api.post(body)
    again = await idle_api.post({**body, "payload": {"n": 2}})
    other = await idle_api.post({**body, "unique_key": "acct-2"})
    assert (first.status_code, again.status_code, other.status_code) == (202, 200, 202)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["payload"] == {"n": 1}
    assert again.headers["location"] == f"/jobs/{first.json()['id']}"
    assert (await idle_api.broker.depth()).ready == 2


async def test_a_key_held_while_queued_is_free_once_the_job_starts(idle_api: Api) -> None:
    body = {"type": "sync", "unique_key": "k", "unique_while": "queued"}
    first = (await idle_api.post(body)).json()["id"]
    held = await idle_api.post(body)
    assert (held.status_code, held.json()["id"]) == (200, first)
    await idle_api.store.apply_events([_event(first, EventKind.RUNNING)])
    freed = await idle_api.post(body)
    assert freed.status_code == 202
    assert freed.json()["id"] != first


async def test_a_key_held_while_running_is_free_once_the_job_ends(idle_api: Api) -> None:
    body = {"type": "sync", "unique_key": "k", "unique_while": "running", "delay_s": 3600}
    first = (await idle_api.post(body)).json()["id"]
    assert (await idle_api.post(body)).json()["id"] == first  # scheduled: held
    await idle_api.store.apply_events([_event(first, EventKind.RUNNING)])
    assert (await idle_api.post(body)).status_code == 200  # running: held
    await idle_api.store.apply_events([_event(first, EventKind.SUCCEEDED)])
    freed = await idle_api.post(body)
    assert freed.status_code == 202
    assert freed.json()["id"] != first


async def test_a_batch_repeating_a_key_makes_one_job(idle_api: Api) -> None:
    job = {"type": "sync", "unique_key": "k", "unique_for_s": 60}
    answer = await idle_api.post({"jobs": [job, job, {"type": "other"}]}, "/jobs/batch")
    assert answer.status_code == 202, answer.text
    ids = [item["id"] for item in answer.json()["jobs"]]
    assert ids[0] == ids[1] != ids[2]
    assert (await idle_api.broker.depth()).ready == 2
    repeat = await idle_api.post({"jobs": [job]}, "/jobs/batch")
    assert repeat.status_code == 200
    assert repeat.json()["jobs"][0]["id"] == ids[0]


async def test_idempotency_key_and_unique_key_work_together(idle_api: Api) -> None:
    body = {"type": "sync", "unique_key": "k", "unique_for_s": 60}
    first = await idle_api.post(body, **{"Idempotency-Key": "req-1"})
    retried = await idle_api.post(body, **{"Idempotency-Key": "req-1"})
    other_request = await idle_api.post(body, **{"Idempotency-Key": "req-2"})
    assert (first.status_code, retried.status_code, other_request.status_code) == (202, 200, 200)
    assert first.json()["id"] == retried.json()["id"] == other_request.json()["id"]
    changed = await idle_api.post({**body, "payload": {"x": 1}}, **{"Idempotency-Key": "req-1"})
    assert changed.status_code == 422  # the Idempotency-Key still compares bodies
    assert (await idle_api.broker.depth()).ready == 1


@pytest.mark.postgres
async def test_replicas_racing_on_one_key_create_one_job(tmp_path: Path) -> None:
    schema = f"test_{uuid.uuid4().hex[:12]}"
    broker_url, store_url = f"sqlite:///{tmp_path / 'jobs.db'}", f"{POSTGRES_URL}?schema={schema}"
    body = {"type": "sync", "unique_key": "nightly", "unique_while": "running"}
    try:
        async with contextlib.AsyncExitStack() as stack:
            replicas = [
                await stack.enter_async_context(running_api(broker_url, "jobs", store_url, False))
                for _ in range(3)
            ]
            answers = await asyncio.gather(*(replicas[n % 3].post(body) for n in range(12)))
            assert sorted(answer.status_code for answer in answers) == [200] * 11 + [202]
            assert len({answer.json()["id"] for answer in answers}) == 1
            assert (await replicas[0].broker.depth()).ready == 1
    finally:
        await drop_schema(schema)
