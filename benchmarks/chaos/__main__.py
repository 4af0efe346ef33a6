"""``python -m benchmarks.chaos [FAULT ...]``: the fault catalog as figures, longer than in tests.

    python -m benchmarks.chaos                   # every fault, 2 runs each (about 10 minutes)
    python -m benchmarks.chaos restart disk-full # some of them
    python -m benchmarks.chaos --quick           # the tests' sizes, one run

RabbitMQ faults run on a private node this command starts (and always stops) in a temp folder;
SQLite ones on a fresh file. Each run prints what the fault did to the jobs clients were told
were accepted: lost (must be 0), duplicates, unfinished, answers by status, and its recovery
figure. The table goes to ``benchmarks/results/chaos-faults.json`` too. The worker-kill figure
of earlier is ``python -m benchmarks.chaos.kills``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from benchmarks.chaos import disk, processes, rabbit
from benchmarks.chaos.fleet import Verdict
from benchmarks.chaos.pace import Pace
from benchmarks.rabbitnode import PrivateNode
from benchmarks.report import RESULTS
from benchmarks.rig import Options, Rig, rig

Fault = Callable[[Rig, PrivateNode, Pace], Verdict]


def _sqlite(rig: Rig) -> tuple[str, str]:
    return rig.sqlite_url("jobs"), "jobs"


def _node(rig: Rig, node: PrivateNode) -> tuple[str, str]:
    rig.options.amqp_url = node.url
    return node.url, rig.queue("chaos")


FAULTS: dict[str, Fault] = {
    "restart": rabbit.broker_restart,
    "restart-quorum": lambda r, n, p: rabbit.broker_restart(r, n, p, "quorum"),
    "memory-alarm": rabbit.memory_alarm,
    "connections-closed": rabbit.connections_closed,
    "consumer-timeout": rabbit.consumer_timeout,
    "worker-freeze-rabbitmq": lambda r, n, p: processes.worker_freeze(r, *_node(r, n), p),
    "worker-freeze-sqlite": lambda r, n, p: processes.worker_freeze(r, *_sqlite(r), p),
    "api-kill-rabbitmq": lambda r, n, p: processes.api_killed(r, *_node(r, n), p, kills=3),
    "api-kill-sqlite": lambda r, n, p: processes.api_killed(r, *_sqlite(r), p, kills=3),
    "disk-full": lambda r, n, p: disk.full_disk(r, p),
    "commit-kill": lambda r, n, p: disk.commit_killed(r, p),
}


def main() -> None:
    """Run the faults asked for, print each verdict and the table, write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chaos", description=__doc__)
    parser.add_argument("faults", nargs="*", metavar="FAULT", help=", ".join(FAULTS))
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="the tests' sizes, one run")
    args = parser.parse_args()
    unknown = set(args.faults) - set(FAULTS)
    if unknown:
        parser.error(f"unknown fault(s): {', '.join(sorted(unknown))}")
    pace = Pace() if args.quick else Pace.long()
    runs = 1 if args.quick else args.runs
    verdicts = run_all(args.faults or list(FAULTS), pace, runs)
    print(table(verdicts))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "chaos-faults.json"
    out.write_text(json.dumps([dataclasses.asdict(v) for v in verdicts], indent=2) + "\n")
    if any(v.lost or v.unfinished for v in verdicts):
        sys.exit("accepted jobs were lost or left unfinished")


def run_all(names: list[str], pace: Pace, runs: int) -> list[Verdict]:
    """Each fault ``runs`` times on one private node, stopped at the end whatever happens."""
    node = PrivateNode(Path(tempfile.mkdtemp(prefix="jobqueue-chaos-node-")))
    node.start()
    verdicts = []
    try:
        for name in names:
            for _ in range(runs):
                with rig(Options(log_level="INFO"), name) as current:
                    verdict = FAULTS[name](current, node, pace)
                print(json.dumps(dataclasses.asdict(verdict)), flush=True)
                verdicts.append(verdict)
    finally:
        node.stop()
    return verdicts


def table(verdicts: list[Verdict]) -> str:
    """One line per run: the fault, its broker and what became of the accepted jobs."""
    head = "| fault | broker | accepted | lost | duplicates | unfinished | 503s | recovery s |"
    lines = [head, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for v in verdicts:
        recovery = "-" if v.recovery_s is None else f"{v.recovery_s:.3f}"
        lines.append(
            f"| {v.fault} | {v.broker} | {v.accepted} | {v.lost} | {v.duplicates} "
            f"| {v.unfinished} | {v.statuses.get(503, 0)} | {recovery} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
