"""Delayed jobs through the API: checked fields, scheduled until due, then published once;
cancelled before; refused while the store is down; a time past runs now."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from jobqueue.job import Job
from jobqueue.store.events import parse_time, utc_now
from tests.api.conftest import take_deliveries
from tests.delay.conftest import BACKENDS, Api

DELIVERY_WAIT_S = 15.0
NO_OFFSET = "run_at: needs a date, a time and an offset"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (
            {"type": "t", "run_at": "2030-01-01T00:00:00"},
            "run_at: needs a date, a time and an offset",
        ),
        ({"type": "t", "run_at": "2030-01-01"}, "run_at: needs a date, a time and an offset"),
        ({"type": "t", "run_at": "soon"}, "run_at: 'soon' is not an RFC 3339 time"),
        ({"type": "t", "run_at": 5}, "run_at: must be an RFC 3339 time string"),
        ({"type": "t", "delay_s": -1}, "delay_s: must be a number of seconds, 0 or more"),
        ({"type": "t", "delay_s": "5"}, "delay_s: must be a number of seconds, 0 or more"),
        ({"type": "t", "delay_s": True}, "delay_s: must be a number of seconds, 0 or more"),
        (
            {"type": "t", "delay_s": 1, "run_at": "2030-01-01T00:00:00Z"},
            "run_at: give run_at or delay_s, not both",
        ),
        ({"type": "t", "delay_s": 120}, "delay_s: is further ahead than the 60 s horizon"),
        (
            {"type": "t", "run_at": "2999-01-01T00:00:00+01:00"},
            "run_at: is further ahead than the 60 s horizon (JOBQUEUE_MAX_DELAY_S)",
        ),
    ],
)
async def test_bad_delays_are_refused_naming_the_field(
    idle_api: Api, monkeypatch: pytest.MonkeyPatch, body: dict[str, object], named: str
) -> None:
    monkeypatch.setenv("JOBQUEUE_MAX_DELAY_S", "60")
    answer = await idle_api.post(body)
    assert answer.status_code == 422, answer.text
    assert named in answer.json()["error"]["message"]
    batch = await idle_api.post({"jobs": [{"type": "t"}, body]}, "/jobs/batch")
    assert batch.status_code == 422
    assert f"jobs[1].{named}" in batch.json()["error"]["message"]
    assert (await idle_api.broker.depth()).ready == 0


@BACKENDS
async def test_a_delayed_job_is_scheduled_then_published_once_due(api: Api) -> None:
    answer = await api.post({"type": "report", "payload": {"n": 1}, "delay_s": 1})
    assert answer.status_code == 202, answer.text
    job_id, run_at = answer.json()["id"], parse_time(answer.json()["run_at"])
    assert run_at - parse_time(answer.json()["created_at"]) >= timedelta(seconds=1)
    assert await api.state(job_id) == "scheduled"
    shown = (await api.client.get(f"/jobs/{job_id}")).json()
    assert parse_time(shown["run_at"]) == run_at
    assert (await api.broker.depth()).ready == 0
    async with asyncio.timeout(DELIVERY_WAIT_S):
        (delivery,) = await take_deliveries(api.broker, 1)
    assert utc_now() >= run_at  # never early
    job = Job.decode(delivery.body)
    assert (job.id, job.payload, job.run_at) == (job_id, {"n": 1}, answer.json()["run_at"])
    await api.broker.ack(delivery)
    assert await api.settled_state(job_id) == "queued"  # marked once the promotion committed
    assert (await api.broker.depth()).ready == 0  # published once


async def test_a_run_at_in_the_past_runs_now(api: Api) -> None:
    answer = await api.post({"type": "report", "run_at": "2020-01-01T00:00:00+02:00"})
    assert answer.status_code == 202, answer.text
    assert answer.json()["run_at"] == "2019-12-31T22:00:00.000000Z"
    (delivery,) = await take_deliveries(api.broker, 1)
    assert Job.decode(delivery.body).id == answer.json()["id"]


async def test_a_cancelled_scheduled_job_is_never_published(idle_api: Api) -> None:
    answer = await idle_api.post({"type": "report", "delay_s": 0})
    job_id = answer.json()["id"]
    cancelled = await idle_api.client.delete(f"/jobs/{job_id}")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    assert await idle_api.store.promote_due(idle_api.broker.publish) == []
    assert (await idle_api.broker.depth()).ready == 0
    assert await idle_api.state(job_id) == "cancelled"


async def test_a_batch_mixes_delayed_and_immediate_jobs(idle_api: Api) -> None:
    body = {"jobs": [{"type": "now"}, {"type": "later", "delay_s": 3600}]}
    answer = await idle_api.post(body, "/jobs/batch")
    assert answer.status_code == 202, answer.text
    now_id, later_id = (job["id"] for job in answer.json()["jobs"])
    assert "run_at" not in answer.json()["jobs"][0]
    assert (await idle_api.broker.depth()).ready == 1
    assert await idle_api.state(now_id) == "queued"
    assert await idle_api.state(later_id) == "scheduled"
    listed = await idle_api.client.get("/jobs", params={"state": "scheduled"})
    assert [job["id"] for job in listed.json()["jobs"]] == [later_id]


async def test_with_the_store_down_delayed_jobs_are_refused_and_immediate_ones_taken(
    idle_api: Api,
) -> None:
    await idle_api.store.close()
    refused = await idle_api.post({"type": "report", "delay_s": 5})
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "store_unavailable"
    taken = await idle_api.post({"type": "report"})
    assert taken.status_code == 202, taken.text
    assert (await idle_api.broker.depth()).ready == 1


async def test_the_promoter_is_woken_by_an_earlier_submission(api: Api) -> None:
    far = await api.post({"type": "report", "delay_s": 3000})
    assert far.status_code == 202
    near = await api.post({"type": "report", "delay_s": 0})
    (delivery,) = await take_deliveries(api.broker, 1)
    assert Job.decode(delivery.body).id == near.json()["id"]
    assert await api.state(far.json()["id"]) == "scheduled"
