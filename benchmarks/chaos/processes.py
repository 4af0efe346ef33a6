"""Faults of our own processes, on either broker: a worker frozen (SIGSTOP, later SIGCONT), the
API killed (SIGKILL) while batches are in flight."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

from benchmarks.chaos.fleet import Fleet, Verdict
from benchmarks.chaos.pace import Pace
from benchmarks.rig import Rig

# How soon the broker gives up on a frozen worker: RabbitMQ after two missed heartbeats of
# this interval, the embedded broker when the worker's leases (not extended) expire.
HEARTBEAT_S = 2
LEASE_S = 2.0
FROZEN_MAX_S = 30.0


def worker_freeze(rig: Rig, broker_url: str, queue: str, pace: Pace) -> Verdict:
    """One worker is frozen holding jobs; another takes them once the broker gives up on it;
    the frozen one then resumes and finishes its copies late. ``recovery_s`` runs from the
    freeze to every job it held having run elsewhere."""
    fleet = Fleet(rig, broker_url, queue)
    fleet.start_api()
    url, extra = _giving_up(broker_url)
    frozen = fleet.start_worker("worker", "--concurrency", "4", *extra, url=url)
    # Fewer jobs than the workers can run, so that no backlog hides how soon the jobs come back.
    with fleet.traffic(clients=2, every_s=0.1, work_ms=100) as traffic:
        traffic.wait_accepted(pace.before)
        _wait(lambda: sum(fleet.runs().values()) > 0, "the first worker ran nothing")
        frozen.send_signal(signal.SIGSTOP)
        frozen_s, held = time.monotonic(), traffic.accepted()
        try:
            fleet.start_worker("rescuer", "--concurrency", "4")
            _wait(lambda: held <= set(fleet.runs()), "the frozen worker's jobs never came back")
            recovered_s = time.monotonic() - frozen_s
        finally:
            frozen.send_signal(signal.SIGCONT)
        traffic.wait_accepted(pace.after)
    time.sleep(1.0)  # what the frozen worker finishes late, it finishes now
    fleet.settle(traffic.accepted(), pace.settle_s)
    return fleet.verdict("worker frozen", traffic, recovery_s=round(recovered_s, 3))


def api_killed(rig: Rig, broker_url: str, queue: str, pace: Pace, kills: int = 1) -> Verdict:
    """The API is SIGKILLed ``kills`` times while clients post batches of 20, and started again
    on the same ports; ``recovery_s`` is the longest from a kill to the next 202."""
    fleet = Fleet(rig, broker_url, queue)
    api = fleet.start_api()
    fleet.start_worker("worker", "--concurrency", "4")
    gaps, cut = [], 0
    with fleet.traffic(clients=pace.clients, every_s=pace.every_s, batch=20) as traffic:
        for _ in range(kills):
            traffic.wait_accepted(pace.before)
            api.kill()
            api.wait()
            killed_s = time.monotonic()
            api = fleet.start_api()
            traffic.wait_accepted(1)
            gaps.append(traffic.first_accepted_after(killed_s) or 0.0)
            cut += sum(1 for a in traffic.between(killed_s - 0.5, killed_s + 0.5) if not a.status)
        traffic.wait_accepted(pace.after)
    fleet.settle(traffic.accepted(), pace.settle_s)
    return fleet.verdict(
        "API killed mid-batch", traffic, recovery_s=round(max(gaps), 3), kills=kills, cut=cut
    )


def _giving_up(broker_url: str) -> tuple[str, list[str]]:
    """The URL and flags of a worker the broker gives up on soon once it stops answering."""
    if broker_url.startswith("amqp"):
        sep = "&" if "?" in broker_url else "?"
        return f"{broker_url}{sep}heartbeat={HEARTBEAT_S}", []
    return broker_url, ["--sqlite-lease-s", str(LEASE_S)]


def _wait(check: Callable[[], bool], failure: str, timeout_s: float = FROZEN_MAX_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(failure)
        time.sleep(0.05)
