"""The original worker's client, generated from its proto verbatim, against our server."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from jobqueue.control.server import ControlServer
from jobqueue.registry import WorkerReport, WorkerState
from jobqueue.registry.memory import InMemoryRegistry

DRIVER = Path(__file__).resolve().parent / "original_client.py"


async def _run_original_client(port: int, worker_id: str) -> dict[str, object]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(DRIVER),
        f"127.0.0.1:{port}",
        worker_id,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    answers: dict[str, object] = json.loads(stdout)
    return answers


async def test_the_original_client_gets_the_original_answers_and_sees_our_workers() -> None:
    registry = InMemoryRegistry()
    # A jobqueue worker with every new field: the original client must skip what it does not know.
    modern = WorkerReport(load=3, concurrency=8, job_types=("email",), state=WorkerState.PAUSED)
    await registry.register("modern", modern)
    before = int(time.time())
    async with ControlServer(registry, "127.0.0.1:0") as server:
        answers = await _run_original_client(server.port, "original")
    after = int(time.time())

    assert (answers["register"], answers["heartbeat"]) == ("ok", "alive")
    workers = {w["worker_id"]: w for w in answers["workers"]}  # type: ignore[attr-defined]
    assert set(workers) == {"modern", "original"}
    assert workers["original"]["load"] == 1
    assert workers["modern"]["load"] == 3
    assert before <= workers["original"]["last_seen_unix"] <= after  # whole seconds


async def test_original_client_unknown_heartbeat_registers_and_nonsense_is_refused() -> None:
    async with ControlServer(InMemoryRegistry(), "127.0.0.1:0") as server:
        answers = await _run_original_client(server.port, "w1")
    assert answers["unknown_heartbeat"] == "alive"
    listed = [w["worker_id"] for w in answers["workers_after_unknown"]]  # type: ignore[attr-defined]
    assert listed == ["w1", "w1-unknown"]
    assert answers["empty_id"] == "INVALID_ARGUMENT"
    assert answers["long_id"] == "INVALID_ARGUMENT"
    assert answers["negative_load"] == "INVALID_ARGUMENT"
