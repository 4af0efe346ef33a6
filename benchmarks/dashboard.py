"""Idle dashboards: what ``--streams`` open ``/ui`` pages cost one ``jobqueue api`` process.

    python -m benchmarks.dashboard                       # 50 streams for 30 s
    python -m benchmarks.dashboard --streams 10 --duration-s 5

Starts a real ``jobqueue api`` (SQLite broker and store in a temp dir) and one worker that
heartbeats, measures the API's CPU for ``--baseline-s`` with no dashboard open, then opens
``--streams`` Server-Sent Events streams (``/ui/stream``, the page kinds of ``--pages`` in
turn, as browsers showing those pages would) from one asyncio client and measures the API's
CPU again for ``--duration-s``. The streams' cost is the difference, in per cent of one core
(psutil, from outside the process). Prints a table and writes
``benchmarks/results/dashboard-idle.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import psutil

from benchmarks.process import free_port, start, stop, wait_ready

RESULTS = Path(__file__).resolve().parent / "results"
BUDGET_PERCENT = 5.0
"""The most the open dashboards may cost the API, in per cent of one core."""


@dataclass
class DashboardResult:
    """One run's figures."""

    streams: int
    pages: list[str]
    duration_s: float
    baseline_cpu_percent: float
    streams_cpu_percent: float
    cost_cpu_percent: float
    budget_percent: float
    within_budget: bool
    events: int
    keepalives: int
    bytes_received: int
    streams_open_at_end: int
    api_rss_mib: float
    command: str


@dataclass
class Tally:
    """What the streams received."""

    events: int = 0
    keepalives: int = 0
    bytes: int = 0
    open: int = 0


async def listen(client: httpx.AsyncClient, url: str, tally: Tally, stop_at: float) -> None:
    """Hold one stream open until ``stop_at``, counting what arrives."""
    try:
        async with client.stream("GET", url, timeout=httpx.Timeout(5.0, read=None)) as answer:
            answer.raise_for_status()
            tally.open += 1
            try:
                async for line in answer.aiter_lines():
                    tally.bytes += len(line) + 1
                    if line.startswith("event:"):
                        tally.events += 1
                    elif line.startswith(": keepalive"):
                        tally.keepalives += 1
                    if time.monotonic() >= stop_at:
                        break
            finally:
                tally.open -= 1
    except (httpx.HTTPError, asyncio.CancelledError):
        pass


def cpu_seconds(process: psutil.Process) -> float:
    """User and system CPU the process has used so far."""
    times = process.cpu_times()
    return float(times.user + times.system)


async def measure(process: psutil.Process, seconds: float) -> float:
    """The process's CPU over the next ``seconds``, in per cent of one core."""
    before, started = cpu_seconds(process), time.monotonic()
    await asyncio.sleep(seconds)
    return 100.0 * (cpu_seconds(process) - before) / (time.monotonic() - started)


async def run(base: str, api: psutil.Process, args: argparse.Namespace) -> DashboardResult:
    """Baseline, then the streams, on the running API."""
    baseline = await measure(api, args.baseline_s)
    pages = args.pages.split(",")
    tally = Tally()
    limits = httpx.Limits(max_connections=args.streams + 4)
    async with httpx.AsyncClient(base_url=base, limits=limits) as client:
        stop_at = time.monotonic() + args.warmup_s + args.duration_s + 60.0
        tasks = [
            asyncio.create_task(
                listen(client, f"/ui/stream?page={pages[n % len(pages)]}", tally, stop_at)
            )
            for n in range(args.streams)
        ]
        await asyncio.sleep(args.warmup_s)  # every stream open and sent its first snapshot
        streamed = await measure(api, args.duration_s)
        still_open = tally.open
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    cost = streamed - baseline
    return DashboardResult(
        streams=args.streams,
        pages=pages,
        duration_s=args.duration_s,
        baseline_cpu_percent=round(baseline, 2),
        streams_cpu_percent=round(streamed, 2),
        cost_cpu_percent=round(cost, 2),
        budget_percent=BUDGET_PERCENT,
        within_budget=cost < BUDGET_PERCENT,
        events=tally.events,
        keepalives=tally.keepalives,
        bytes_received=tally.bytes,
        streams_open_at_end=still_open,
        api_rss_mib=round(api.memory_info().rss / 2**20, 1),
        command=" ".join(["python -m benchmarks.dashboard", *sys.argv[1:]]),
    )


def run_stack(args: argparse.Namespace) -> DashboardResult:
    """Start the API and a worker in a temp dir, measure, stop them."""
    with tempfile.TemporaryDirectory(prefix="jq-dashboard-") as folder:
        http, grpc_addr = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
        broker = f"sqlite:///{Path(folder) / 'jq.db'}"
        log = Path(folder) / "processes.log"
        api = start(
            ["api", "--broker-url", broker, "--http-addr", http, "--grpc-addr", grpc_addr], {}, log
        )
        worker = None
        try:
            wait_ready(f"http://{http}")
            worker = start(
                [
                    *("worker", "--app", "benchmarks.handlers:handlers"),
                    *("--broker-url", broker, "--api-grpc", grpc_addr),
                ],
                {"JOBQUEUE_HEARTBEAT_INTERVAL_S": "5"},
                log,
            )
            time.sleep(2.0)  # registered, first heartbeats in
            return asyncio.run(run(f"http://{http}", psutil.Process(api.pid), args))
        finally:
            if worker is not None:
                stop(worker)
            stop(api)


def table(result: DashboardResult) -> str:
    """The figures as a few lines."""
    verdict = "within" if result.within_budget else "OVER"
    return "\n".join(
        [
            f"{result.streams} idle dashboard streams ({', '.join(result.pages)}), "
            f"{result.duration_s:g} s:",
            f"  API CPU without dashboards  {result.baseline_cpu_percent:6.2f} % of one core",
            f"  API CPU with them           {result.streams_cpu_percent:6.2f} %",
            f"  their cost                  {result.cost_cpu_percent:6.2f} % "
            f"({verdict} the {result.budget_percent:g} % budget)",
            f"  events received {result.events}, keepalives {result.keepalives}, "
            f"{result.bytes_received} bytes; open at the end {result.streams_open_at_end}",
        ]
    )


def main() -> None:
    """Run, print, write the results file."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.dashboard", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--streams", type=int, default=50, help="open dashboards (default 50)")
    parser.add_argument("--duration-s", type=float, default=30.0, help="measured (default 30)")
    parser.add_argument("--baseline-s", type=float, default=10.0, help="without streams (10)")
    parser.add_argument("--warmup-s", type=float, default=5.0, help="after opening (default 5)")
    parser.add_argument(
        "--pages",
        default="overview,jobs,dlq,workers",
        help="page kinds, in turn (overview,jobs,dlq,workers)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "dashboard-idle.json")
    args = parser.parse_args()
    result = run_stack(args)
    print(table(result))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(asdict(result), indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
