"""Tokens on gRPC end to end: a real ``jobqueue api`` with auth on, real ``jobqueue worker``
processes with and without ``JOBQUEUE_TOKEN``, and ``jobqueue up`` with a token."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.api.test_serve import api_process
from tests.auth.test_serve_auth import create_token
from tests.control.polling import eventually
from tests.services import free_port


def _worker(
    tmp_path: Path, grpc_port: int, token: str | None, name: str
) -> subprocess.Popen[bytes]:
    """A ``jobqueue worker`` on the default broker of ``tmp_path``, as the API there."""
    env = {
        **os.environ,
        "JOBQUEUE_API_GRPC": f"127.0.0.1:{grpc_port}",
        "JOBQUEUE_HEARTBEAT_INTERVAL_S": "0.2",
        "JOBQUEUE_WORKER_ID": name,
    }
    env.pop("JOBQUEUE_TOKEN", None)
    if token is not None:
        env["JOBQUEUE_TOKEN"] = token
    with (tmp_path / f"{name}.log").open("wb") as log:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "jobqueue", "worker"],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def test_a_worker_with_a_worker_token_registers_and_runs_a_job_on_an_api_with_auth(
    tmp_path: Path,
) -> None:
    fleet = create_token(tmp_path, "fleet", "worker")
    client = create_token(tmp_path, "client", "submit,read")
    grpc_port = free_port()
    args = ("--http-addr", "127.0.0.1:0", "--grpc-addr", f"127.0.0.1:{grpc_port}")
    async with api_process(tmp_path, *args) as api:
        good = _worker(tmp_path, grpc_port, fleet, "with-token")
        bad = _worker(tmp_path, grpc_port, None, "without-token")
        try:
            bearer = {"Authorization": f"Bearer {client}"}
            async with httpx.AsyncClient(base_url=api.base_url, headers=bearer) as http:

                async def listed() -> list[str]:
                    answer = await http.get("/workers")
                    return [worker["worker_id"] for worker in answer.json()["workers"]]

                async def registered() -> bool:
                    return "with-token" in await listed()

                await eventually(registered, timeout_s=30, what="worker registered")
                submitted = await http.post("/jobs", json={"type": "echo", "payload": {"n": 1}})
                assert submitted.status_code == 202
                job_id = submitted.json()["id"]

                async def succeeded() -> bool:
                    return (await http.get(f"/jobs/{job_id}")).json()["state"] == "succeeded"

                await eventually(succeeded, timeout_s=30, what="job succeeded")
                assert await listed() == ["with-token"]
        finally:
            for process in (good, bad):
                process.terminate()
                process.wait(timeout=30)
        await api.stop()
    refused = (tmp_path / "without-token.log").read_text()
    assert "UNAUTHENTICATED" in refused
    for secret in (fleet, client):
        assert secret not in refused
        assert secret not in api.log.read_text()
        assert secret not in (tmp_path / "with-token.log").read_text()


def test_up_with_a_token_waits_for_readyz_and_its_workers_register(tmp_path: Path) -> None:
    token = create_token(tmp_path, "local", "worker,read")  # the default broker's store
    http, grpc_addr = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBQUEUE_")}
    env |= {"JOBQUEUE_TOKEN": token, "JOBQUEUE_HEARTBEAT_INTERVAL_S": "0.5"}
    argv = ["up", "--workers", "2", "--http-addr", http, "--grpc-addr", grpc_addr]
    with (tmp_path / "up.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jobqueue", *argv],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    try:
        assert process.stdout is not None
        assert any(line.startswith("Stop with Ctrl-C") for line in process.stdout)
        bearer = {"Authorization": f"Bearer {token}"}
        for _ in range(100):
            workers = httpx.get(f"http://{http}/workers", headers=bearer).json()["workers"]
            if len(workers) == 2:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"the workers never registered: {workers}")
        assert httpx.get(f"http://{http}/workers").status_code == 401
    finally:
        process.terminate()
        assert process.wait(timeout=60) == 0
        assert process.stdout is not None
        process.stdout.close()
    assert token not in (tmp_path / "up.log").read_text()
