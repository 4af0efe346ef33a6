"""Two `jobqueue api` processes sharing one Redis registry: one fleet view, commands cross over."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc.aio
import httpx
import pytest

from jobqueue.control import worker_pb2 as pb
from jobqueue.control import worker_pb2_grpc as pb_grpc
from tests.control.polling import eventually
from tests.control.processes import Api
from tests.control.test_client import FakeWorker
from tests.services import REDIS_URL

pytestmark = pytest.mark.redis


@contextmanager
def _apis(tmp_path: Path, registry_url: str) -> Iterator[tuple[Api, Api]]:
    first = Api(tmp_path, "first", registry_url)
    second = Api(tmp_path, "second", registry_url)
    try:
        yield first, second
    finally:
        codes = [api.stop() for api in (first, second)]
        assert codes == [0, 0], first.output() + second.output()


@pytest.fixture
async def apis(tmp_path: Path, redis_prefix: str) -> AsyncIterator[tuple[Api, Api]]:
    base = REDIS_URL + ("&" if "?" in REDIS_URL else "?")
    with _apis(tmp_path, f"{base}key_prefix={redis_prefix}") as pair:
        for api in pair:
            await eventually(api.ready, timeout_s=30, what="API ready")
        yield pair


async def test_a_worker_heartbeating_one_api_is_seen_and_commanded_through_the_other(
    apis: tuple[Api, Api],
) -> None:
    first, second = apis
    worker = FakeWorker("shared-1")
    client = worker.client(first.grpc_port)
    await client.start()
    try:
        async with httpx.AsyncClient(base_url=second.base_url, timeout=5.0) as http:

            async def listed_by_second() -> bool:
                workers = (await http.get("/workers")).json()["workers"]
                return [w["worker_id"] for w in workers] == ["shared-1"]

            await eventually(listed_by_second, what="the worker in the second API's list")
            response = await http.post("/workers/shared-1/pause")
            assert response.status_code == 202

            async def paused() -> bool:
                return worker.commands == ["pause"]

            await eventually(paused, what="pause sent to the second API, delivered by the first")

        async with grpc.aio.insecure_channel(f"127.0.0.1:{second.grpc_port}") as channel:
            reply = await pb_grpc.WorkerServiceStub(channel).ListWorkers(pb.Empty(), timeout=5)
        assert [w.worker_id for w in reply.workers] == ["shared-1"]
    finally:
        await client.stop()
    async with httpx.AsyncClient(base_url=second.base_url, timeout=5.0) as http:
        assert (await http.get("/workers")).json()["workers"] == []  # deregistered
