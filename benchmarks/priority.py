"""What priority ordering costs: one worker drains no-op jobs of mixed priorities against as
many all at the default, on the embedded broker and on RabbitMQ.

Each side is the drain figure's run (``benchmarks.drain``: jobs pre-loaded with the broker API,
then one ``--burst`` worker, its rate timed by the ``stamp`` handler). The mixed jobs take the
priorities 0 to 9 in turn. On the embedded broker both sides use the same schema and claim (its
order always holds); on RabbitMQ the default side uses the original topology and the mixed side
a queue declared with ``x-max-priority`` 10 (``JOBQUEUE_PRIORITIES=10`` for the worker), and a
third side, all at the default on a queue declared with it, tells the declaration's cost from
the mixing's. Each run measures the sides in turn and then backwards (default, mixed, ...,
mixed, default), each on a fresh queue or file, and takes each side's mean, so a drift of the
shared machine weighs on all alike. Ratios are to the default side.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from benchmarks.drain import _drain
from benchmarks.rig import Rig, load_average, padded_job
from jobqueue.brokers import from_url
from jobqueue.job import MAX_PRIORITY, Job

PRELOAD_BATCH = 500
MAX_PRIORITY_ARGUMENT = 10  # what the README advises for priorities 0-9


async def _preload(url: str, queue: str, count: int, mixed: bool, declared: bool) -> float:
    """Publish ``count`` stamp jobs (priorities 0-9 in turn if ``mixed``) to a queue declared
    with priorities if ``declared``; jobs per second."""
    broker = from_url(url, queue=queue, priorities=MAX_PRIORITY_ARGUMENT if declared else 0)
    await broker.connect()
    template = padded_job()
    jobs = [
        Job(template.type, template.payload, priority=n % (MAX_PRIORITY + 1) if mixed else 0)
        for n in range(count)
    ]
    try:
        started = time.perf_counter()
        for at in range(0, count, PRELOAD_BATCH):
            await broker.publish(jobs[at : at + PRELOAD_BATCH])
        return count / (time.perf_counter() - started)
    finally:
        await broker.close()


@contextmanager
def _worker_priorities(rig: Rig, declared: bool) -> Iterator[None]:
    rig.extra_env["JOBQUEUE_PRIORITIES"] = str(MAX_PRIORITY_ARGUMENT if declared else 0)
    try:
        yield
    finally:
        rig.extra_env.pop("JOBQUEUE_PRIORITIES")


SIDES = {"default": (False, False), "mixed": (True, True), "declared": (False, True)}
"""Each side's jobs (mixed priorities or not) and queue (declared with priorities or not)."""


def _side(rig: Rig, amqp: bool, side: str, turn: int) -> dict[str, Any]:
    name = f"prio-{side}-{turn}"
    url = rig.options.amqp_url if amqp else rig.sqlite_url(name)
    queue = rig.queue(name) if amqp else "jobs"
    count, (mixed, declared) = rig.options.drain_jobs, SIDES[side]
    with _worker_priorities(rig, declared):
        published = asyncio.run(_preload(url, queue, count, mixed, declared))
        drained = _drain(rig, url, queue, count)
    return {
        "jobs_per_s": drained["jobs_per_s"],
        "cpu_us": drained["worker_cpu_us"],
        "pub": published,
    }


def _compare(rig: Rig, amqp: bool) -> dict[str, float]:
    """The sides there and back: each side's mean rate and CPU per job, and its ratio."""
    sides = ["default", "mixed", "declared"] if amqp else ["default", "mixed"]
    order = [*sides, *reversed(sides)]
    runs = [(side, _side(rig, amqp, side, turn)) for turn, side in enumerate(order)]
    record: dict[str, float] = {}
    for side in sides:
        pair = [run for name, run in runs if name == side]
        record[f"{side}_jobs_per_s"] = sum(run["jobs_per_s"] for run in pair) / 2
        record[f"{side}_worker_cpu_us"] = sum(run["cpu_us"] for run in pair) / 2
        record[f"{side}_publish_per_s"] = sum(run["pub"] for run in pair) / 2
    for side in sides[1:]:
        ratio = record[f"{side}_jobs_per_s"] / record["default_jobs_per_s"]
        record["ratio" if side == "mixed" else f"{side}_ratio"] = ratio
    return record


def priority_cost(rig: Rig) -> dict[str, Any]:
    """One run: the embedded broker's comparison, then RabbitMQ's."""
    record: dict[str, Any] = {"load_avg_before": load_average()}
    record.update({f"sqlite_{key}": value for key, value in _compare(rig, amqp=False).items()})
    record.update({f"rabbitmq_{key}": value for key, value in _compare(rig, amqp=True).items()})
    record["load_avg_after"] = load_average()
    return record
