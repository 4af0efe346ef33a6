"""``python -m benchmarks [FIGURE ...]``: run the performance figures, print a table, write JSON.

    python -m benchmarks                      # every figure, 3 runs each (a few minutes)
    python -m benchmarks drain-rabbitmq       # one figure
    python -m benchmarks memory --memory-jobs 20000  # a shorter memory figure
    python -m benchmarks --quick              # every code path once, tiny sizes

Each figure starts the processes it needs (API, workers, bare clients, the load generator) on
free ports and unique queue names, and stops and deletes them afterwards. RabbitMQ is taken
from ``--amqp-url`` (or ``JOBQUEUE_BENCH_AMQP_URL``); SQLite files live in a temp folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks.figures import BY_NAME, FIGURES
from benchmarks.report import RESULTS, FigureResult, Spec, collect, git_state, table, write
from benchmarks.rig import DEFAULT_AMQP_URL, Options, rig
from jobqueue.brokers import redact_url


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("figures", nargs="*", metavar="FIGURE", help=", ".join(BY_NAME))
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run (smoke test)")
    parser.add_argument("--runs", type=int, help="runs per figure (default 3)")
    parser.add_argument("--drain-jobs", type=int, help="jobs per drain (default 20000)")
    parser.add_argument("--duration-s", type=float, help="HTTP load per submit run (default 5)")
    parser.add_argument("--latency-jobs", type=int, help="jobs per latency run (default 500)")
    parser.add_argument("--e2e-jobs", type=int, help="jobs per end-to-end run (default 20000)")
    parser.add_argument("--memory-jobs", type=int, help="jobs in the memory figure (300000)")
    parser.add_argument("--concurrency", type=int, help="worker concurrency (its default: 8)")
    parser.add_argument("--log-level", help="of the API and workers (default INFO, theirs)")
    parser.add_argument(
        "--amqp-url", default=os.environ.get("JOBQUEUE_BENCH_AMQP_URL", DEFAULT_AMQP_URL)
    )
    parser.add_argument(
        "--store-url", help="job store beside RabbitMQ (default: a fresh SQLite file per run)"
    )
    parser.add_argument(
        "--status",
        action=argparse.BooleanOptionalAction,
        help="workers' status events on/off (default: the workers' default)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample the measured processes with py-spy; profiles and summaries into DIR",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--keep-logs", action="store_true", help="keep each run's temp folder")
    return parser


def options_from(args: argparse.Namespace) -> Options:
    """The options the arguments ask for, over the defaults (or the quick sizes)."""
    base = Options.quick() if args.quick else Options()
    chosen: dict[str, Any] = {
        "runs": args.runs,
        "drain_jobs": args.drain_jobs,
        "submit_duration_s": args.duration_s,
        "latency_jobs": args.latency_jobs,
        "e2e_jobs": args.e2e_jobs,
        "memory_jobs": args.memory_jobs,
        "concurrency": args.concurrency,
        "log_level": args.log_level,
        "amqp_url": args.amqp_url,
        "store_url": args.store_url,
        "status": args.status,
        "keep_logs": args.keep_logs or None,
        "profile_dir": args.profile,
    }
    return dataclasses.replace(base, **{k: v for k, v in chosen.items() if v is not None})


def run_figure(spec: Spec, options: Options) -> FigureResult:
    """Run one figure ``runs`` times (or its fixed count); a failed run ends the figure."""
    runs: list[dict[str, Any]] = []
    count = spec.fixed_runs or options.runs
    error = None
    for index in range(count):
        started = time.monotonic()
        try:
            with rig(options, spec.name) as current:
                record = spec.measure(current)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            traceback.print_exc(file=sys.stderr)
            break
        record["duration_s"] = round(time.monotonic() - started, 1)
        runs.append(record)
        shown = ", ".join(
            f"{m.label} {record[m.key]:,.{m.decimals}f}"
            for m in spec.metrics
            if isinstance(record.get(m.key), int | float)
        )
        print(f"{spec.name} run {index + 1}/{count}: {shown}", file=sys.stderr, flush=True)
    return collect(spec, runs, error)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen figures (all by default); exit 1 if one could not be measured."""
    args = _parser().parse_args(argv)
    unknown = [name for name in args.figures if name not in BY_NAME]
    if unknown:
        print(f"unknown figure(s) {', '.join(unknown)}; choose from {', '.join(BY_NAME)}")
        return 2
    options = options_from(args)
    specs = [BY_NAME[name] for name in args.figures] or list(FIGURES)
    print(f"RabbitMQ: {redact_url(options.amqp_url)}; runs: {options.runs}", file=sys.stderr)
    git_at_start = git_state()
    results = [run_figure(spec, options) for spec in specs]
    print(table(results))
    recorded = {
        **dataclasses.asdict(options),
        "amqp_url": redact_url(options.amqp_url),
        "store_url": options.store_url and redact_url(options.store_url),
        "profile_dir": options.profile_dir and str(options.profile_dir),
    }
    every = len(specs) == len(FIGURES)
    write(results, args.results_dir, recorded, summary=every, git_at_start=git_at_start)
    written = "one file per figure" + (", summary.json" if every else "")
    print(f"\nJSON in {args.results_dir}/: {written}")
    return 1 if any(r.error is not None for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
