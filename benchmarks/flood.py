"""Flood figures: 2,000 clients post jobs to a real ``jobqueue api`` at once, every answer counted.

The API runs with its load limits (``flood-http``) or with the caps on requests in flight and on
connections turned off (``...-off``: how it was before it shed load). The clients come from
``benchmarks.floodgen`` in a process of its own. The API's resident size is sampled (psutil)
every 10 ms throughout. Afterwards the API is stopped (letting what it still serves finish) and
the broker's queue is counted: every job answered 202 must be in it. The invariants: every
answer is 202, 429 or 503 ``overloaded``; no request hangs (unanswered within the client's
timeout) or fails at the connection; no 202 is lost.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from benchmarks.process import stop
from benchmarks.rig import Rig, cpu_s, flood, percentile, request_body, rss_mib
from jobqueue.brokers import from_url

EXPECTED = frozenset({"202", "429 rate_limited", "503 overloaded"})
LIMITS_OFF = ("--max-in-flight", "0", "--max-connections", "0")
SAMPLE_S = 0.01


class PeakRss:
    """The highest resident size of a process while sampled, in MiB, from a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_mib = rss_mib(pid)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._done.wait(SAMPLE_S):
            self.peak_mib = max(self.peak_mib, rss_mib(self.pid))


async def _queued(url: str, queue: str) -> int:
    broker = from_url(url, queue)
    await broker.connect()
    try:
        return (await broker.depth()).ready
    finally:
        await broker.close()


def _flood_api(rig: Rig, url: str, limits: bool) -> dict[str, Any]:
    options = rig.options
    queue = rig.queue_on(url, "flood")
    base, _, api = rig.start_api(url, queue, () if limits else LIMITS_OFF)
    body_file = rig.folder / "body.json"
    body_file.write_bytes(request_body(1))
    args = [f"{base}/jobs", str(body_file), "--clients", str(options.flood_clients)]
    args += ["--jobs", str(options.flood_jobs)]
    args += ["--timeout-s", str(options.flood_timeout_s)]
    idle_mib, cpu_before_s = rss_mib(api.pid), cpu_s(api.pid)
    with PeakRss(api.pid) as rss:
        result = flood(args)
    api_cpu_s = cpu_s(api.pid) - cpu_before_s
    stopped = time.perf_counter()
    stop(api)
    record = _outcomes(result, asyncio.run(_queued(url, queue)))
    return {
        **record,
        "api_idle_mib": idle_mib,
        "api_peak_rss_mib": rss.peak_mib,
        "api_cpu_s": api_cpu_s,
        "api_stop_s": time.perf_counter() - stopped,
        "clients": options.flood_clients,
        "jobs_per_client": options.flood_jobs,
        "limits": limits,
    }


def _outcomes(result: dict[str, Any], in_broker: int) -> dict[str, Any]:
    """The counts and latencies of one flood, checked against the invariants."""
    outcomes: dict[str, int] = result["outcomes"]
    by_outcome: dict[str, list[float]] = result["latencies_ms"]
    latencies = [ms for kind in by_outcome.values() for ms in kind] or [float("nan")]
    accepted_ms = by_outcome.get("202") or [float("nan")]
    accepted = outcomes.get("202", 0)
    return {
        "outcomes": outcomes,
        "requests": sum(outcomes.values()),
        "accepted": accepted,
        "shed": outcomes.get("503 overloaded", 0),
        "rate_limited": outcomes.get("429 rate_limited", 0),
        "hangs": outcomes.get("timeout", 0),
        "unexpected": sum(n for kind, n in outcomes.items() if kind not in EXPECTED),
        "in_broker": in_broker,
        "lost": max(0, accepted - in_broker),
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies),
        "accepted_p50_ms": percentile(accepted_ms, 0.50),
        "accepted_p99_ms": percentile(accepted_ms, 0.99),
        "accepted_max_ms": max(accepted_ms),
        "elapsed_s": result["elapsed_s"],
        "accepted_per_s": accepted / result["elapsed_s"] if result["elapsed_s"] else 0.0,
    }


def flood_http(rig: Rig) -> dict[str, Any]:
    """One flood of the API on the embedded SQLite broker, its load limits at their defaults."""
    return _flood_api(rig, rig.sqlite_url(), limits=True)


def flood_http_off(rig: Rig) -> dict[str, Any]:
    """The same flood with the caps on requests in flight and connections off."""
    return _flood_api(rig, rig.sqlite_url(), limits=False)


def flood_http_rabbitmq(rig: Rig) -> dict[str, Any]:
    """One flood of the API on RabbitMQ, its load limits at their defaults."""
    return _flood_api(rig, rig.options.amqp_url, limits=True)


def flood_http_rabbitmq_off(rig: Rig) -> dict[str, Any]:
    """The same flood on RabbitMQ with the caps off."""
    return _flood_api(rig, rig.options.amqp_url, limits=False)
