"""Fleet-wide limits: the bound holds across worker processes, and unlimited jobs pay nothing.

    python -m benchmarks.limits                    # 2,000 keyed jobs; 20,000 free jobs
    python -m benchmarks.limits --keyed-jobs 400 --free-jobs 1000

Starts a real ``jobqueue api`` (embedded broker and job store in a temp dir, so the slots live
in the store) and 4 ``jobqueue worker`` processes (concurrency 8) that register with it.

1. The bound: ``--keyed-jobs`` jobs over 20 keys, limited to 2 running at once per key; each
   handler sleeps 10 ms and writes when it started and ended. The most of one key seen running
   at once (from those stamps) must be 2, never more.
2. The cost: ``--free-jobs`` unlimited jobs drained by the 4 workers, the limits machinery on
   (the app declares a limited type, the workers ask the API) or off (no limit anywhere); the
   free jobs' rate from their first start to their last, and the CPU the API and workers
   spent per job. Measured off, on, on, off, off, on; each side's median. Target: on / off
   at least 0.90 (for the CPU per job, at most 1 / 0.90). On a shared machine the rate
   swings by a third from run to run; the CPU per job, and the slot calls (none for
   unlimited jobs), say more.
3. Beside limited work (for information): the same free jobs shuffled among 400 keyed jobs,
   the keyed type limited (on) or not (off), the slots in the job store and then in Redis
   (``--redis-url``). Here "on" also pays for the keyed jobs' own waiting: their slot calls
   and deferrals take CPU from the same two cores.

Prints a table and writes ``benchmarks/results/limits.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks.process import free_port, start, stop, wait_ready

RESULTS = Path(__file__).resolve().parent / "results"
WORKERS = 4
KEYS = 20
LIMIT = 2
TARGET_RATIO = 0.90
MIXED_KEYED = 400


@dataclass
class LimitsResult:
    """The figures of one benchmark run."""

    keyed_jobs: int
    keys: int = KEYS
    limit_per_key: int = LIMIT
    workers: int = WORKERS
    most_of_one_key_at_once: int = 0
    keyed_drain_s: float = 0.0
    keyed_jobs_deferred: int = 0  # at least once (the store counts a job once)
    free_jobs: int = 0
    free_off: dict[str, list[Any]] = field(default_factory=dict)
    free_on: dict[str, list[Any]] = field(default_factory=dict)
    ratio_on_off: float = 0.0
    cpu_ratio_on_off: float = 0.0
    cpu_within_target: bool = False  # CPU per unlimited job, on / off, at most 1 / 0.90
    target_ratio: float = TARGET_RATIO
    within_target: bool = False
    mixed_keyed_jobs: int = 400
    mixed: dict[str, dict[str, Any]] = field(default_factory=dict)
    load_average_1m: list[float] = field(default_factory=list)  # at the start, at the end
    command: str = ""


class Stack:
    """An API and its workers in ``folder``; the workers run ``app``."""

    def __init__(self, folder: Path, app: str, registry_url: str = "") -> None:
        self.folder = folder
        self.stamps = folder / "stamps"
        self.stamps.mkdir()
        http, grpc = free_port(), free_port()
        self.base_url = f"http://127.0.0.1:{http}"
        broker = f"sqlite:///{folder / 'broker.db'}"
        env = {
            "JOBQUEUE_BROKER_URL": broker,
            "JOBQUEUE_HTTP_ADDR": f"127.0.0.1:{http}",
            "JOBQUEUE_GRPC_ADDR": f"127.0.0.1:{grpc}",
            "LIMITS_BENCH_STAMPS": str(self.stamps),
            "JOBQUEUE_REGISTRY_URL": registry_url,
        }
        self.api = start(["api"], env, folder / "api.log")
        wait_ready(self.base_url)
        worker = ["worker", "--app", app, "--concurrency", "8", "--api-grpc", f"127.0.0.1:{grpc}"]
        self.workers = [
            start(worker, env, folder / f"worker-{index}.log") for index in range(WORKERS)
        ]

    def submit(self, jobs: list[dict[str, Any]]) -> None:
        """Submit ``jobs`` in batches of 500."""
        with httpx.Client(base_url=self.base_url, timeout=60) as client:
            for at in range(0, len(jobs), 500):
                answer = client.post("/jobs/batch", json={"jobs": jobs[at : at + 500]})
                answer.raise_for_status()

    def wait_for(self, count: int, timeout_s: float = 600) -> list[tuple[str, str, float, float]]:
        """The stamps, once ``count`` jobs have written theirs."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            rows = self.rows()
            if len(rows) >= count:
                return rows
            time.sleep(0.1)
        raise RuntimeError(f"only {len(self.rows())} of {count} jobs ran in {timeout_s} s")

    def rows(self) -> list[tuple[str, str, float, float]]:
        """Every stamp written so far."""
        rows = []
        for log in self.stamps.glob("*.log"):
            for line in log.read_text().splitlines():
                kind, key, started, ended = line.split()
                rows.append((kind, key, float(started), float(ended)))
        return rows

    def cpu_s(self) -> float:
        """The CPU seconds the API and the workers used so far."""
        processes = [psutil.Process(p.pid) for p in (self.api, *self.workers)]
        return sum(sum(process.cpu_times()[:2]) for process in processes)

    def slot_calls(self) -> int:
        """The slot calls (AcquireSlot, ReleaseSlots, RenewSlots) the API answered."""
        text = httpx.get(f"{self.base_url}/metrics", timeout=30).text
        lines = [line for line in text.splitlines() if "Slot" in line and "_total{" in line]
        return int(sum(float(line.split()[-1]) for line in lines if not line.startswith("#")))

    def deferred(self) -> int:
        """The jobs deferred by a limit, as ``/metrics`` counts them."""
        text = httpx.get(f"{self.base_url}/metrics", timeout=30).text
        lines = [line for line in text.splitlines() if 'outcome="deferred"' in line]
        return int(sum(float(line.split()[-1]) for line in lines if not line.startswith("#")))

    def close(self) -> None:
        """Stop the workers, then the API."""
        for worker in self.workers:
            stop(worker)
        stop(self.api)


