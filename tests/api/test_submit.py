"""POST /jobs and POST /jobs/batch against the real SQLite broker: what is answered is queued."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest

from jobqueue import codec
from jobqueue.api.settings import ApiSettings
from jobqueue.brokers import Broker
from tests.api.conftest import JSON, queued_jobs


async def test_submitted_job_is_answered_202_with_the_original_fields_first(
    client: httpx.AsyncClient, broker: Broker
) -> None:
    body = {"type": "email", "payload": {"to": "user@example.com", "subject": "Hello"}}

    response = await client.post("/jobs", json=body)

    assert response.status_code == 202
    answer = response.json()
    assert list(answer)[:4] == ["id", "type", "payload", "attempts"]
    assert answer["type"] == "email"
    assert answer["payload"] == body["payload"]
    assert answer["attempts"] == 0
    assert uuid.UUID(answer["id"]).version == 7
    assert response.headers["location"] == f"/jobs/{answer['id']}"
    assert response.headers["content-type"] == "application/json"


async def test_accepted_job_is_in_the_broker_as_answered(
    client: httpx.AsyncClient, broker: Broker
) -> None:
    response = await client.post(
        "/jobs", json={"type": "resize", "payload": {"w": 3}, "max_attempts": 7}
    )

    [job] = await queued_jobs(broker, 1)
    assert job.to_wire() == response.json()
    assert job.max_attempts == 7


@pytest.mark.parametrize(
    "number_text",
    ["123456789012345678901234567890", "-98765432109876543210", "0.1", "1.0", "1e300", "0"],
)
async def test_numbers_in_the_payload_travel_exactly(
    client: httpx.AsyncClient, broker: Broker, number_text: str
) -> None:
    submitted = f'{{"type":"math","payload":{{"n":{number_text},"list":[{number_text}]}}}}'
    expected = codec.loads(number_text)

    response = await client.post("/jobs", content=submitted, headers=JSON)

    assert response.status_code == 202
    answered = codec.loads(response.content)["payload"]
    [queued] = await queued_jobs(broker, 1)
    for payload in (answered, queued.payload):
        assert payload == {"n": expected, "list": [expected]}
        assert type(payload["n"]) is type(expected)


async def test_big_integer_is_written_as_digits_not_a_float(client: httpx.AsyncClient) -> None:
    big = "123456789012345678901234567890"

    response = await client.post("/jobs", content=f'{{"type":"t","payload":{big}}}', headers=JSON)

    assert f'"payload":{big}' in response.text


@pytest.mark.parametrize(
    "payload", [None, "text", 5, [1, "two", None], {"nested": {"deep": [True, False]}}, {}]
)
async def test_any_json_value_is_a_payload(
    client: httpx.AsyncClient, broker: Broker, payload: object
) -> None:
    response = await client.post("/jobs", json={"type": "t", "payload": payload})

    assert response.status_code == 202
    [job] = await queued_jobs(broker, 1)
    assert job.payload == payload


async def test_missing_payload_is_an_empty_object(client: httpx.AsyncClient) -> None:
    response = await client.post("/jobs", json={"type": "ping"})

    assert response.status_code == 202
    assert response.json()["payload"] == {}


async def test_charset_utf8_content_type_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/jobs",
        content='{"type":"greet","payload":"héllo ✓"}'.encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )

    assert response.status_code == 202
    assert response.json()["payload"] == "héllo ✓"


async def test_concurrent_submissions_are_all_queued(
    client: httpx.AsyncClient, broker: Broker
) -> None:
    count = 40

    responses = await asyncio.gather(
        *(client.post("/jobs", json={"type": "t", "payload": {"i": i}}) for i in range(count))
    )

    assert {response.status_code for response in responses} == {202}
    queued = await queued_jobs(broker, count)
    assert sorted(job.payload["i"] for job in queued) == list(range(count))


async def test_batch_is_answered_once_every_job_is_queued(
    client: httpx.AsyncClient, broker: Broker
) -> None:
    jobs = [{"type": "t", "payload": {"i": i}} for i in range(5)]

    response = await client.post("/jobs/batch", json={"jobs": jobs})

    assert response.status_code == 202
    answered = response.json()["jobs"]
    assert [job["payload"] for job in answered] == [job["payload"] for job in jobs]
    assert len({job["id"] for job in answered}) == 5
    queued = await queued_jobs(broker, 5)
    assert sorted(job.id for job in queued) == sorted(job["id"] for job in answered)


async def test_batch_with_one_bad_item_names_it_and_queues_nothing(
    client: httpx.AsyncClient, broker: Broker
) -> None:
    jobs = [{"type": "ok"}, {"type": "ok"}, {"type": "ok"}, {"type": ""}]

    response = await client.post("/jobs/batch", json={"jobs": jobs})

    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("jobs[3].type:")
    assert (await broker.depth()).ready == 0


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"jobs": []}, "jobs: must hold 1 to 3 jobs, got 0"),
        ({"jobs": [{"type": "t"}] * 4}, "jobs: must hold 1 to 3 jobs, got 4"),
        ({"jobs": {"type": "t"}}, "jobs: must be an array"),
        ({}, "jobs: must be an array"),
        ({"jobs": [{"type": "t"}], "extra": 1}, "unknown field(s) 'extra'"),
        ({"jobs": ["t"]}, "jobs[0]: must be a JSON object"),
        ({"jobs": [{"type": "t", "bogus": 1}]}, "jobs[0]: unknown field(s) 'bogus'"),
        ({"jobs": [{"type": "t", "payload": {"k": "a\u0000b"}}]}, "jobs[0].payload.k:"),
    ],
)
async def test_bad_batch_is_refused_naming_the_problem(
    broker: Broker, body: object, named: str
) -> None:
    from jobqueue.api.app import create_app
    from tests.api.conftest import asgi_client

    app = create_app(broker, settings=ApiSettings(max_batch=3))
    async with asgi_client(app) as client:
        response = await client.post("/jobs/batch", json=body)

    assert response.status_code == 422
    assert named in response.json()["error"]["message"]
    assert (await broker.depth()).ready == 0


async def test_batch_numbers_travel_exactly(client: httpx.AsyncClient, broker: Broker) -> None:
    body = '{"jobs":[{"type":"t","payload":[123456789012345678901234567890,0.1,1.0]}]}'

    response = await client.post("/jobs/batch", content=body, headers=JSON)

    assert response.status_code == 202
    assert '"payload":[123456789012345678901234567890,0.1,1.0]' in response.text
    [job] = await queued_jobs(broker, 1)
    assert json.dumps(job.payload) == "[123456789012345678901234567890, 0.1, 1.0]"
