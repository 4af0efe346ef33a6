"""Two `jobqueue api` processes and a worker for each, on one RabbitMQ queue, one PostgreSQL
schema and one Redis key prefix of their own, removed afterwards."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.brokers.rabbit import delete_queues, fresh_queue_name
from tests.services import POSTGRES_URL, RABBITMQ_URL, REDIS_URL, free_port, require_service
from tests.store.conftest import drop_schema

ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT_S = 0.5
"""The workers' heartbeat interval: every cross-replica bound is measured against it."""
START_S = 30.0
JSON = {"Content-Type": "application/json"}


class Process:
    """A `python -m jobqueue ...` child logging to a file; it can be stopped, killed and
    started again with the same arguments."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], folder: Path) -> None:
        self.name = name
        self._args = args
        self._env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
        self._folder = folder
        self._runs = 0
        self.process = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        self._runs += 1
        log = (self._folder / f"{self.name}.{self._runs}.log").open("wb")
        try:
            return subprocess.Popen(
                [sys.executable, "-m", "jobqueue", *self._args],
                env=self._env,
                cwd=self._folder,  # nothing lands in the checkout
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()

    def restart(self) -> None:
        """Start the process again (after it exited)."""
        assert self.process.poll() is not None, f"{self.name} still runs"
        self.process = self._spawn()

    def kill(self) -> None:
        """SIGKILL: no goodbye, no drain."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """SIGTERM (unless it exited) and wait; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return None

    def output(self) -> str:
        """What every run of the process logged so far."""
        logs = sorted(self._folder.glob(f"{self.name}.*.log"))
        return "".join(path.read_text(errors="replace") for path in logs)


class Api(Process):
    """A `jobqueue api` on ports of its own (kept across restarts)."""

    def __init__(self, name: str, env: dict[str, str], folder: Path) -> None:
        self.http_port, self.grpc_port = free_port(), free_port()
        self.base_url = f"http://127.0.0.1:{self.http_port}"
        self.grpc_addr = f"127.0.0.1:{self.grpc_port}"
        own = {
            "JOBQUEUE_HTTP_ADDR": f"127.0.0.1:{self.http_port}",
            "JOBQUEUE_GRPC_ADDR": self.grpc_addr,
        }
        super().__init__(name, ["api"], {**env, **own}, folder)
        self.http = httpx.Client(base_url=self.base_url, timeout=10.0)

    def ready(self) -> bool:
        """Whether it answers /readyz (its broker connected) and /workers (its registry)."""
        assert self.process.poll() is None, f"{self.name} exited:\n{self.output()}"
        try:
            return all(self.http.get(path).status_code == 200 for path in ("/readyz", "/workers"))
        except httpx.HTTPError:
            return False

    def submit(self, job_type: str, **payload: Any) -> str:
        """POST a job; its id (the answer must be 202)."""
        answer = self.http.post("/jobs", json={"type": job_type, "payload": payload}, headers=JSON)
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])

    def job(self, job_id: str, wait_s: float = 0.0) -> dict[str, Any]:
        """GET /jobs/{id} (long-polling up to ``wait_s`` for a final state); 200 expected."""
        params = {"wait": wait_s} if wait_s else {}
        answer = self.http.get(f"/jobs/{job_id}", params=params, timeout=wait_s + 10.0)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def workers(self) -> dict[str, dict[str, Any]]:
        """The live workers by id, as GET /workers answers."""
        answer = self.http.get("/workers", params={"limit": 100})
        assert answer.status_code == 200, answer.text
        return {worker["worker_id"]: worker for worker in answer.json()["workers"]}


@dataclass
class Deployment:
    """The shared backends, two APIs and a worker heartbeating to each."""

    a: Api
    b: Api
    worker_a: Process
    worker_b: Process
    stamps: Path
    env: dict[str, str]
    folder: Path

    def start_worker(self, name: str, target: str) -> Process:
        """One more worker, heartbeating to ``target``; the caller stops it."""
        return worker(name, target, self.env, self.folder)

    def runs(self, kind: str) -> list[list[str]]:
        """The lines the handlers noted for ``kind``: job id, worker id, attempt, time."""
        path = self.stamps / f"{kind}.log"
        lines = path.read_text().splitlines() if path.exists() else []
        return [line.split() for line in lines]

    def output(self) -> str:
        """Every process's log, for a failing assertion's message."""
        parts = (self.a, self.b, self.worker_a, self.worker_b)
        return "\n".join(f"--- {p.name}\n{p.output()[-6000:]}" for p in parts)


def eventually(check: Callable[[], bool], timeout_s: float = 15.0, what: str = "it") -> float:
    """Poll ``check`` every 10 ms until it holds; the time it took. Fails after ``timeout_s``."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        time.sleep(0.01)
    return time.monotonic() - started


def _redis_url(prefix: str) -> str:
    return REDIS_URL + ("&" if "?" in REDIS_URL else "?") + f"key_prefix={prefix}"


def _delete_keys(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def worker(name: str, target: str, env: dict[str, str], folder: Path) -> Process:
    """A `jobqueue worker` named ``name`` heartbeating to the gRPC ``target``."""
    args = ["worker", "--app", "tests.replicas.app:handlers", "--concurrency", "4"]
    own = {"JOBQUEUE_API_GRPC": target, "JOBQUEUE_WORKER_ID": name}
    return Process(name, args, {**env, **own}, folder)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Two APIs and their workers over a fresh queue, schema and key prefix.

    Worker ``worker-a`` names API A first and B after it (a gRPC target of two addresses, so
    it turns to B when A is gone); ``worker-b`` names B alone.
    """
    for service in ("rabbitmq", "postgres", "redis"):
        require_service(service)
    folder = tmp_path_factory.mktemp("replicas")
    stamps = folder / "stamps"
    stamps.mkdir()
    queue, schema = fresh_queue_name(), f"test_{uuid.uuid4().hex[:12]}"
    prefix = f"jobqueue-test:{uuid.uuid4().hex[:12]}:"
    shared = {
        "JOBQUEUE_BROKER_URL": RABBITMQ_URL,
        "JOBQUEUE_QUEUE": queue,
        "JOBQUEUE_STORE_URL": f"{POSTGRES_URL}?schema={schema}",
        "JOBQUEUE_REGISTRY_URL": _redis_url(prefix),
        "JOBQUEUE_HEARTBEAT_INTERVAL_S": str(HEARTBEAT_S),
        "JOBQUEUE_SHUTDOWN_GRACE_S": "5",
        "REPLICAS_TEST_STAMPS": str(stamps),
    }
    started: list[Process] = []
    codes: dict[str, int | None] = {}
    try:
        a = Api("api-a", shared, folder)
        started.append(a)
        b = Api("api-b", shared, folder)
        started.append(b)
        eventually(lambda: a.ready() and b.ready(), START_S, "both APIs ready")
        both = f"ipv4:{a.grpc_addr},{b.grpc_addr}"
        started.append(worker("worker-a", both, shared, folder))
        started.append(worker("worker-b", b.grpc_addr, shared, folder))
        yield Deployment(a, b, started[2], started[3], stamps, shared, folder)
    finally:
        for process in reversed(started):
            running = process.process.poll() is None  # one a failed test left killed is not asked
            code = process.stop()
            if running:
                codes[process.name] = code
            if isinstance(process, Api):
                process.http.close()
        delete_queues(RABBITMQ_URL, queue)
        asyncio.run(drop_schema(schema))
        _delete_keys(prefix)
    assert set(codes.values()) <= {0}, f"not stopped cleanly by SIGTERM: {codes}"
