"""The SQLite broker's wake-up latency, idle cost and throughput, across two processes.

    python -m benchmarks.sqlite_broker --jobs 200 --gap-ms 20

A consumer process waits on a fresh database file; this process publishes jobs one at a time
with pauses between them, each stamped with the time its publish started. The consumer records
when each arrived: submit-to-start latency is arrival minus stamp (the publish, with its fsync,
included); commit-to-start is arrival minus the moment publish returned.
Idle CPU is the consumer's CPU time over a few seconds with nothing to do. Throughput is one
publisher and one consumer (prefetch 32, an ack per job) moving a batch through the file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from jobqueue.brokers.sqlite import SqliteBroker
from jobqueue.job import Job

CONSUMER_COMMAND = ["-m", "benchmarks.sqlite_broker"]
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class SqliteBrokerResult:
    """The figures, in milliseconds, percent of one core, and jobs per second."""

    jobs: int
    gap_ms: float
    latency_p50_ms: float
    latency_p90_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    latency_after_idle_ms: float
    commit_to_start_p50_ms: float
    commit_to_start_p90_ms: float
    idle_cpu_percent: float
    throughput_jobs_per_s: float


async def consume(url: str, out_path: str) -> None:
    """The child: write ``id arrival_time stamp`` for each job, ack it, until stopped."""
    broker = SqliteBroker(url, queue="bench")
    await broker.connect()
    out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    print("ready", flush=True)
    async for delivery in broker.deliveries(32):
        arrived = time.time()
        stamp = Job.decode(delivery.body).payload["stamp"]
        os.write(out, f"{delivery.message_id} {arrived} {stamp}\n".encode())
        await broker.ack(delivery)


def start_consumer(url: str, out_path: Path) -> subprocess.Popen[str]:
    """Start the consumer process and wait until it consumes."""
    child = subprocess.Popen(
        [sys.executable, *CONSUMER_COMMAND, "--consume", url, str(out_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    if child.stdout.readline().strip() != "ready":
        raise RuntimeError("the consumer did not start")
    return child


def records(out_path: Path) -> list[tuple[str, float, float]]:
    """(job id, arrival time, publish stamp) of the jobs the consumer recorded so far."""
    lines = out_path.read_text().splitlines()
    return [
        (job_id, float(arrived), float(stamp)) for job_id, arrived, stamp in map(str.split, lines)
    ]


def arrivals(out_path: Path) -> list[float]:
    """Latencies (ms) of the jobs the consumer recorded so far."""
    return [(arrived - stamp) * 1000 for _, arrived, stamp in records(out_path)]


async def wait_for_count(out_path: Path, count: int, timeout_s: float = 60.0) -> None:
    """Wait until the consumer has recorded ``count`` jobs."""
    deadline = time.monotonic() + timeout_s
    while len(await asyncio.to_thread(records, out_path)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the consumer recorded fewer than {count} jobs")
        await asyncio.sleep(0.01)


async def publish_stamped(broker: SqliteBroker, count: int = 1) -> None:
    """Publish ``count`` jobs stamped with the time now."""
    await broker.publish([Job("bench", {"stamp": time.time()}) for _ in range(count)])


async def measure_latency(
    broker: SqliteBroker, out: Path, jobs: int, gap_s: float
) -> tuple[list[float], list[float]]:
    """Publish one job every ``gap_s``; the latencies (ms) from publish, and from its commit."""
    committed: dict[str, float] = {}
    for _ in range(jobs):
        job = Job("bench", {"stamp": time.time()})
        await broker.publish([job])
        committed[job.id] = time.time()
        await asyncio.sleep(gap_s)
    await wait_for_count(out, jobs)
    seen = await asyncio.to_thread(records, out)
    from_publish = [(arrived - stamp) * 1000 for _, arrived, stamp in seen]
    from_commit = [(arrived - committed[job_id]) * 1000 for job_id, arrived, _ in seen]
    return from_publish, from_commit


def idle_cpu_percent(pid: int, seconds: float = 3.0) -> float:
    """CPU used by a process over ``seconds`` of nothing to do, in percent of one core."""
    process = psutil.Process(pid)
    before = process.cpu_times()
    time.sleep(seconds)
    after = process.cpu_times()
    used_s = (after.user - before.user) + (after.system - before.system)
    return 100 * used_s / seconds


async def measure_throughput(broker: SqliteBroker, out: Path, already: int, jobs: int) -> float:
    """Publish ``jobs`` in batches of 50 while the consumer drains them; jobs per second."""
    started = time.monotonic()
    for _ in range(jobs // 50):
        await publish_stamped(broker, 50)
    await wait_for_count(out, already + jobs, timeout_s=300)
    return jobs / (time.monotonic() - started)


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run(jobs: int, gap_ms: float, throughput_jobs: int) -> SqliteBrokerResult:
    """Run every measurement against a consumer process on a fresh file."""
    folder = Path(tempfile.mkdtemp(prefix="jobqueue-bench-"))
    url, out = f"sqlite:///{folder / 'bench.db'}", folder / "arrivals"
    broker = SqliteBroker(url, queue="bench")
    await broker.connect()
    child = start_consumer(url, out)
    try:
        latencies, after_commit = await measure_latency(broker, out, jobs, gap_ms / 1000)
        idle = await asyncio.to_thread(idle_cpu_percent, child.pid)
        await publish_stamped(broker)
        await wait_for_count(out, jobs + 1)
        after_idle = (await asyncio.to_thread(arrivals, out))[-1]
        rate = await measure_throughput(broker, out, jobs + 1, throughput_jobs)
    finally:
        child.terminate()
        child.wait()
        await broker.close()
    return SqliteBrokerResult(
        jobs=jobs,
        gap_ms=gap_ms,
        latency_p50_ms=round(statistics.median(latencies), 2),
        latency_p90_ms=round(percentile(latencies, 0.9), 2),
        latency_p99_ms=round(percentile(latencies, 0.99), 2),
        latency_max_ms=round(max(latencies), 2),
        latency_after_idle_ms=round(after_idle, 2),
        commit_to_start_p50_ms=round(statistics.median(after_commit), 2),
        commit_to_start_p90_ms=round(percentile(after_commit, 0.9), 2),
        idle_cpu_percent=round(idle, 2),
        throughput_jobs_per_s=round(rate),
    )


def main() -> None:
    """Parse arguments, run, print the figures, write them to results/sqlite_broker.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200, help="jobs for the latency figure")
    parser.add_argument("--gap-ms", type=float, default=20.0, help="pause between those jobs")
    parser.add_argument("--throughput-jobs", type=int, default=5000)
    parser.add_argument("--consume", nargs=2, metavar=("URL", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.consume:
        asyncio.run(consume(*args.consume))
        return
    result = asyncio.run(run(args.jobs, args.gap_ms, args.throughput_jobs))
    print(json.dumps(asdict(result), indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sqlite_broker.json").write_text(json.dumps(asdict(result), indent=2) + "\n")


if __name__ == "__main__":
    main()
