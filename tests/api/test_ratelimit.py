"""The submission rate limit: a token bucket per API token, else per address; 429 past it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from jobqueue.api.app import create_app
from jobqueue.api.load import LoadSettings, Rate, parse_rate
from jobqueue.api.ratelimit import Buckets
from jobqueue.api.settings import ApiSettings
from jobqueue.brokers import Broker
from jobqueue.errors import ConfigError


@pytest.fixture
def settings() -> ApiSettings:
    """Two submissions a second, three at once."""
    return ApiSettings(load=LoadSettings(submit_rate=Rate(2.0, 3)))


class _Token:
    """The app as the authentication hands it requests: the token named by ``X-Token`` in the
    scope, as ``jobqueue.token``."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in scope.get("headers", []):
            if name == b"x-token":
                scope["jobqueue.token"] = value.decode()
        await self.app(scope, receive, send)


@pytest.fixture
async def client(broker: Broker, settings: ApiSettings) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of the app behind the token stand-in."""
    app = _Token(create_app(broker, settings=settings))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://jobqueue.test") as client:
        yield client


async def _submit(client: httpx.AsyncClient, count: int, token: str | None = None) -> list[int]:
    headers = {} if token is None else {"X-Token": token}
    answers = [
        await client.post("/jobs", json={"type": "t"}, headers=headers) for _ in range(count)
    ]
    return [answer.status_code for answer in answers]


async def test_past_its_burst_a_client_is_answered_429_naming_when_to_retry(
    client: httpx.AsyncClient,
) -> None:
    assert await _submit(client, 3) == [202, 202, 202]
    refused = await client.post("/jobs", json={"type": "t"})

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert "address 127.0.0.1 submits faster than 2 requests a second (burst 3)" in error["message"]
    assert "the next is allowed in 0." in error["message"]


async def test_each_api_token_has_a_bucket_of_its_own(client: httpx.AsyncClient) -> None:
    assert await _submit(client, 4, token="alice") == [202, 202, 202, 429]
    assert await _submit(client, 3, token="bob") == [202, 202, 202]
    refused = await client.post("/jobs", json={"type": "t"}, headers={"X-Token": "alice"})
    assert "token 'alice'" in refused.json()["error"]["message"]


async def test_a_batch_counts_as_one_submission_and_reads_do_not_count(
    client: httpx.AsyncClient,
) -> None:
    batch = {"jobs": [{"type": "t"}] * 10}
    answers = [await client.post("/jobs/batch", json=batch) for _ in range(3)]
    reads = [await client.get("/healthz") for _ in range(5)]
    refused = await client.post("/jobs/batch", json=batch)

    assert [answer.status_code for answer in answers] == [202, 202, 202]
    assert {read.status_code for read in reads} == {200}
    assert refused.status_code == 429


def test_a_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    now = [0.0]
    buckets = Buckets(Rate(2.0, 3), clock=lambda: now[0])

    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    now[0] = 0.5
    assert buckets.take("a") == 0.0
    now[0] = 100.0
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") > 0


def test_the_table_of_buckets_keeps_at_most_its_limit_dropping_the_longest_idle() -> None:
    now = [0.0]
    buckets = Buckets(Rate(1.0, 1), max_clients=100, clock=lambda: now[0])
    for client in range(1000):
        now[0] += 0.001
        buckets.take(f"client {client}")
    buckets.take("client 999")

    assert len(buckets) == 100
    assert buckets.take("client 999") > 0  # still tracked: recently used
    assert buckets.take("client 0") == 0.0  # dropped, so a fresh bucket


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("100/s", Rate(100.0, 100)),
        ("0.5/s", Rate(0.5, 1)),
        ("10/s,burst=50", Rate(10.0, 50)),
        (" 10 / s , burst = 50 ", Rate(10.0, 50)),
        ("off", None),
        ("", None),
    ],
)
def test_a_rate_is_written_n_per_second_with_an_optional_burst(
    text: str, rate: Rate | None
) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["100", "100/m", "0/s", "10/s,burst=0", "-1/s", "fast"])
def test_a_rate_written_otherwise_is_refused_naming_the_form(text: str) -> None:
    with pytest.raises(ConfigError, match="N/s"):
        parse_rate(text)
