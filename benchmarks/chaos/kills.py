"""Submit jobs over HTTP while a worker is SIGKILLed every few seconds; count what was lost.

    python -m benchmarks.chaos.kills --jobs 10000 --kill-every-s 2 --workers 2

Every ``--kill-every-s`` one worker of the fleet (in turn) is killed with SIGKILL mid-job and a
new one started at once.

Every accepted (202) job must end completed or dead: lost = accepted - completed - dead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from benchmarks.process import free_port, start, stop, wait_ready
from jobqueue.brokers import from_url

DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
Probe = Callable[[], Coroutine[None, None, int]]
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class ChaosResult:
    """The figure: what happened to every job a client was told was accepted."""

    broker: str
    workers: int
    jobs_submitted: int
    jobs_accepted: int
    jobs_completed: int
    jobs_dead: int
    jobs_lost: int
    duplicate_runs: int
    worker_kills: int
    seconds: float


async def submit_all(base_url: str, count: int, concurrency: int, work_ms: int) -> set[str]:
    """POST ``count`` jobs with ``concurrency`` clients; retry 503s; the ids answered 202."""
    accepted: set[str] = set()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0) as client:

        async def one_client() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                accepted.add(await _submit_one(client, {"n": n, "work_ms": work_ms}))

        await asyncio.gather(*(one_client() for _ in range(concurrency)))
    return accepted


async def _submit_one(client: httpx.AsyncClient, payload: dict[str, int]) -> str:
    while True:
        try:
            response = await client.post("/jobs", json={"type": "record", "payload": payload})
        except httpx.TransportError:
            await asyncio.sleep(0.2)
            continue
        if response.status_code == 202:
            job_id: str = response.json()["id"]
            return job_id
        await asyncio.sleep(float(response.headers.get("Retry-After", "0.5")))


class Killer(threading.Thread):
    """Every ``every_s`` seconds SIGKILLs one worker of the fleet, in turn, and starts a new one."""

    def __init__(
        self, start_worker: Callable[[], subprocess.Popen[bytes]], workers: int, every_s: float
    ) -> None:
        super().__init__(daemon=True)
        self._start_worker = start_worker
        self.every_s = every_s
        self.kills = 0
        self.workers = [start_worker() for _ in range(workers)]
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every_s):
            victim = self.kills % len(self.workers)
            self.workers[victim].kill()
            self.workers[victim].wait()
            self.kills += 1
            self.workers[victim] = self._start_worker()


def completed_ids(done_file: Path) -> tuple[set[str], int]:
    """The distinct ids the handler recorded, and how many runs were repeats."""
    lines = done_file.read_text().split() if done_file.exists() else []
    distinct = set(lines)
    return distinct, len(lines) - len(distinct)


async def dead_ids(broker_url: str, queue: str) -> set[str]:
    """The ids in the dead-letter queue."""
    broker = from_url(broker_url, queue=queue)
    await broker.connect()
    try:
        return {dead.message_id for dead in await broker.dead_jobs(limit=100_000)}
    finally:
        await broker.close()


async def queued(broker_url: str, queue: str) -> int:
    """Messages still waiting: ready plus delayed for a retry."""
    broker = from_url(broker_url, queue=queue)
    await broker.connect()
    try:
        depth = await broker.depth()
        return depth.ready + depth.delayed
    finally:
        await broker.close()


def wait_settled(done_file: Path, accepted: set[str], timeout_s: float, waiting: Probe) -> None:
    """Wait until every accepted job is done, or nothing waits and nothing finished for 5 s."""
    deadline = time.monotonic() + timeout_s
    last_count, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        done, _ = completed_ids(done_file)
        if accepted <= done:
            return
        if len(done) != last_count:
            last_count, last_change = len(done), time.monotonic()
        elif time.monotonic() - last_change > 5.0 and asyncio.run(waiting()) == 0:
            return
        time.sleep(0.5)


def run(args: argparse.Namespace) -> ChaosResult:
    """Run the whole scenario and return the figure."""
    queue = f"chaos_{uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix="jobqueue-chaos-"))
    broker_url = args.broker_url or f"sqlite:///{work}/chaos.db"
    http_port, grpc_port = free_port(), free_port()
    base_env = {
        "JOBQUEUE_BROKER_URL": broker_url,
        "JOBQUEUE_QUEUE": queue,
        "JOBQUEUE_HTTP_ADDR": f"127.0.0.1:{http_port}",
        "JOBQUEUE_GRPC_ADDR": f"127.0.0.1:{grpc_port}",
        "JOBQUEUE_API_GRPC": f"127.0.0.1:{grpc_port}",
        "JOBQUEUE_LOG_LEVEL": "WARNING",
        "JOBQUEUE_BENCH_DONE_FILE": str(work / "done.txt"),
    }
    api = start(["api"], base_env, work / "api.log")
    base_url = f"http://127.0.0.1:{http_port}"
    worker_args = ["worker", "--app", "benchmarks.handlers:handlers"]
    worker_args += ["--concurrency", str(args.concurrency)]
    killer = Killer(
        lambda: start(worker_args, base_env, work / "worker.log"), args.workers, args.kill_every_s
    )
    started = time.monotonic()
    try:
        wait_ready(base_url)
        killer.start()
        accepted = asyncio.run(submit_all(base_url, args.jobs, args.clients, args.work_ms))
        wait_settled(work / "done.txt", accepted, args.timeout_s, lambda: queued(broker_url, queue))
        killer.done.set()
        killer.join()
        seconds = time.monotonic() - started
    finally:
        killer.done.set()
        for worker in killer.workers:
            stop(worker)
        stop(api)
    done, repeats = completed_ids(work / "done.txt")
    dead = asyncio.run(dead_ids(broker_url, queue)) & accepted
    lost = accepted - done - dead
    return ChaosResult(
        broker=broker_url.split("://")[0],
        workers=args.workers,
        jobs_submitted=args.jobs,
        jobs_accepted=len(accepted),
        jobs_completed=len(accepted & done),
        jobs_dead=len(dead - done),
        jobs_lost=len(lost),
        duplicate_runs=repeats,
        worker_kills=killer.kills,
        seconds=round(seconds, 1),
    )


def main() -> None:
    """Parse arguments, run, print the figure, write it to benchmarks/results/chaos.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker-url", default=DEFAULT_AMQP, help="'' for a SQLite temp file")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--kill-every-s", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (one dies)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--work-ms", type=int, default=5)
    parser.add_argument("--timeout-s", type=float, default=600.0)
    result = run(parser.parse_args())
    print(json.dumps(asdict(result), indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"chaos-{result.broker}.json").write_text(json.dumps(asdict(result), indent=2))
    if result.jobs_lost:
        raise SystemExit(f"{result.jobs_lost} accepted jobs were lost")


if __name__ == "__main__":
    main()
