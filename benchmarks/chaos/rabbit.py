"""Faults of RabbitMQ itself, on a private node: a restart, a memory alarm, connections closed
by force, a channel closed by ``consumer_timeout``."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import pika
import pika.exceptions

from benchmarks.chaos.fleet import Fleet, Verdict
from benchmarks.chaos.pace import Pace
from benchmarks.chaos.traffic import Answer, Traffic
from benchmarks.rabbitnode import PrivateNode
from benchmarks.rig import Rig

START_TIMEOUT_S = 60.0

CONSUMER_TIMEOUT_MS = 2000


def fleet_on(
    rig: Rig, node: PrivateNode, name: str, *worker_args: str, queue_type: str = "classic"
) -> Fleet:
    """An API and one worker (concurrency 4) on a fresh queue of the node."""
    rig.options.amqp_url = node.url  # where its queues are deleted at the end
    fleet = Fleet(rig, node.url, rig.queue(name))
    fleet.start_api("--queue-type", queue_type)
    fleet.start_worker("worker", "--concurrency", "4", "--queue-type", queue_type, *worker_args)
    return fleet


def broker_restart(rig: Rig, node: PrivateNode, pace: Pace, queue_type: str = "classic") -> Verdict:
    """RabbitMQ stops and starts while clients submit; ``recovery_s`` is the time from the
    node accepting connections again to the API's first 202."""
    fleet = fleet_on(rig, node, "restart", queue_type=queue_type)
    with fleet.traffic(clients=pace.clients, every_s=pace.every_s) as traffic:
        traffic.wait_accepted(pace.before)
        down_s = time.monotonic()
        node.ctl("stop_app")
        time.sleep(pace.fault_s)
        with _first_open(node.url) as back:
            node.ctl("start_app")
        traffic.wait_accepted(pace.after)
    fleet.settle(traffic.accepted(), pace.settle_s)
    return fleet.verdict(
        "broker restart" + ("" if queue_type == "classic" else f" ({queue_type} queues)"),
        traffic,
        recovery_s=_round(traffic.first_accepted_after(back[0])),
        **_outage(traffic.between(down_s, back[0]), "during the outage"),
    )


def memory_alarm(rig: Rig, node: PrivateNode, pace: Pace) -> Verdict:
    """A memory alarm blocks publishing while a worker (status events off, so that nothing it
    does needs a publish) keeps acking a backlog; ``recovery_s`` runs from the alarm's end."""
    fleet = fleet_on(rig, node, "alarm", "--no-status", "--concurrency", "1")
    with fleet.traffic(clients=pace.clients, every_s=pace.every_s, work_ms=20) as traffic:
        traffic.wait_accepted(pace.before)
        node.ctl("set_vm_memory_high_watermark", "0.0000001")
        raised_s, runs_before = time.monotonic(), sum(fleet.runs().values())
        try:
            time.sleep(pace.fault_s)
            runs_during = sum(fleet.runs().values()) - runs_before
        finally:
            node.ctl("set_vm_memory_high_watermark", "0.4")
        cleared_s = time.monotonic()
        traffic.wait_accepted(pace.after)
    fleet.settle(traffic.accepted(), pace.settle_s, tracked=False)
    blocked = traffic.between(raised_s + 1.0, cleared_s)  # a second for the alarm to bite
    return fleet.verdict(
        "memory alarm",
        traffic,
        recovery_s=_round(traffic.first_accepted_after(cleared_s)),
        tracked=False,
        runs_during_alarm=runs_during,
        **_outage(blocked, "during the alarm"),
    )


def connections_closed(rig: Rig, node: PrivateNode, pace: Pace) -> Verdict:
    """``rabbitmqctl close_all_connections`` mid-stream; ``recovery_s`` runs from the close."""
    fleet = fleet_on(rig, node, "closed")
    with fleet.traffic(clients=pace.clients, every_s=pace.every_s, work_ms=50) as traffic:
        traffic.wait_accepted(pace.before)
        closed_s = time.monotonic()
        node.ctl("close_all_connections", "fault test")
        traffic.wait_accepted(pace.after)
    fleet.settle(traffic.accepted(), pace.settle_s)
    recovery = traffic.first_accepted_after(closed_s + 0.001)
    return fleet.verdict("connections closed", traffic, recovery_s=_round(recovery))


def consumer_timeout(rig: Rig, node: PrivateNode, pace: Pace) -> Verdict:
    """A job runs past the node's ``consumer_timeout`` (2 s) the first time: RabbitMQ closes the
    worker's channel, the job comes back and runs again (quickly); short jobs keep flowing
    meanwhile, which keeps the channel awake for the broker's check."""
    node.set_consumer_timeout(CONSUMER_TIMEOUT_MS)  # read by channels as they open
    try:
        fleet = fleet_on(rig, node, "ctimeout")
        _wait_for_line(rig, "worker", "consuming from queue")  # its channel is open
    finally:
        node.set_consumer_timeout(None)
    with fleet.traffic(clients=2, every_s=0.05) as traffic:
        traffic.wait_accepted(pace.before)
        first_ms = CONSUMER_TIMEOUT_MS + 3000
        slow = traffic.submit("slow_once", {"first_ms": first_ms})
        time.sleep(first_ms / 1000 + 1.0)
        traffic.wait_accepted(pace.after)
    fleet.settle(traffic.accepted(), pace.settle_s)
    closed = "PRECONDITION_FAILED" in rig.log("worker").read_text(errors="replace")
    return fleet.verdict(
        "consumer timeout", traffic, slow_job_runs=fleet.runs()[slow], channel_closed=closed
    )


def _wait_for_line(rig: Rig, name: str, text: str, timeout_s: float = START_TIMEOUT_S) -> None:
    """Wait until the log of the process ``name`` holds ``text``."""
    deadline = time.monotonic() + timeout_s
    while text not in rig.log(name).read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} never logged {text!r}: {rig.log_tail(name)}")
        time.sleep(0.05)


def _outage(answers: list[Answer], when: str) -> dict[str, Any]:
    """Figures on the answers given while the broker could not take jobs."""
    refused = [a for a in answers if a.status == 503]
    return {
        f"answers {when}": len(answers),
        f"503 {when}": len(refused),
        "503 without Retry-After": sum(1 for a in refused if not a.retry_after),
        f"slowest answer {when} (s)": _round(max((a.took_s for a in answers), default=0.0)),
    }


@contextlib.contextmanager
def _first_open(url: str) -> Iterator[list[float]]:
    """While the block runs, try AMQP connections to ``url``; the list holds when one opened."""
    opened: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        while not stop.is_set() and not opened:
            with contextlib.suppress(pika.exceptions.AMQPError, OSError):
                pika.BlockingConnection(pika.URLParameters(url)).close()
                opened.append(time.monotonic())
            stop.wait(0.02)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    try:
        yield opened
    finally:
        thread.join(timeout=30.0)
        stop.set()
    if not opened:
        raise RuntimeError("the node did not accept a connection after it started")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


__all__ = ["Traffic", "broker_restart", "connections_closed", "consumer_timeout", "memory_alarm"]
