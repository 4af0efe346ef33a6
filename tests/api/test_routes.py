"""Which route answers which request: /jobs/batch is not a job id, and its POST stays a shortcut."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from jobqueue.api.app import create_app
from jobqueue.api.tracking import Tracking
from jobqueue.brokers import Broker
from jobqueue.store import default_store_url
from tests.api.conftest import JSON, asgi_client
from tests.store.conftest import open_store

NOT_POST = ["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"]


@pytest.fixture
async def tracked_app(broker: Broker, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """The app with a job store, so the status routes (``GET /jobs/{job_id}``...) are served."""
    store_url = default_store_url(f"sqlite:///{tmp_path / 'jobqueue.db'}")
    async with open_store(store_url) as store:
        yield create_app(broker, tracking=Tracking(store))


@pytest.fixture
async def tracked_client(tracked_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client for the app with a job store."""
    async with asgi_client(tracked_app) as client:
        yield client


class SeenPaths:
    """A middleware noting the requests that went through the app's middleware stack."""

    def __init__(self, app: ASGIApp, seen: list[str]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append(f"{scope['method']} {scope['path']}")
        await self.app(scope, receive, send)


@pytest.mark.parametrize("method", NOT_POST)
async def test_other_method_than_post_on_jobs_batch_is_a_json_405_with_a_job_store(
    tracked_client: httpx.AsyncClient, method: str
) -> None:
    response = await tracked_client.request(method, "/jobs/batch")

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    if method != "HEAD":
        assert response.json() == {
            "error": {
                "code": "method_not_allowed",
                "message": f"method {method} is not allowed on /jobs/batch (allowed: POST)",
            }
        }


async def test_a_job_id_is_still_looked_up_beside_jobs_batch(
    tracked_client: httpx.AsyncClient,
) -> None:
    submitted = await tracked_client.post("/jobs", json={"type": "email"}, headers=JSON)
    job_id = submitted.json()["id"]

    found = await tracked_client.get(f"/jobs/{job_id}")
    missing = await tracked_client.get("/jobs/batches")

    assert found.status_code == 200
    assert found.json()["id"] == job_id
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "no job with id 'batches'"


async def test_post_jobs_batch_is_served_past_the_middleware_stack(tracked_app: FastAPI) -> None:
    seen: list[str] = []
    tracked_app.add_middleware(SeenPaths, seen=seen)
    batch = {"jobs": [{"type": "email"}, {"type": "email"}]}

    async with asgi_client(tracked_app) as client:
        accepted = await client.post("/jobs/batch", json=batch, headers=JSON)
        refused = await client.get("/jobs/batch")

    assert accepted.status_code == 202
    assert len(accepted.json()["jobs"]) == 2
    assert refused.status_code == 405
    assert seen == ["GET /jobs/batch"]


async def test_schema_shows_only_post_on_jobs_batch(tracked_client: httpx.AsyncClient) -> None:
    paths = (await tracked_client.get("/openapi.json")).json()["paths"]

    assert list(paths["/jobs/batch"]) == ["post"]
    assert sorted(paths["/jobs/{job_id}"]) == ["delete", "get"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("OPTIONS", "/jobs", "GET, POST"),
        ("PUT", "/jobs", "GET, POST"),
        ("PUT", "/jobs/0190a0c2-0000-7000-8000-000000000000", "DELETE, GET"),
        ("POST", "/jobs/some-id", "DELETE, GET"),
        ("PUT", "/jobs/batch", "POST"),
        ("OPTIONS", "/dlq", "DELETE, GET"),
        ("DELETE", "/dlq/some-id/replay", "POST"),
        ("OPTIONS", "/healthz", "GET"),
    ],
)
async def test_a_405_allows_every_method_the_path_serves(
    tracked_client: httpx.AsyncClient, method: str, path: str, allowed: str
) -> None:
    response = await tracked_client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    message = response.json()["error"]["message"]
    assert message == f"method {method} is not allowed on {path} (allowed: {allowed})"
