"""Schedule accuracy: how late delayed jobs start with a million scheduled jobs waiting, and
what those waiting jobs cost jobs due now.

A job store is filled once per run with ``JOBQUEUE_BENCH_SCHEDULED`` (1,000,000) jobs due a
month ahead, written straight into it (``record_scheduled`` in transactions of
:data:`FILL_CHUNK`, not over HTTP). A ``jobqueue api`` process (its promoter) and a
``jobqueue worker`` process then run on it, and a paced client submits:

- delayed jobs, each with a ``run_at`` 1 to 5 s ahead (uniform) that it also puts in the
  payload's ``sent_ns``: the ``stamp`` handler's start minus that is the lateness;
- immediate jobs (``sent_ns`` = the request's start): request to handler start, on the filled
  store and, for comparison, on an empty one (``now_empty_*``).

Beside RabbitMQ the store is a SQLite file, as the rig runs the API by default. The filled file
is written out (fsync) before the API starts.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import os
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from benchmarks.process import stop
from benchmarks.rig import Rig, load_average, percentile
from jobqueue.job import Job, iso_utc
from jobqueue.store import default_store_url, scheduled
from jobqueue.store import events as ev
from jobqueue.store import from_url as store_from_url
from jobqueue.store.sql import SqlStore

FILL_CHUNK = 5000
DELAY_S = (1.0, 5.0)
WAIT_S = 120.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TEMPLATE: dict[int, Path] = {}  # waiting jobs → a filled store file, copied for each run


def waiting_jobs(rig: Rig) -> int:
    """How many far-future jobs wait in the store: ``JOBQUEUE_BENCH_SCHEDULED``, 1,000,000 by
    default (1,000 for ``--quick``)."""
    quick = rig.options.latency_jobs <= 30
    return int(os.environ.get("JOBQUEUE_BENCH_SCHEDULED", 1000 if quick else 1_000_000))


async def _fill(store_url: str, count: int) -> float:
    """Write ``count`` jobs due a month ahead into the store at ``store_url``; seconds taken."""
    store = store_from_url(store_url, counting=False)
    assert isinstance(store, SqlStore)
    await store.connect()
    started = time.perf_counter()
    try:
        await store.upgrade()
        far = ev.utc_now() + timedelta(days=30)
        for start in range(0, count, FILL_CHUNK):
            jobs = [
                Job("stamp", {"n": n}, run_at=ev.to_iso(far + timedelta(milliseconds=n)))
                for n in range(start, min(count, start + FILL_CHUNK))
            ]
            await store._run(functools.partial(_record, jobs=jobs), write=True)
    finally:
        await store.close()
    return time.perf_counter() - started


def _record(connection: sa.Connection, jobs: list[Job]) -> None:
    scheduled.record_scheduled(connection, jobs, None)


def _filled_store(rig: Rig, store_url: str, count: int) -> float:
    """Put a store of ``count`` waiting jobs at ``store_url`` (a SQLite file): filled once,
    then copied; returns the seconds the fill took (0 for a copy)."""
    path = Path(store_url.removeprefix("sqlite:///"))
    if count in _TEMPLATE and _TEMPLATE[count].exists():
        shutil.copyfile(_TEMPLATE[count], path)
        _flush(path)
        return 0.0
    fill_s = asyncio.run(_fill(store_url, count))
    _flush(path)
    folder = Path(tempfile.mkdtemp(prefix="jobqueue-bench-schedule-"))
    atexit.register(shutil.rmtree, folder, True)
    template = folder / f"template-{count}.db"
    shutil.copyfile(path, template)
    _TEMPLATE[count] = template
    return fill_s


def _flush(path: Path) -> None:
    """Write the file out now: else the store's first checkpoint (its fsync) would write the
    whole gigabyte a fresh copy leaves in the page cache, inside the measurement."""
    with path.open("rb+") as file:
        os.fsync(file.fileno())


def _store_url(rig: Rig, broker_url: str) -> str:
    if broker_url.startswith("amqp"):
        return rig.env(broker_url)["JOBQUEUE_STORE_URL"]
    return default_store_url(broker_url)


async def _paced(base: str, count: int, rate: float, delayed: bool) -> list[str]:
    """Submit ``count`` jobs at ``rate`` per second (open loop); their ids."""
    rng = random.Random(7)
    ids: list[str] = []
    async with httpx.AsyncClient(base_url=base, timeout=30.0) as client:

        async def one() -> None:
            now_ns = time.time_ns()
            body: dict[str, Any] = {"type": "stamp"}
            if delayed:
                due_us = now_ns // 1000 + int(rng.uniform(*DELAY_S) * 1e6)
                body["run_at"] = iso_utc(EPOCH + timedelta(microseconds=due_us))
                body["payload"] = {"sent_ns": due_us * 1000}
            else:
                body["payload"] = {"sent_ns": now_ns}
            answer = await client.post("/jobs", json=body)
            if answer.status_code != 202:
                raise RuntimeError(f"answered {answer.status_code}: {answer.text[:200]}")
            ids.append(answer.json()["id"])

        tasks = []
        started = time.perf_counter()
        for n in range(count):
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return ids


def _measure(rig: Rig, ids: list[str], worker: Any, before: int) -> list[float]:
    """Milliseconds from each job's ``sent_ns`` to its handler's start."""
    stamps = rig.wait_stamps(before + len(ids), WAIT_S + DELAY_S[1], worker)
    wanted = set(ids)
    return [(s.started_ns - s.sent_ns) / 1e6 for s in stamps if s.job_id in wanted]


def _run_on(
    rig: Rig, broker_url: str, queue: str, jobs: int, rate: float
) -> tuple[list[float], list[float]]:
    """Delayed lateness and due-now latency (ms) on the store as it is (the stamp file goes on
    from earlier runs)."""
    base, grpc, api = rig.start_api(broker_url, queue)
    worker = rig.start_worker(broker_url, queue, api_grpc=grpc)
    done = rig.stamp_count()
    warm = asyncio.run(_paced(base, 10, rate, delayed=False))
    _measure(rig, warm, worker, done)
    done += len(warm)
    now_ids = asyncio.run(_paced(base, jobs, rate, delayed=False))
    due_now = _measure(rig, now_ids, worker, done)
    done += len(now_ids)
    late_ids = asyncio.run(_paced(base, jobs, rate, delayed=True))
    lateness = _measure(rig, late_ids, worker, done)
    for process in (worker, api):
        stop(process)
        rig.processes.remove(process)
    return lateness, due_now


def _schedule(rig: Rig, broker_url: str) -> dict[str, Any]:
    count = waiting_jobs(rig)
    jobs, rate = rig.options.latency_jobs, min(rig.options.latency_rate, 50.0)
    empty_queue = rig.queue_on(broker_url, "schedule-empty")
    _, empty_now = _run_on(rig, broker_url, empty_queue, jobs, rate)
    if broker_url.startswith("sqlite"):
        broker_url = rig.sqlite_url("filled")
    else:
        rig.extra_env["JOBQUEUE_STORE_URL"] = f"sqlite:///{rig.folder / 'filled-state.db'}"
    store_url = _store_url(rig, broker_url)
    fill_s = _filled_store(rig, store_url, count)
    lateness, due_now = _run_on(rig, broker_url, rig.queue_on(broker_url, "schedule"), jobs, rate)
    return {
        "load_avg": load_average(),
        "waiting": count,
        "jobs": len(lateness),
        "fill_s": fill_s,
        "late_p50_ms": percentile(lateness, 0.50),
        "late_p99_ms": percentile(lateness, 0.99),
        "late_max_ms": max(lateness),
        "early_jobs": sum(1 for value in lateness if value < 0),
        "now_p50_ms": percentile(due_now, 0.50),
        "now_p99_ms": percentile(due_now, 0.99),
        "now_empty_p50_ms": percentile(empty_now, 0.50),
        "now_empty_p99_ms": percentile(empty_now, 0.99),
    }


def schedule_sqlite(rig: Rig) -> dict[str, Any]:
    """One run on the embedded broker, the store beside it."""
    return _schedule(rig, rig.sqlite_url())


def schedule_rabbitmq(rig: Rig) -> dict[str, Any]:
    """One run on RabbitMQ, the store a SQLite file."""
    return _schedule(rig, rig.options.amqp_url)
