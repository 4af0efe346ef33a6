"""A real worker and a real API: the worker is listed with its details, obeys pause, resume and
drain sent over HTTP, and is listed as drained once it exits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.control.polling import eventually
from tests.control.processes import Api, Process

WORKER_ID = "e2e-worker"


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    api = Api(tmp_path, "api")
    try:
        await eventually(api.ready, timeout_s=30, what="API ready")
        yield api
    finally:
        assert api.stop() == 0, api.output()


def start_worker(tmp_path: Path, api: Api) -> Process:
    env = {
        "JOBQUEUE_BROKER_URL": api.broker_url,
        "JOBQUEUE_API_GRPC": f"127.0.0.1:{api.grpc_port}",
        "JOBQUEUE_HEARTBEAT_INTERVAL_S": "0.2",
        "JOBQUEUE_WORKER_ID": WORKER_ID,
        "JOBQUEUE_CONCURRENCY": "3",
    }
    return Process(["worker"], env, tmp_path / "worker.log")


async def test_a_worker_is_listed_obeys_commands_and_shows_as_drained_once_it_left(
    tmp_path: Path, api: Api
) -> None:
    worker = start_worker(tmp_path, api)
    try:
        async with httpx.AsyncClient(base_url=api.base_url, timeout=5.0) as http:

            async def listed() -> dict[str, Any] | None:
                response = await http.get(f"/workers/{WORKER_ID}")
                return response.json() if response.status_code == 200 else None

            async def in_state(state: str) -> bool:
                shown = await listed()
                return shown is not None and shown["state"] == state

            await eventually(lambda: in_state("active"), timeout_s=30, what="worker listed")
            shown = await listed()
            assert shown is not None
            assert (shown["pid"], shown["concurrency"], shown["queue"]) == (worker.pid, 3, "jobs")
            assert "email" in shown["job_types"]

            for command, state in [("pause", "paused"), ("resume", "active")]:
                assert (await http.post(f"/workers/{WORKER_ID}/{command}")).status_code == 202
                await eventually(lambda state=state: in_state(state), what=f"{state} reported")

            assert (await http.post(f"/workers/{WORKER_ID}/drain")).status_code == 202
            assert worker.process.wait(timeout=30) == 0, worker.output()

            await eventually(lambda: in_state("drained"), what="drained worker listed as drained")
            refused = await http.post(f"/workers/{WORKER_ID}/resume")
            assert refused.status_code == 404
            assert "was drained and has left" in refused.json()["error"]["message"]
    finally:
        worker.stop()
