"""Fleet-wide limits end to end: a real API, worker processes, the embedded broker and store."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.control.polling import eventually
from tests.control.processes import Api, Process

APP = "tests.limits.fleet_app:handlers"
pytestmark = pytest.mark.slow


def start_worker(api: Api, tmp_path: Path, name: str, *extra: str) -> Process:
    args = ["worker", "--app", APP, "--broker-url", api.broker_url]
    args += ["--api-grpc", f"127.0.0.1:{api.grpc_port}", "--concurrency", "8", *extra]
    env = {"LIMITS_TEST_STAMPS": str(tmp_path / "stamps"), "JOBQUEUE_HEARTBEAT_INTERVAL_S": "1"}
    return Process(args, env, tmp_path / f"{name}.log")


def stamps(tmp_path: Path) -> list[tuple[str, str, float, float]]:
    rows = []
    for log in (tmp_path / "stamps").glob("*.log"):
        for line in log.read_text().splitlines():
            kind, key, started, ended = line.split()
            rows.append((kind, key, float(started), float(ended)))
    return rows


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The most spans open at one moment (an end before a start at the same instant)."""
    moments = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = peak = 0
    for _, step in sorted(moments, key=lambda moment: (moment[0], moment[1])):
        running += step
        peak = max(peak, running)
    return peak


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    (tmp_path / "stamps").mkdir()
    api = Api(tmp_path, "api")
    yield api
    api.stop()


async def submit(api: Api, jobs: list[dict[str, Any]]) -> list[str]:
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as client:
        ids: list[str] = []
        for start in range(0, len(jobs), 500):
            answer = await client.post("/jobs/batch", json={"jobs": jobs[start : start + 500]})
            assert answer.status_code == 202, answer.text
            ids += [job["id"] for job in answer.json()["jobs"]]
        return ids


async def job_of(api: Api, job_id: str, what: str = "") -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=api.base_url, timeout=10) as client:
        answer = await client.get(f"/jobs/{job_id}{what}")
        return answer.json() if answer.status_code == 200 else {}  # type: ignore[no-any-return]


async def test_four_workers_never_run_more_than_two_of_one_key_and_pace_a_rate(
    api: Api, tmp_path: Path
) -> None:
    await eventually(api.ready, 30, "the API answering")
    workers = [start_worker(api, tmp_path, f"w{i}") for i in range(4)]
    try:
        limited = [{"type": "limited", "payload": {"key": f"k{i % 10}"}} for i in range(400)]
        paced = [{"type": "paced", "payload": {}} for _ in range(15)]
        free = [{"type": "free", "payload": {}} for _ in range(100)]
        ids = await submit(api, limited + paced + free)

        async def all_ran() -> bool:
            return len(stamps(tmp_path)) >= len(ids)

        await eventually(all_ran, 120, "every job run")
        rows = stamps(tmp_path)
        for key in {f"k{i}" for i in range(10)}:
            spans = [(start, end) for kind, k, start, end in rows if kind == "limited" and k == key]
            assert len(spans) == 40
            assert most_at_once(spans) <= 2, key
        starts = sorted(start for kind, _, start, _ in rows if kind == "paced")
        # A bucket of 5 starts refilled at 5 a second: the last 10 starts take 2 s at least.
        assert starts[-1] - starts[0] >= 1.9
        assert len([row for row in rows if row[0] == "free"]) == 100
        waited = await first_deferred(api, ids[:400])
        assert waited["record"]["state"] == "succeeded"
        assert waited["record"]["attempts"] == 1, "a deferral is no attempt"
        reasons = [e["data"]["reason"] for e in waited["events"] if e["kind"] == "waiting"]
        assert reasons[0].startswith("concurrency limit: 2 of limited key k")
    finally:
        for worker in workers:
            worker.stop()


async def first_deferred(api: Api, ids: list[str]) -> dict[str, Any]:
    """The first job among ``ids`` that was deferred at least once, with its history."""
    for job_id in ids:
        history = await job_of(api, job_id, "/events")
        events = history.get("events", [])
        if any(event["kind"] == "waiting" for event in events):
            return {"record": await job_of(api, job_id), "events": events}
    raise AssertionError("no job was deferred")


async def test_the_slot_of_a_killed_worker_is_free_after_its_lease(
    api: Api, tmp_path: Path
) -> None:
    await eventually(api.ready, 30, "the API answering")
    lease = ["--limit-lease-s", "2", "--sqlite-lease-s", "120"]
    doomed = start_worker(api, tmp_path, "doomed", *lease)
    survivor: Process | None = None
    try:
        [first] = await submit(api, [{"type": "hold", "payload": {"sleep_s": 120}}])

        async def running() -> bool:
            return (await job_of(api, first)).get("state") == "running"

        await eventually(running, 30, "the first job running")
        os.kill(doomed.pid, signal.SIGKILL)
        survivor = start_worker(api, tmp_path, "survivor", *lease)
        [second] = await submit(api, [{"type": "hold", "payload": {"sleep_s": 0}}])

        async def done() -> bool:
            return (await job_of(api, second)).get("state") == "succeeded"

        await eventually(done, 30, "the second job run once the dead worker's lease ended")
        record = await job_of(api, second)
        assert record["attempts"] == 1
    finally:
        doomed.stop()
        if survivor is not None:
            survivor.stop()