def keyed_jobs(count: int) -> list[dict[str, Any]]:
    """``count`` keyed jobs over :data:`KEYS` keys, 10 ms each."""
    return [
        {"type": "keyed", "payload": {"key": f"k{index % KEYS}", "sleep_s": 0.01}}
        for index in range(count)
    ]


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The most spans open at one moment (an end at the same instant as a start comes first)."""
    moments = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = peak = 0
    for _, step in moments:
        running += step
        peak = max(peak, running)
    return peak


def bound(count: int) -> tuple[int, float, int]:
    """The most of one key running at once over ``count`` keyed jobs, the drain's time, and
    how many jobs were deferred (``jobqueue_jobs_total{outcome="deferred"}``)."""
    with tempfile.TemporaryDirectory(prefix="jobqueue-limits-") as folder:
        stack = Stack(Path(folder), "benchmarks.limits_app:handlers")
        try:
            started = time.monotonic()
            stack.submit(keyed_jobs(count))
            rows = stack.wait_for(count)
            drain_s = time.monotonic() - started
            deferred = stack.deferred()
        finally:
            stack.close()
    by_key: dict[str, list[tuple[float, float]]] = {}
    for _, key, begun, ended in rows:
        by_key.setdefault(key, []).append((begun, ended))
    return max(most_at_once(spans) for spans in by_key.values()), drain_s, deferred


@dataclass
class Drain:
    """One drain of free jobs: their rate, the CPU the API and workers spent per job, and the
    slot calls the API answered."""

    jobs_per_s: float
    cpu_ms_per_job: float
    slot_calls: int


def free_drain(count: int, on: bool, keyed: int = 0, registry_url: str = "") -> Drain:
    """Free jobs drained beside ``keyed`` keyed jobs, with the keyed type limited (on) or not
    (off): their rate (first start to last) and cost."""
    app = "benchmarks.limits_app:handlers" if on else "benchmarks.limits_app:plain"
    with tempfile.TemporaryDirectory(prefix="jobqueue-limits-") as folder:
        stack = Stack(Path(folder), app, registry_url)
        try:
            jobs = keyed_jobs(keyed) + [{"type": "free", "payload": {}} for _ in range(count)]
            random.Random(7).shuffle(jobs)  # mixed, not in blocks; the same order each run
            cpu_before = stack.cpu_s()
            stack.submit(jobs)
            rows = stack.wait_for(count + keyed)
            cpu_s = stack.cpu_s() - cpu_before
            calls = stack.slot_calls()
        finally:
            stack.close()
    free = [begun for kind, _, begun, _ in rows if kind == "free"]
    rate = count / (max(free) - min(free))
    return Drain(round(rate, 1), round(cpu_s * 1000 / (count + keyed), 3), calls)


def alternating(count: int, keyed: int = 0, registry_url: str = "") -> dict[str, Any]:
    """``free_drain`` off, on, on, off, off, on (a drift of the shared machine weighs on
    both sides alike): each side's rates, CPU per job and slot calls."""
    sides: dict[str, dict[str, list[Any]]] = {
        side: {"jobs_per_s": [], "cpu_ms_per_job": [], "slot_calls": []} for side in ("off", "on")
    }
    for on in (False, True, True, False, False, True):
        drain = free_drain(count, on, keyed, registry_url if on else "")
        for name, value in asdict(drain).items():
            sides["on" if on else "off"][name].append(value)
    return sides


