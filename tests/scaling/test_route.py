"""``GET /scaling`` and the ``jobqueue_desired_workers`` gauge, on the real embedded broker and
store: the inputs read from the system, the decision, the bounds, bad queries, the scopes."""

from __future__ import annotations

import httpx

from jobqueue.api.app import create_app
from jobqueue.api.tracking import Tracking
from jobqueue.auth.audit import AuditTrail
from jobqueue.auth.book import TokenBook
from jobqueue.auth.http import HttpAuth
from jobqueue.handlers import Handlers
from jobqueue.registry import WorkerReport
from tests.api.conftest import asgi_client
from tests.metrics.conftest import Metered, samples, values

READER = "reader:read:" + "r" * 32
SUBMITTER = "submitter:submit:" + "s" * 32


async def scaling(client: httpx.AsyncClient, **params: str) -> httpx.Response:
    """``GET /scaling`` with these query parameters."""
    return await client.get("/scaling", params=params)


async def test_a_backlog_with_no_worker_wants_one_and_says_why(metered: Metered) -> None:
    for _ in range(5):
        await metered.submit("ok")

    answer = await scaling(metered.client, queue="jobs")

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["queue"] == "jobs"
    assert body["desired_workers"] == 1  # 5 jobs fit one worker of the default concurrency 8
    assert body["reason"] == "backlog"
    assert (body["min"], body["max"]) == (1, 100)
    inputs = body["inputs"]
    assert (inputs["depth"], inputs["in_flight"], inputs["workers"]) == (5, 0, 0)
    assert inputs["concurrency"] == 8
    assert 0 <= inputs["oldest_ready_age_s"] < 60  # the store's oldest queued job, just sent
    assert inputs["throughput_per_s"] == 0


async def test_the_workers_reports_give_the_fleet_and_the_bounds_hold(metered: Metered) -> None:
    for _ in range(10):
        await metered.submit("ok")
    report = WorkerReport(load=2, concurrency=2, queue="jobs")
    await metered.registry.register("w-1", report)

    body = (await scaling(metered.client)).json()
    capped = (await scaling(metered.client, max="3")).json()

    inputs = body["inputs"]
    assert (inputs["workers"], inputs["in_flight"], inputs["concurrency"]) == (1, 2, 2)
    assert body["desired_workers"] == 6  # (2 running + 10 ready, no pace yet) / 2
    assert capped["desired_workers"] == 3
    assert capped["reason"] == "backlog; held at max 3"
    assert (capped["min"], capped["max"]) == (1, 3)


async def test_finished_jobs_give_a_pace_and_an_idle_queue_the_minimum(metered: Metered) -> None:
    handlers = Handlers()
    handlers.job("ok")(lambda payload: "done")
    ids = [await metered.submit("ok") for _ in range(6)]
    await metered.burst(handlers)
    await metered.settled(ids)

    body = (await scaling(metered.client, min="0")).json()

    assert body["inputs"]["depth"] == 0
    assert body["inputs"]["oldest_ready_age_s"] == 0
    assert body["inputs"]["throughput_per_s"] > 0  # 6 in the last minute or two
    assert (body["desired_workers"], body["reason"]) == (0, "idle")


async def test_the_gauge_shows_the_same_decision(metered: Metered) -> None:
    for _ in range(3):
        await metered.submit("ok")
    await metered.registry.register("w-1", WorkerReport(load=1, concurrency=1, queue="jobs"))

    found = samples(await metered.scrape())
    answer = (await scaling(metered.client)).json()

    assert values(found, "jobqueue_desired_workers") == {(("queue", "jobs"),): 4.0}
    assert answer["desired_workers"] == 4


async def test_bad_queries_are_4xx_naming_the_problem(metered: Metered) -> None:
    other = await scaling(metered.client, queue="other\x1b[2J")
    inverted = await scaling(metered.client, min="5", max="2")
    negative = await scaling(metered.client, min="-1")
    words = await scaling(metered.client, max="many")

    assert other.status_code == 404
    assert other.json()["error"]["message"] == (
        "this API serves the queue 'jobs', not 'other\\x1b[2J'"
    )
    assert inverted.status_code == 400
    assert inverted.json()["error"] == {"code": "invalid_query", "message": "min 5 is above max 2"}
    assert negative.status_code == 422
    assert "min" in negative.json()["error"]["message"]
    assert words.status_code == 422
    assert "max" in words.json()["error"]["message"]


async def test_scaling_is_a_read_under_the_token_gate(metered: Metered) -> None:
    book = TokenBook.from_lines([READER, SUBMITTER])
    book.load([])
    auth = HttpAuth(book, AuditTrail(metered.store))
    app = create_app(metered.broker, metered.registry, tracking=Tracking(metered.store), auth=auth)
    async with asgi_client(app) as client:
        anonymous = await client.get("/scaling")
        submitter = await client.get("/scaling", headers=bearer(SUBMITTER))
        reader = await client.get("/scaling", headers=bearer(READER))

    assert anonymous.status_code == 401
    assert submitter.status_code == 403
    assert "read" in submitter.json()["error"]["message"]
    assert reader.status_code == 200


def bearer(line: str) -> dict[str, str]:
    """The Authorization header of a ``NAME:SCOPES:SECRET`` token line."""
    return {"Authorization": f"Bearer {line.rsplit(':', 1)[1]}"}
