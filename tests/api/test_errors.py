"""Errors from FastAPI itself and from the broker answer in the one JSON error shape."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from jobqueue.api.errors import ERROR_STATUS, status_for
from jobqueue.brokers import Broker
from jobqueue.errors import BrokerUnavailable, InvalidJob, JobqueueError, NotFound
from tests.api.conftest import asgi_client


async def test_unknown_path_is_a_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere")

    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "no such resource: GET /nowhere"}
    }


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/jobs"), ("PUT", "/jobs"), ("GET", "/jobs/batch")]
)
async def test_wrong_method_is_a_json_405_with_allow(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path)

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    error = response.json()["error"]
    assert error["code"] == "method_not_allowed"
    assert f"method {method} is not allowed on {path}" in error["message"]


async def test_bad_query_parameter_is_a_json_422_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.get("/dlq", params={"limit": "lots"})

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"].startswith("query.limit:")


async def test_unexpected_exception_is_a_json_500_without_a_trace(broker: Broker) -> None:
    from jobqueue.api.app import create_app

    app: FastAPI = create_app(broker)

    @app.get("/explode")
    async def explode() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    async with asgi_client(app, raise_app_exceptions=False) as client:
        response = await client.get("/explode")

    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "internal server error"}
    }


def test_every_error_maps_through_its_most_specific_class() -> None:
    class Unlisted(NotFound):
        pass

    assert status_for(InvalidJob("x")) == (422, "invalid_job")
    assert status_for(BrokerUnavailable("x")) == (503, "broker_unavailable")
    assert status_for(Unlisted("x")) == (404, "not_found")
    assert status_for(JobqueueError("x")) == (500, "internal_error")
    assert all(issubclass(cls, JobqueueError) for cls in ERROR_STATUS)


async def test_openapi_documents_the_routes_and_bodies(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    submit = schema["paths"]["/jobs"]["post"]
    body_schema = submit["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema["required"] == ["type"]
    assert body_schema["properties"]["type"]["maxLength"] == 200
    assert "202" in submit["responses"]
    assert "Location" in submit["responses"]["202"]["headers"]
    assert {"400", "413", "415", "422", "503"} <= set(submit["responses"])
    batch = schema["paths"]["/jobs/batch"]["post"]["requestBody"]["content"]
    assert batch["application/json"]["schema"]["properties"]["jobs"]["maxItems"] == 1000
    assert {"/healthz", "/readyz", "/dlq", "/dlq/{job_id}", "/dlq/{job_id}/replay"} <= set(
        schema["paths"]
    )


async def test_docs_page_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")

    assert response.status_code == 200
    assert "swagger" in response.text.lower()
