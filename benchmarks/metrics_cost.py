"""What the metrics cost: the submit and drain figures with metrics off, then on (and scraped),
in the same run.

1. ``submit-http`` (``POST /jobs``, 32 connections, RabbitMQ) against an API started with
   ``JOBQUEUE_METRICS=off``, then against one with metrics on while ``/metrics`` is scraped
   every second (Prometheus' default is every 15 s: this is 15 times that load).
2. The status drain on the embedded broker: an API (metrics off, then on and scraped) applies
   the status events of one burst worker draining N no-op jobs; the worker's rate, the API's
   CPU per job (where the counting in the store happens) and the store's lag after the drain.

Ratios are on / off; the target is at least 0.97 (within 3 %).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from benchmarks.process import stop
from benchmarks.rig import Rig, cpu_s
from benchmarks.status import _drain, _start_api, _store_caught_up_s
from benchmarks.submit import submit_http

SCRAPE_EVERY_S = 1.0


@contextmanager
def _switch(rig: Rig, on: bool) -> Iterator[None]:
    rig.extra_env["JOBQUEUE_METRICS"] = "on" if on else "off"
    try:
        yield
    finally:
        rig.extra_env.pop("JOBQUEUE_METRICS")


@contextmanager
def _scraping(base_url: str | None) -> Iterator[list[int]]:
    """Scrape ``base_url``/metrics every second in a thread (nothing for None); the count."""
    scrapes: list[int] = []
    stop = threading.Event()

    def scrape() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.wait(SCRAPE_EVERY_S):
                if client.get(f"{base_url}/metrics").status_code == 200:
                    scrapes.append(1)

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
    with _switch(rig, on):
        return submit_http(rig, beside=_scraping if on else None)


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


def metrics_cost(rig: Rig) -> dict[str, Any]:
    """One run: each figure off, then on."""
    record: dict[str, Any] = {}
    for on in (False, True):
        label = "on" if on else "off"
        submitted = _submit(rig, on)
        record[f"{label}_submit_jobs_per_s"] = submitted["jobs_per_s"]
        record[f"{label}_submit_p99_ms"] = submitted["p99_ms"]
        record[f"{label}_submit_api_cpu_us"] = submitted["api_cpu_us"]
        drained = _status_drain(rig, on)
        record.update({f"{label}_drain_{key}": value for key, value in drained.items()})
    record["submit_ratio"] = record["on_submit_jobs_per_s"] / record["off_submit_jobs_per_s"]
    record["drain_ratio"] = record["on_drain_jobs_per_s"] / record["off_drain_jobs_per_s"]
    return record
