"""Heartbeat load on one API: thousands of simulated workers, latency and the API's CPU and memory.

    python -m benchmarks.heartbeat --duration-s 60            # in-memory and Redis registries
    python -m benchmarks.heartbeat --registry memory --workers 1000 --duration-s 10

Starts a real ``jobqueue api`` process (SQLite broker in a temp dir, gRPC on a free port),
registers ``--workers`` simulated workers and has each heartbeat every ``--interval-s`` seconds
with a full report (load, details, job ids): 5,000 workers every 5 s is 1,000 heartbeats/s.
The load generator is one asyncio process with a few channels and many calls in flight; the
API process is measured from outside with psutil. Prints a table and writes
``benchmarks/results/heartbeat.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import grpc
import grpc.aio
import psutil
import redis

from benchmarks.process import free_port, start, stop, wait_ready
from jobqueue.control import worker_pb2 as pb
from jobqueue.control import worker_pb2_grpc as pb_grpc

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"
CHANNELS = 4
TICK_S = 0.01
RPC_TIMEOUT_S = 5.0
WINDOW_S = 5.0  # CPU "at start" and "at end" are averages over this long


@dataclass
class Sample:
    """One second of the API process: CPU (percent of one core) and resident memory."""

    at_s: float
    cpu_percent: float
    rss_mib: float


@dataclass
class HeartbeatResult:
    """The figures for one registry."""

    registry: str
    workers: int
    interval_s: float
    duration_s: float
    heartbeats: int
    errors: int
    errors_by_status: dict[str, int]
    heartbeats_per_s: float
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    api_cpu_idle_percent: float
    api_cpu_start_percent: float
    api_cpu_end_percent: float
    api_cpu_mean_percent: float
    api_rss_idle_mib: float
    api_rss_start_mib: float
    api_rss_end_mib: float
    generator_cpu_mean_percent: float
    redis_cpu_mean_percent: float | None
    listed_at_end: int
    list_workers_ms: float
    samples: list[Sample] = field(default_factory=list, repr=False)


def _details(n: int, load: int) -> pb.WorkerDetails:
    return pb.WorkerDetails(
        concurrency=8,
        job_types=["email", "resize", "report"],
        queue="jobs",
        host=f"bench-{n // 100:03d}",
        pid=10_000 + n,
        version="0.1.0",
        started_at_unix=time.time(),
        processed=n * 7,
        failed=n % 5,
        job_ids=[str(uuid.UUID(int=n * 16 + k)) for k in range(load)],
        state=pb.WORKER_STATE_ACTIVE,
    )


class Fleet:
    """Simulated workers sharing a few channels; records every heartbeat's latency."""

    def __init__(self, target: str, workers: int) -> None:
        self.channels = [grpc.aio.insecure_channel(target) for _ in range(CHANNELS)]
        self.stubs = [pb_grpc.WorkerServiceStub(channel) for channel in self.channels]
        self.ids = [f"bench-{n:05d}-{uuid.uuid4().hex[:8]}" for n in range(workers)]
        # Reports are built once: the generator must spend its CPU on calls, not on messages.
        self.beats = [
            pb.HeartbeatRequest(worker_id=wid, load=n % 3, details=_details(n, n % 3))
            for n, wid in enumerate(self.ids)
        ]
        self.latencies_s: list[float] = []
        self.errors: dict[str, int] = {}
        self.pending: set[asyncio.Task[None]] = set()

    async def register_all(self, in_flight: int = 200) -> None:
        """Register every worker, ``in_flight`` calls at a time."""
        gate = asyncio.Semaphore(in_flight)

        async def one(n: int) -> None:
            async with gate:
                request = pb.RegisterRequest(worker_id=self.ids[n], details=self.beats[n].details)
                await self.stubs[n % CHANNELS].Register(request, timeout=RPC_TIMEOUT_S)

        await asyncio.gather(*(one(n) for n in range(len(self.ids))))

    async def heartbeat(self, n: int) -> None:
        """One heartbeat of worker ``n``, timed."""
        started = time.perf_counter()
        try:
            await self.stubs[n % CHANNELS].Heartbeat(self.beats[n], timeout=RPC_TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            code = exc.code().name
            self.errors[code] = self.errors.get(code, 0) + 1
            return
        self.latencies_s.append(time.perf_counter() - started)

    async def run(self, duration_s: float, interval_s: float) -> float:
        """Heartbeat every worker every ``interval_s``, spread evenly; the seconds it took."""
        loop = asyncio.get_running_loop()
        begin = loop.time()
        count = len(self.ids)
        due = 0  # heartbeats fired so far; worker n beats at begin + k*interval + n/count*interval
        total = int(duration_s / interval_s * count)
        while due < total:
            now = loop.time()
            target = min(total, int((now - begin) / interval_s * count) + 1)
            for k in range(due, target):
                task = loop.create_task(self.heartbeat(k % count))
                self.pending.add(task)
                task.add_done_callback(self.pending.discard)
            due = target
            await asyncio.sleep(TICK_S)
        if self.pending:
            await asyncio.wait(self.pending)
        return loop.time() - begin

    async def list_workers(self) -> tuple[int, float]:
        """How many workers the API lists, and how long ListWorkers took (ms)."""
        started = time.perf_counter()
        reply = await self.stubs[0].ListWorkers(pb.Empty(), timeout=30)
        return len(reply.workers), (time.perf_counter() - started) * 1000

    async def close(self) -> None:
        """Close the channels."""
        for channel in self.channels:
            await channel.close()


class Monitor:
    """Samples a process's CPU and memory every second in the background."""

    def __init__(self, pid: int, others: dict[str, int]) -> None:
        self.process = psutil.Process(pid)
        self.others = {name: psutil.Process(p) for name, p in others.items()}
        self.samples: list[Sample] = []
        self.other_cpu: dict[str, list[float]] = {name: [] for name in others}
        self.began = time.monotonic()

    def reset(self) -> None:
        """Start a new measurement window."""
        self.process.cpu_percent(None)
        for other in self.others.values():
            other.cpu_percent(None)
        self.samples, self.began = [], time.monotonic()
        self.other_cpu = {name: [] for name in self.others}

    async def run(self) -> None:
        """Sample until cancelled."""
        self.reset()
        while True:
            await asyncio.sleep(1.0)
            self.samples.append(
                Sample(
                    at_s=round(time.monotonic() - self.began, 2),
                    cpu_percent=self.process.cpu_percent(None),
                    rss_mib=self.process.memory_info().rss / 2**20,
                )
            )
            for name, other in self.others.items():
                self.other_cpu[name].append(other.cpu_percent(None))


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def _window(samples: list[Sample], first: bool) -> list[Sample]:
    size = max(1, int(WINDOW_S))
    return samples[:size] if first else samples[-size:]


def _quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def _redis_pid() -> int | None:
    for process in psutil.process_iter(["name"]):
        if process.info["name"] == "redis-server":
            return int(process.pid)
    return None


def _clear_redis(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start_at in range(0, len(keys), 1000):
            client.delete(*keys[start_at : start_at + 1000])
    finally:
        client.close()


async def _idle(monitor: Monitor, seconds: float) -> tuple[float, float]:
    """The API's CPU and RSS while nothing calls it."""
    monitor.process.cpu_percent(None)
    await asyncio.sleep(seconds)
    cpu = monitor.process.cpu_percent(None)
    return cpu, monitor.process.memory_info().rss / 2**20


async def measure(
    target: str, api_pid: int, registry: str, args: argparse.Namespace
) -> HeartbeatResult:
    """Drive the fleet against the API at ``target`` and measure it."""
    others = {"generator": os.getpid()}
    redis_pid = _redis_pid() if registry == "redis" else None
    if redis_pid is not None:
        others["redis"] = redis_pid
    monitor = Monitor(api_pid, others)
    idle_cpu, idle_rss = await _idle(monitor, 2.0)
    fleet = Fleet(target, args.workers)
    try:
        await fleet.register_all()
        sampler = asyncio.create_task(monitor.run())
        elapsed_s = await fleet.run(args.duration_s, args.interval_s)
        sampler.cancel()
        listed, list_ms = await fleet.list_workers()
    finally:
        await fleet.close()
    samples = monitor.samples
    latencies = sorted(fleet.latencies_s)
    redis_cpu = monitor.other_cpu.get("redis")
    return HeartbeatResult(
        registry=registry,
        workers=args.workers,
        interval_s=args.interval_s,
        duration_s=round(elapsed_s, 2),
        heartbeats=len(latencies),
        errors=sum(fleet.errors.values()),
        errors_by_status=fleet.errors,
        heartbeats_per_s=round(len(latencies) / elapsed_s, 1),
        latency_p50_ms=round(_quantile(latencies, 0.50) * 1000, 2),
        latency_p99_ms=round(_quantile(latencies, 0.99) * 1000, 2),
        latency_max_ms=round((latencies[-1] if latencies else 0.0) * 1000, 2),
        api_cpu_idle_percent=round(idle_cpu, 1),
        api_cpu_start_percent=round(_mean([s.cpu_percent for s in _window(samples, True)]), 1),
        api_cpu_end_percent=round(_mean([s.cpu_percent for s in _window(samples, False)]), 1),
        api_cpu_mean_percent=round(_mean([s.cpu_percent for s in samples]), 1),
        api_rss_idle_mib=round(idle_rss, 1),
        api_rss_start_mib=round(samples[0].rss_mib if samples else 0.0, 1),
        api_rss_end_mib=round(samples[-1].rss_mib if samples else 0.0, 1),
        generator_cpu_mean_percent=round(_mean(monitor.other_cpu["generator"]), 1),
        redis_cpu_mean_percent=round(_mean(redis_cpu), 1) if redis_cpu else None,
        listed_at_end=listed,
        list_workers_ms=round(list_ms, 1),
        samples=samples,
    )


def run_one(registry: str, args: argparse.Namespace) -> HeartbeatResult:
    """Start an API with the registry, measure it under the fleet's heartbeats, stop it."""
    prefix = f"jobqueue-bench:{uuid.uuid4().hex[:8]}:"
    registry_url = "" if registry == "memory" else f"{args.redis_url}?key_prefix={prefix}"
    with tempfile.TemporaryDirectory() as tmp:
        http_port, grpc_port = free_port(), free_port()
        env = {
            "JOBQUEUE_BROKER_URL": f"sqlite:///{Path(tmp) / 'bench.db'}",
            "JOBQUEUE_HTTP_ADDR": f"127.0.0.1:{http_port}",
            "JOBQUEUE_GRPC_ADDR": f"127.0.0.1:{grpc_port}",
            "JOBQUEUE_REGISTRY_URL": registry_url,
            "JOBQUEUE_LOG_LEVEL": "WARNING",
        }
        api = start(["api"], env, Path(tmp) / "api.log")
        try:
            wait_ready(f"http://127.0.0.1:{http_port}")
            return asyncio.run(measure(f"127.0.0.1:{grpc_port}", api.pid, registry, args))
        finally:
            stop(api)
            if registry == "redis":
                _clear_redis(args.redis_url, prefix)


COLUMNS = [
    ("registry", "registry"),
    ("heartbeats_per_s", "beats/s"),
    ("errors", "errors"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p99_ms", "p99 ms"),
    ("api_cpu_idle_percent", "CPU idle %"),
    ("api_cpu_start_percent", "CPU start %"),
    ("api_cpu_end_percent", "CPU end %"),
    ("api_rss_idle_mib", "RSS idle MiB"),
    ("api_rss_start_mib", "RSS start MiB"),
    ("api_rss_end_mib", "RSS end MiB"),
    ("generator_cpu_mean_percent", "load gen CPU %"),
    ("listed_at_end", "listed"),
    ("list_workers_ms", "list ms"),
]


def table(results: list[HeartbeatResult]) -> str:
    """The figures as a plain-text table."""
    rows = [[title for _, title in COLUMNS]]
    rows += [[str(getattr(r, name)) for name, _ in COLUMNS] for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def main() -> None:
    """Parse arguments, run each registry, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=5000)
    parser.add_argument("--interval-s", type=float, default=5.0)
    parser.add_argument("--registry", default="memory,redis", help="memory, redis or both")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    args = parser.parse_args()
    results = [run_one(name.strip(), args) for name in args.registry.split(",")]
    n, every = args.workers, args.interval_s
    print(f"{n} workers heartbeating every {every} s ({n / every:.0f}/s) for {args.duration_s} s")
    print(table(results))
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "heartbeat.json"
    path.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
