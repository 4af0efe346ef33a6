"""GET /jobs/{id}?wait= long-polls, listings page by page, and the retention purge."""

from __future__ import annotations

import asyncio

from jobqueue.api.retention import purging
from jobqueue.handlers import Handlers
from tests.status.conftest import System
from tests.worker.conftest import eventually


def noop_handlers() -> Handlers:
    handlers = Handlers()
    handlers.add("email", lambda payload: {"sent": True})
    handlers.add("fail", lambda payload: 1 / 0, max_attempts=1)
    return handlers


async def test_a_long_poll_answers_once_the_job_finishes(system: System) -> None:
    job_id = await system.submit("email")
    waiting = asyncio.create_task(system.client.get(f"/jobs/{job_id}", params={"wait": 30}))
    await system.burst(noop_handlers())

    answer = await asyncio.wait_for(waiting, 30)

    assert answer.status_code == 200
    assert answer.json()["state"] == "succeeded"
    assert answer.json()["result"] == {"sent": True}


async def test_a_long_poll_answers_the_state_at_the_end_of_its_wait(system: System) -> None:
    job_id = await system.submit("email")

    answer = await system.client.get(f"/jobs/{job_id}", params={"wait": 0.1})

    assert answer.status_code == 200
    assert answer.json()["state"] == "queued"


async def test_an_id_never_accepted_is_not_found_at_once(system: System) -> None:
    plain = await system.client.get("/jobs/never-submitted")
    waited = await system.client.get("/jobs/never-submitted", params={"wait": 30})
    history = await system.client.get("/jobs/never-submitted/events")

    assert [plain.status_code, waited.status_code, history.status_code] == [404, 404, 404]
    assert plain.json()["error"]["code"] == "not_found"


async def test_jobs_are_listed_newest_first_by_state_and_type_a_page_at_a_time(
    system: System,
) -> None:
    ids = [await system.submit("email", {"n": n}) for n in range(5)]
    failing = await system.submit("fail")
    await system.burst(noop_handlers())
    await system.final(failing)
    for job_id in ids:
        await system.final(job_id)

    first = (await system.client.get("/jobs", params={"type": "email", "limit": 3})).json()
    rest = await system.client.get(
        "/jobs", params={"type": "email", "limit": 3, "cursor": first["next_cursor"]}
    )
    dead = (await system.client.get("/jobs", params={"state": "dead"})).json()
    bad = await system.client.get("/jobs", params={"cursor": "not-a-cursor"})
    wrong_state = await system.client.get("/jobs", params={"state": "sleeping"})

    listed = [job["id"] for job in first["jobs"] + rest.json()["jobs"]]
    assert listed == ids[::-1]
    assert rest.json()["next_cursor"] is None
    assert [job["id"] for job in dead["jobs"]] == [failing]
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_cursor"
    assert wrong_state.status_code == 422


async def test_the_periodic_purge_deletes_finished_jobs_past_retention(system: System) -> None:
    done = await system.submit("email")
    await system.burst(noop_handlers())
    await system.final(done)
    waiting = await system.submit("email")

    async def gone() -> bool:
        return (await system.client.get(f"/jobs/{done}")).status_code == 404

    async with purging(system.store, retention_s=0.001, interval_s=0.02):
        await eventually(gone)

    assert (await system.job(waiting))["state"] == "queued"
    assert (await system.client.get(f"/jobs/{done}/events")).status_code == 404


async def test_a_store_that_is_down_does_not_stop_submissions(system: System) -> None:
    await system.store.close()  # the store is unreachable; the broker is fine

    accepted = await system.client.post("/jobs", json={"type": "email", "payload": {}})
    lookup = await system.client.get(f"/jobs/{accepted.json()['id']}")
    keyed = await system.client.post(
        "/jobs", json={"type": "email"}, headers={"Idempotency-Key": "k"}
    )

    assert accepted.status_code == 202  # durable in the broker: its events will record it
    assert (await system.broker.depth()).ready == 1
    assert lookup.status_code == 503
    assert lookup.json()["error"] == {
        "code": "store_unavailable",
        "message": "job store unavailable",
    }
    assert lookup.headers["Retry-After"] == "1"
    assert keyed.status_code == 503  # a key cannot be honoured without the store
    await system.store.connect()
