"""What the metrics cost: the submit and drain figures with metrics off, then on (and scraped),
in the same run.

1. ``submit-http`` (``POST /jobs``, 32 connections, RabbitMQ) against an API started with
   ``JOBQUEUE_METRICS=off``, then against one with metrics on while ``/metrics`` is scraped
   every 5 s (Prometheus' default is every 15 s: this is three times that load).
2. The status drain on the embedded broker: an API (metrics off, then on and scraped) applies
   the status events of one burst worker draining N no-op jobs; the worker's rate, the API's
   CPU per job (where the counting in the store happens) and the store's lag after the drain.

Each run measures off, on, on, off and takes each side's mean, so a drift of the shared
machine weighs on both alike. Ratios are on / off; the target is at least 0.97 (within 3 %).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from benchmarks.process import stop
from benchmarks.rig import Rig, cpu_s, delete_queues
from benchmarks.status import _drain, _start_api, _store_caught_up_s
from benchmarks.submit import submit_http

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


def _submit(rig: Rig, on: bool) -> dict[str, Any]:
    """One submit figure; then its API is stopped and its queue deleted, so the next part
    meets a broker in the same state (a queue of 20,000 unconsumed jobs weighs on RabbitMQ)."""
    with _switch(rig, on):
        measured = submit_http(rig, beside=_scraping if on else None)
    stop(rig.processes[-1])
    delete_queues(rig.options.amqp_url, [rig.queues[-1]])
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
"""Off, on, on, off: each side's mean then has the same drift of the machine in it."""


def _measure(rig: Rig, on: bool) -> dict[str, float]:
    submitted = _submit(rig, on)
    drained = _status_drain(rig, on)
    return {
        "submit_jobs_per_s": submitted["jobs_per_s"],
        "submit_p99_ms": submitted["p99_ms"],
        "submit_api_cpu_us": submitted["api_cpu_us"],
        **{f"drain_{key}": value for key, value in drained.items()},
    }


def metrics_cost(rig: Rig) -> dict[str, Any]:
    """One run: both figures off, on, on, off; each side the mean of its two."""
    measured: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for on in ORDER:
        measured[on].append(_measure(rig, on))
    record: dict[str, Any] = {}
    for on, runs in measured.items():
        label = "on" if on else "off"
        for key in runs[0]:
            record[f"{label}_{key}"] = sum(run[key] for run in runs) / len(runs)
    record["submit_ratio"] = record["on_submit_jobs_per_s"] / record["off_submit_jobs_per_s"]
    record["drain_ratio"] = record["on_drain_jobs_per_s"] / record["off_drain_jobs_per_s"]
    record["submit_cpu_ratio"] = record["on_submit_api_cpu_us"] / record["off_submit_api_cpu_us"]
    return record
