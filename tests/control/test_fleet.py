"""What the fleet serves, told to workers in replies, and workers on another broker refused."""

from __future__ import annotations

import dataclasses

from jobqueue.control.client import ControlClient
from jobqueue.control.server import ControlServer
from jobqueue.registry import WorkerInfo, WorkerReport, WorkerState
from jobqueue.registry.fleet import ServedTypes, served_types
from jobqueue.registry.memory import InMemoryRegistry
from jobqueue.worker.stats import WorkerStats
from tests.control.conftest import worker_stats
from tests.worker.conftest import eventually

INTERVAL_S = 0.1
API_BROKER = "sqlite:////srv/app/jobqueue.db"


def info(worker_id: str, **report: object) -> WorkerInfo:
    return WorkerInfo(worker_id, WorkerReport(**report), 0.0, 0.0, 0.0)  # type: ignore[arg-type]


def test_the_served_types_are_those_of_live_workers_of_the_queue_taking_jobs() -> None:
    workers = [
        info("a", job_types=("email",), queue="jobs"),
        info("b", job_types=("resize",), queue="jobs", state=WorkerState.PAUSED),
        info("c", job_types=("report",), queue="other"),
        info("d", job_types=("pdf",), queue="jobs", state=WorkerState.DRAINING),
        info("e", job_types=("csv",), queue="jobs", state=WorkerState.DRAINED),
    ]
    assert served_types(workers, "jobs") == ServedTypes(frozenset({"email", "resize"}))


def test_a_worker_that_names_no_types_may_serve_any() -> None:
    served = served_types([info("original")], "jobs")  # the original worker: no details
    assert served.any_type
    assert served.serves("anything")


def stats_on(broker: str, job_types: tuple[str, ...] = ("email",)) -> WorkerStats:
    return dataclasses.replace(worker_stats(), broker=broker, job_types=job_types)


async def test_replies_tell_the_worker_what_the_fleet_serves() -> None:
    registry = InMemoryRegistry()
    await registry.register("other", WorkerReport(job_types=("resize",), queue="jobs"))
    seen: list[ServedTypes] = []
    async with ControlServer(registry, "127.0.0.1:0", broker=API_BROKER) as server:
        client = ControlClient(
            f"127.0.0.1:{server.port}",
            lambda: stats_on(API_BROKER),
            lambda command: None,
            interval_s=INTERVAL_S,
            on_fleet=seen.append,
        )
        await client.start()
        try:
            await eventually(lambda: len(seen) >= 2)
        finally:
            await client.stop()
    assert seen[-1] == ServedTypes(frozenset({"email", "resize"}))


async def test_a_worker_on_another_embedded_broker_file_is_refused_and_told_why() -> None:
    registry = InMemoryRegistry()
    refusals: list[str] = []
    async with ControlServer(registry, "127.0.0.1:0", broker=API_BROKER) as server:
        client = ControlClient(
            f"127.0.0.1:{server.port}",
            lambda: stats_on("sqlite:////home/me/jobqueue.db"),
            lambda command: None,
            interval_s=INTERVAL_S,
            on_refused=refusals.append,
        )
        await client.start()
        try:
            await eventually(lambda: refusals)
        finally:
            await client.stop()
        assert await registry.workers() == []
    assert refusals == [
        f"this API's broker is {API_BROKER}, the worker's is sqlite:////home/me/jobqueue.db: "
        f"start the worker with --broker-url {API_BROKER}"
    ]
    assert client.refusal == refusals[0]


async def test_a_worker_on_the_same_file_or_one_that_does_not_say_is_accepted() -> None:
    registry = InMemoryRegistry()
    async with ControlServer(registry, "127.0.0.1:0", broker=API_BROKER) as server:
        for worker_id, broker in [("same", API_BROKER), ("silent", "")]:
            stats = dataclasses.replace(stats_on(broker), worker_id=worker_id)
            client = ControlClient(
                f"127.0.0.1:{server.port}", lambda s=stats: s, lambda c: None, INTERVAL_S
            )
            await client.start()
            await eventually(lambda c=client: c.registered)
            await client.stop()
            assert client.refusal is None