def ratio(sides: dict[str, Any], measure: str = "jobs_per_s") -> float:
    """Median on / median off (one run slowed by a neighbour's burst does not decide it)."""
    on, off = sides["on"][measure], sides["off"][measure]
    return round(statistics.median(on) / statistics.median(off), 3)


def run(args: argparse.Namespace) -> LimitsResult:
    """The three figures."""
    result = LimitsResult(keyed_jobs=args.keyed_jobs, free_jobs=args.free_jobs)
    result.load_average_1m.append(round(os.getloadavg()[0], 2))
    most, drain_s, result.keyed_jobs_deferred = bound(args.keyed_jobs)
    result.most_of_one_key_at_once, result.keyed_drain_s = most, round(drain_s, 2)
    alone = alternating(args.free_jobs)
    result.free_off, result.free_on = alone["off"], alone["on"]
    result.ratio_on_off = ratio(alone)
    result.cpu_ratio_on_off = ratio(alone, "cpu_ms_per_job")
    result.cpu_within_target = result.cpu_ratio_on_off <= 1 / TARGET_RATIO
    result.within_target = (
        result.ratio_on_off >= TARGET_RATIO and result.most_of_one_key_at_once <= LIMIT
    )
    for backend, url in (("store", ""), ("redis", args.redis_url)):
        mixed = alternating(args.free_jobs, MIXED_KEYED, url)
        result.mixed[backend] = {**mixed, "ratio_on_off": ratio(mixed)}
        result.mixed[backend]["cpu_ratio_on_off"] = ratio(mixed, "cpu_ms_per_job")
    result.load_average_1m.append(round(os.getloadavg()[0], 2))
    result.command = " ".join(["python -m benchmarks.limits", *sys.argv[1:]])
    return result


def table(result: LimitsResult) -> str:
    """The figures as a small table."""
    rows = [
        ("keyed jobs / keys / limit per key", f"{result.keyed_jobs} / {KEYS} / {LIMIT}"),
        ("most of one key running at once", str(result.most_of_one_key_at_once)),
        ("keyed drain (s)", f"{result.keyed_drain_s:.2f}"),
        ("keyed jobs deferred at least once", str(result.keyed_jobs_deferred)),
        ("free jobs/s, limits off", _side(result.free_off)),
        ("free jobs/s, limits on", _side(result.free_on)),
        ("on / off (target >= 0.90)", f"{result.ratio_on_off:.3f}"),
        ("CPU per job, on / off", f"{result.cpu_ratio_on_off:.3f}"),
    ]
    for backend, mixed in result.mixed.items():
        name = f"beside {MIXED_KEYED} keyed jobs, slots in the {backend}: on / off"
        rates = f"{mixed['ratio_on_off']:.3f} (CPU per job {mixed['cpu_ratio_on_off']:.3f})"
        rows.append((name, rates))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _side(side: dict[str, list[Any]]) -> str:
    rates = ", ".join(map(str, side["jobs_per_s"]))
    return f"{rates} (slot calls {sum(side['slot_calls'])})"


def main() -> None:
    """Parse the options, run, print, write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.limits", description=__doc__)
    parser.add_argument("--keyed-jobs", type=int, default=2000)
    parser.add_argument("--free-jobs", type=int, default=20000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--output", type=Path, default=RESULTS / "limits.json")
    args = parser.parse_args()
    result = run(args)
    print(table(result))
    args.output.write_text(json.dumps(asdict(result), indent=2) + "\n")


if __name__ == "__main__":
    main()
