"""A fleet whose workers serve different job types, on real processes: each job reaches a
worker that serves it, a job of a type nobody serves yet waits for one, none is lost."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.control.polling import eventually
from tests.control.processes import Api, Process

MYAPP = """
from jobqueue import Handlers

handlers = Handlers()


@handlers.job("resize")
def resize(payload):
    return {"resized": payload["w"]}
"""


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    api = Api(tmp_path, "api")
    try:
        await eventually(api.ready, timeout_s=30, what="API ready")
        yield api
    finally:
        assert api.stop() == 0, api.output()


def start_worker(tmp_path: Path, api: Api, name: str, app: str) -> Process:
    (tmp_path / "myapp").mkdir(exist_ok=True)
    (tmp_path / "myapp" / "__init__.py").write_text("")
    (tmp_path / "myapp" / "jobs.py").write_text(MYAPP)
    env = {
        "JOBQUEUE_BROKER_URL": api.broker_url,
        "JOBQUEUE_API_GRPC": f"127.0.0.1:{api.grpc_port}",
        "JOBQUEUE_HEARTBEAT_INTERVAL_S": "0.2",
        "JOBQUEUE_WORKER_ID": name,
        "JOBQUEUE_APP": app,
        "PYTHONPATH": str(tmp_path),
    }
    return Process(["worker"], env, tmp_path / f"{name}.log")


async def test_jobs_of_each_type_reach_a_worker_that_serves_it_and_a_new_type_waits(
    tmp_path: Path, api: Api
) -> None:
    demo = start_worker(tmp_path, api, "demo-worker", "jobqueue.demo:handlers")
    workers = [demo]
    try:
        async with httpx.AsyncClient(base_url=api.base_url, timeout=5.0) as http:

            async def listed(count: int) -> bool:
                return len((await http.get("/workers")).json()["workers"]) == count

            async def submit(job_type: str, payload: Any) -> str:
                response = await http.post("/jobs", json={"type": job_type, "payload": payload})
                assert response.status_code == 202, response.text
                job_id: str = response.json()["id"]
                return job_id

            async def state(job_id: str) -> str:
                state: str = (await http.get(f"/jobs/{job_id}")).json()["state"]
                return state

            async def queued(job_id: str) -> bool:
                return await state(job_id) == "queued"

            await eventually(lambda: listed(1), timeout_s=30, what="demo worker listed")
            early = await submit("resize", {"w": 1})  # no worker serves it yet: it waits
            await eventually(lambda: queued(early), what="job recorded")

            workers.append(start_worker(tmp_path, api, "myapp-worker", "myapp.jobs:handlers"))
            await eventually(lambda: listed(2), timeout_s=30, what="myapp worker listed")
            resized = [await submit("resize", {"w": n}) for n in range(6)]
            slept = [await submit("sleep", {"seconds": 0.01}) for _ in range(3)]

            async def all_succeeded() -> bool:
                states = [await state(job_id) for job_id in [early, *resized, *slept]]
                return states == ["succeeded"] * len(states)

            await eventually(all_succeeded, timeout_s=45, what="every job succeeded")
            jobs = [(await http.get(f"/jobs/{job_id}")).json() for job_id in [early, *resized]]
            assert {job["worker_id"] for job in jobs} == {"myapp-worker"}
            assert {job["attempts"] for job in jobs} == {1}
            assert (await http.get("/dlq")).json()["dead_jobs"] == []
    finally:
        for worker in workers:
            assert worker.stop() == 0, worker.output()


async def test_a_worker_on_another_embedded_broker_file_is_refused_and_exits_1(
    tmp_path: Path, api: Api
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    stray = Process(  # as if started from another directory with the default broker URL
        ["worker"],
        {
            "JOBQUEUE_BROKER_URL": f"sqlite:///{elsewhere / 'jobqueue.db'}",
            "JOBQUEUE_API_GRPC": f"127.0.0.1:{api.grpc_port}",
            "JOBQUEUE_WORKER_ID": "stray-worker",
        },
        tmp_path / "stray.log",
    )
    assert stray.process.wait(timeout=30) == 1
    assert stray.stop() == 1
    output = stray.output()
    ours = f"sqlite:///{(tmp_path / 'api.db').resolve()}"
    assert f"broker=sqlite:///{(elsewhere / 'jobqueue.db').resolve()}" in output
    assert output.strip().splitlines()[-1] == (
        f"error: the API refused this worker: this API's broker is {ours}, the worker's is "
        f"sqlite:///{(elsewhere / 'jobqueue.db').resolve()}: start the worker with "
        f"--broker-url {ours}"
    )
    async with httpx.AsyncClient(base_url=api.base_url, timeout=5.0) as http:
        assert (await http.get("/workers")).json()["workers"] == []
