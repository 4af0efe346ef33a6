"""When the broker cannot take jobs: 503 with Retry-After, never a 202; probes tell the truth."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from jobqueue.api.app import create_app
from jobqueue.brokers import Broker, from_url
from jobqueue.brokers.rabbitmq import RabbitmqBroker
from jobqueue.errors import BrokerUnavailable
from tests.api.conftest import asgi_client
from tests.services import free_port


async def _closed_sqlite_broker(tmp_path: Path) -> Broker:
    broker = from_url(f"sqlite:///{tmp_path / 'closed.db'}")
    await broker.connect()
    await broker.close()
    return broker


async def _unreachable_rabbitmq_broker() -> Broker:
    broker = RabbitmqBroker(f"amqp://guest:secret@127.0.0.1:{free_port()}/", connect_timeout_s=0.5)
    with pytest.raises(BrokerUnavailable):
        await broker.connect()
    return broker


@pytest.fixture(params=["closed SQLite", "unreachable RabbitMQ"])
async def down_client(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose broker is down: a closed SQLite file, a RabbitMQ never reached."""
    if request.param == "closed SQLite":
        broker = await _closed_sqlite_broker(tmp_path)
    else:
        broker = await _unreachable_rabbitmq_broker()
    async with asgi_client(create_app(broker)) as client:
        yield client
    await broker.close()


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    error = response.json()["error"]
    assert error == {"code": "broker_unavailable", "message": "broker unavailable"}
    for detail in ("secret", "127.0.0.1", "amqp", "RabbitMQ", "closed.db", "guest"):
        assert detail not in response.text


async def test_submission_while_the_broker_is_down_is_503_with_retry_after(
    down_client: httpx.AsyncClient,
) -> None:
    response = await down_client.post("/jobs", json={"type": "email", "payload": {}})

    _assert_unavailable(response)


async def test_batch_while_the_broker_is_down_is_503(down_client: httpx.AsyncClient) -> None:
    response = await down_client.post("/jobs/batch", json={"jobs": [{"type": "t"}]})

    _assert_unavailable(response)


async def test_readiness_fails_but_liveness_holds_while_the_broker_is_down(
    down_client: httpx.AsyncClient,
) -> None:
    ready = await down_client.get("/readyz")
    alive = await down_client.get("/healthz")

    assert ready.status_code == 503
    assert ready.json()["status"] == "not_ready"
    assert (alive.status_code, alive.json()) == (200, {"status": "ok"})


async def test_bad_input_is_still_named_while_the_broker_is_down(
    down_client: httpx.AsyncClient,
) -> None:
    response = await down_client.post("/jobs", json={"type": ""})

    assert response.status_code == 422


async def test_dead_letter_routes_while_the_broker_is_down_are_503(
    down_client: httpx.AsyncClient,
) -> None:
    for response in (
        await down_client.get("/dlq"),
        await down_client.post("/dlq/replay"),
        await down_client.delete("/dlq"),
    ):
        _assert_unavailable(response)


async def test_ready_broker_makes_readyz_200(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")

    assert (response.status_code, response.json()) == (200, {"status": "ready"})


async def test_the_log_keeps_what_the_answer_leaves_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = await _unreachable_rabbitmq_broker()
    try:
        async with asgi_client(create_app(broker)) as client:
            response = await client.post("/jobs", json={"type": "email"})
    finally:
        await broker.close()
    assert response.json()["error"]["message"] == "broker unavailable"
    [line] = [r.getMessage() for r in caplog.records if "request failed" in r.getMessage()]
    assert "not connected to RabbitMQ at amqp://guest:***@127.0.0.1:" in line
