"""What the metrics cost: the submit and drain figures with metrics off, then on (and scraped),
in the same run.

1. ``submit-http`` (``POST /jobs``, 32 connections, RabbitMQ) against two APIs started side by
   side, one with ``JOBQUEUE_METRICS=off`` and one with metrics on, each with a store and a
   queue of its own. The load goes to one at a time in short slices, off and on in turn
   (off-on, on-off, ...), and the on API is scraped at the start of every other one of its
   slices: one scrape per 5 s of load, three times Prometheus' default rate (every 15 s).
   A shared machine's speed drifts over seconds; slices this short put the same drift on
   both sides, where one long run each would not. Each slice's queue is purged after it, so
   neither queue grows.
2. The status drain on the embedded broker: an API (metrics off, then on and scraped) applies
   the status events of one burst worker draining N no-op jobs; the worker's rate, the API's
   CPU per job (where the counting in the store happens) and the store's lag after the drain.
   Measured off, on, on, off, each side the mean of its two.

Ratios are on / off; the target is at least 0.97 (within 3 %).
"""

from __future__ import annotations

import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks.process import stop
from benchmarks.rig import Rig, cpu_s, delete_queues, load, percentile, purge_queue, request_body
from benchmarks.status import _drain, _start_api, _store_caught_up_s

SCRAPE_EVERY_S = 5.0


@contextmanager
def _switch(rig: Rig, on: bool) -> Iterator[None]:
    rig.extra_env["JOBQUEUE_METRICS"] = "on" if on else "off"
    try:
        yield
    finally:
        rig.extra_env.pop("JOBQUEUE_METRICS")


@contextmanager
def _scraping(base_url: str | None) -> Iterator[list[int]]:
    """Scrape ``base_url``/metrics every ``SCRAPE_EVERY_S`` in a thread (nothing for None);
    the scrapes made."""
    scrapes: list[int] = []
    stop = threading.Event()

    def scrape() -> None:
        with httpx.Client(timeout=10) as client:
            while True:  # at once, then every interval until the load ends
                if client.get(f"{base_url}/metrics").status_code == 200:
                    scrapes.append(1)
                if stop.wait(SCRAPE_EVERY_S):
                    return

    thread = threading.Thread(target=scrape, daemon=True) if base_url else None
    if thread is not None:
        thread.start()
    try:
        yield scrapes
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=15)


SLICE_PAIRS = 6
SLICE_S = 2.0
SLICE_WARMUP_S = 0.5


@dataclass
class _SubmitTarget:
    """One of the two APIs the submit slices load."""

    base_url: str
    process: subprocess.Popen[bytes]
    queue: str
    on: bool


def _start_target(rig: Rig, on: bool) -> _SubmitTarget:
    url, label = rig.options.amqp_url, "on" if on else "off"
    queue = rig.queue_on(url, f"submit-{label}")
    store = f"sqlite:///{rig.folder / f'state-{label}.db'}"
    with _switch(rig, on):
        base_url, _, process = rig.start_api(url, queue, ["--store-url", store])
    return _SubmitTarget(base_url, process, queue, on)


def _slice(rig: Rig, target: _SubmitTarget, body_file: Path, scrape: bool) -> dict[str, float]:
    """One slice of load on ``target`` (``scrape``: its ``/metrics`` read as it starts); its
    queue purged after."""
    args = ["closed", f"{target.base_url}/jobs", str(body_file)]
    args += ["--connections", str(rig.options.submit_connections)]
    args += ["--duration-s", str(SLICE_S), "--warmup-s", str(SLICE_WARMUP_S)]
    with _scraping(target.base_url if scrape else None) as scrapes:
        before_s = cpu_s(target.process.pid)
        result = load(args)
        api_cpu_s = cpu_s(target.process.pid) - before_s
    if scrape and not scrapes:
        raise RuntimeError("/metrics was never scraped")
    if set(result["statuses"]) != {"202"} or result["errors"]:
        raise RuntimeError(f"answers other than 202: {result['statuses']}, {result['errors']}")
    purge_queue(rig.options.amqp_url, target.queue)
    return {
        "jobs_per_s": result["requests"] / result["elapsed_s"],
        "api_cpu_us": 1e6 * api_cpu_s / max(1, result["answered_in_all"]),
        "p99_ms": percentile(result["latencies_ms"], 0.99),
    }


def _submit_slices(rig: Rig) -> dict[bool, list[dict[str, float]]]:
    """Both APIs up, loaded in turn: off-on, on-off, ... ``SLICE_PAIRS`` times; the on API
    scraped in every other pair."""
    targets = {on: _start_target(rig, on) for on in (False, True)}
    body_file = rig.folder / "body.json"
    body_file.write_bytes(request_body(1))
    measured: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    try:
        for pair in range(SLICE_PAIRS):
            for on in (False, True) if pair % 2 == 0 else (True, False):
                scrape = on and pair % 2 == 0
                measured[on].append(_slice(rig, targets[on], body_file, scrape))
    finally:
        for target in targets.values():
            stop(target.process)
        delete_queues(rig.options.amqp_url, [target.queue for target in targets.values()])
    return measured


def _status_drain(rig: Rig, on: bool) -> dict[str, Any]:
    url, queue, count = (
        rig.sqlite_url(f"metrics-{uuid.uuid4().hex[:8]}"),
        "jobs",
        rig.options.drain_jobs,
    )
    with _switch(rig, on):
        base_url, api = _start_api(rig, url, queue, None)
    with _scraping(base_url if on else None) as scrapes:
        api_before_s = cpu_s(api.pid)
        drained = _drain(rig, url, queue, count, status=True, api=api)
        lag_s = _store_caught_up_s(base_url, count)
        api_cpu_us = 1e6 * (cpu_s(api.pid) - api_before_s) / count
    stop(api)  # before the next part, which must not share the cores with it
    if on and not scrapes:
        raise RuntimeError("/metrics was never scraped")
    return {**drained, "api_cpu_us_per_job": api_cpu_us, "store_lag_s": lag_s}


ORDER = (False, True, True, False)
"""The drain's order: off, on, on, off; each side's mean then has the same drift in it."""


def _mean(runs: list[dict[str, float]], key: str) -> float:
    return sum(run[key] for run in runs) / len(runs)


def metrics_cost(rig: Rig) -> dict[str, Any]:
    """One run: the submit slices, then the drain off, on, on, off."""
    record: dict[str, Any] = {}
    for on, runs in _submit_slices(rig).items():
        label = "on" if on else "off"
        for key in ("jobs_per_s", "api_cpu_us", "p99_ms"):
            record[f"{label}_submit_{key}"] = _mean(runs, key)
    drains: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for on in ORDER:
        drains[on].append(_status_drain(rig, on))
    for on, runs in drains.items():
        label = "on" if on else "off"
        for key in runs[0]:
            record[f"{label}_drain_{key}"] = _mean(runs, key)
    record["submit_ratio"] = record["on_submit_jobs_per_s"] / record["off_submit_jobs_per_s"]
    record["drain_ratio"] = record["on_drain_jobs_per_s"] / record["off_drain_jobs_per_s"]
    record["submit_cpu_ratio"] = record["on_submit_api_cpu_us"] / record["off_submit_api_cpu_us"]
    return record
