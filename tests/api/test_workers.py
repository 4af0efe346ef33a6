"""The fleet over HTTP: GET /workers, GET /workers/{id}, POST /workers/{id}/pause|resume|drain."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from jobqueue.api.app import create_app
from jobqueue.brokers import Broker
from jobqueue.registry import Command, WorkerReport, WorkerState
from jobqueue.registry.memory import InMemoryRegistry
from jobqueue.registry.page import DEFAULT_PAGE_WORKERS, MAX_PAGE_BYTES, MAX_PAGE_WORKERS
from jobqueue.registry.redis import RedisRegistry
from jobqueue.testing.registry import FakeClock
from tests.api.conftest import asgi_client

REPORT = WorkerReport(
    load=1,
    concurrency=4,
    job_types=("email",),
    queue="jobs",
    host="node-1",
    pid=99,
    version="1.0",
    started_at_unix=1000.0,
    processed=7,
    failed=2,
    job_ids=("job-1",),
    state=WorkerState.PAUSED,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry(clock: FakeClock) -> InMemoryRegistry:
    return InMemoryRegistry(ttl_s=15, clock=clock, wall_clock=clock)


@pytest.fixture
async def http(broker: Broker, registry: InMemoryRegistry) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(create_app(broker, registry)) as client:
        yield client


async def test_workers_lists_every_field_seconds_since_seen_and_state(
    http: httpx.AsyncClient, registry: InMemoryRegistry, clock: FakeClock
) -> None:
    await registry.register("w1", REPORT)
    clock.advance(3)
    response = await http.get("/workers")
    assert response.status_code == 200
    [worker] = response.json()["workers"]
    assert worker == {
        "worker_id": "w1",
        "load": 1,
        "concurrency": 4,
        "job_types": ["email"],
        "queue": "jobs",
        "host": "node-1",
        "pid": 99,
        "version": "1.0",
        "started_at_unix": 1000.0,
        "processed": 7,
        "failed": 2,
        "job_ids": ["job-1"],
        "state": "paused",
        "broker": "",
        "last_seen_unix": clock.now - 3,
        "seen_ago_s": 3.0,
        "registered_at_unix": clock.now - 3,
        "pending_command": None,
    }


async def test_workers_is_empty_without_workers(http: httpx.AsyncClient) -> None:
    response = await http.get("/workers")
    assert (response.status_code, response.json()) == (200, {"workers": [], "next_cursor": None})


async def test_a_silent_worker_disappears_from_the_list(
    http: httpx.AsyncClient, registry: InMemoryRegistry, clock: FakeClock
) -> None:
    await registry.register("w1", REPORT)
    clock.advance(16)
    assert (await http.get("/workers")).json()["workers"] == []
    assert (await http.get("/workers/w1")).status_code == 404


async def test_one_worker_by_an_id_with_a_space_and_accents(
    http: httpx.AsyncClient, registry: InMemoryRegistry
) -> None:
    await registry.register("w 1 é", REPORT)
    response = await http.get("/workers/w%201%20%C3%A9")
    assert response.status_code == 200
    assert response.json()["worker_id"] == "w 1 é"
    assert (await http.post("/workers/w%201%20%C3%A9/drain")).status_code == 202
    assert (await registry.heartbeat("w 1 é", REPORT)).command is Command.DRAIN


async def test_a_command_path_is_never_read_as_a_worker_id(
    http: httpx.AsyncClient, registry: InMemoryRegistry
) -> None:
    await registry.register("0", REPORT)
    drain = await http.get("/workers/0/drain")
    assert (drain.status_code, drain.headers["allow"]) == (405, "POST")
    assert drain.json()["error"]["code"] == "method_not_allowed"
    assert (await http.get("/workers/0/drain/more")).status_code == 404
    assert (await http.get("/workers/0%2Fdrain")).status_code == 405  # the same path, decoded
    assert (await registry.get("0")) is not None
    assert (await registry.heartbeat("0", REPORT)).command is None


async def test_workers_come_in_pages_by_id_following_the_cursor(
    http: httpx.AsyncClient, registry: InMemoryRegistry
) -> None:
    ids = [f"w{n}" for n in range(5)]
    for worker_id in reversed(ids):
        await registry.register(worker_id, REPORT)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2} | ({} if cursor is None else {"cursor": cursor})
        page = (await http.get("/workers", params=params)).json()
        seen += [worker["worker_id"] for worker in page["workers"]]
        pages, cursor = pages + 1, page["next_cursor"]
        if cursor is None:
            break
        assert cursor == seen[-1]
    assert (seen, pages) == (ids, 3)
    everything = (await http.get("/workers")).json()
    assert [w["worker_id"] for w in everything["workers"]] == ids
    assert everything["next_cursor"] is None


async def test_a_page_of_workers_has_a_default_and_a_maximum(
    http: httpx.AsyncClient, registry: InMemoryRegistry
) -> None:
    for n in range(DEFAULT_PAGE_WORKERS + 1):
        await registry.register(f"w{n:04d}", REPORT)
    page = (await http.get("/workers")).json()
    assert (len(page["workers"]), page["next_cursor"]) == (DEFAULT_PAGE_WORKERS, "w0099")
    rest = (await http.get("/workers", params={"cursor": "w0099"})).json()
    assert [w["worker_id"] for w in rest["workers"]] == ["w0100"]
    for params in ({"limit": 0}, {"limit": MAX_PAGE_WORKERS + 1}, {"cursor": ""}):
        refused = await http.get("/workers", params=params)
        assert refused.status_code == 422, params
        assert refused.json()["error"]["code"] == "invalid_request"


async def test_a_page_of_large_workers_stops_within_its_byte_limit(
    http: httpx.AsyncClient, registry: InMemoryRegistry
) -> None:
    big = WorkerReport(job_types=tuple(f"{n:0200d}" for n in range(1000)))
    for n in range(25):  # about 5 MB of reports
        await registry.register(f"w{n:02d}", big)
    first = await http.get("/workers")
    page = first.json()
    assert 0 < len(page["workers"]) < 25
    assert len(first.content) <= MAX_PAGE_BYTES + 100
    assert page["next_cursor"] == page["workers"][-1]["worker_id"]


async def test_an_unknown_worker_is_a_json_404(http: httpx.AsyncClient) -> None:
    response = await http.get("/workers/nobody")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"
    assert "nobody" in response.json()["error"]["message"]


@pytest.mark.parametrize("command", list(Command))
async def test_a_command_waits_for_the_workers_next_heartbeat(
    http: httpx.AsyncClient, registry: InMemoryRegistry, command: Command
) -> None:
    await registry.register("w1", REPORT)
    response = await http.post(f"/workers/w1/{command}")
    assert response.status_code == 202
    assert response.json() == {"worker_id": "w1", "command": str(command)}
    assert (await http.get("/workers/w1")).json()["pending_command"] == str(command)
    assert (await registry.heartbeat("w1", REPORT)).command is command
    assert (await http.get("/workers/w1")).json()["pending_command"] is None


@pytest.mark.parametrize("command", list(Command))
async def test_a_command_for_an_unknown_worker_is_a_404(
    http: httpx.AsyncClient, command: Command
) -> None:
    response = await http.post(f"/workers/nobody/{command}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_an_unknown_command_is_not_a_route(
    http: httpx.AsyncClient, registry: InMemoryRegistry
) -> None:
    await registry.register("w1", REPORT)
    assert (await http.post("/workers/w1/explode")).status_code in (404, 405)


@pytest.mark.redis
async def test_an_unreachable_registry_is_a_json_503(broker: Broker) -> None:
    registry = RedisRegistry.from_url("redis://127.0.0.1:1/0")
    try:
        async with asgi_client(create_app(broker, registry)) as client:
            response = await client.get("/workers")
    finally:
        await registry.close()
    assert response.status_code == 503
    assert response.json()["error"] == {
        "code": "registry_unavailable",
        "message": "worker registry unavailable",
    }


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/workers/w1", "GET"),
        ("GET", "/workers/w1/pause", "POST"),
        ("OPTIONS", "/workers/w1/resume", "POST"),
        ("DELETE", "/workers/w1/drain", "POST"),
        ("POST", "/workers", "GET"),
    ],
)
async def test_a_405_on_a_worker_path_allows_what_it_serves(
    http: httpx.AsyncClient, registry: InMemoryRegistry, method: str, path: str, allowed: str
) -> None:
    await registry.register("w1", REPORT)
    response = await http.request(method, path)
    assert (response.status_code, response.headers["allow"]) == (405, allowed)
