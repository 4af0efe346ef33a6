"""Drain figures: one worker process empties a queue of pre-loaded no-op jobs (late acks).

The jobs are published first, with the broker API, so that the worker only consumes. The worker
starts with ``--burst`` and exits once the queue is empty. The rate is timed inside the worker by
the ``stamp`` handler, from the first job's start to the last one's, so the process's start-up
and its burst exit do not count: (jobs - 1) / (last start - first start).

On RabbitMQ the same run first has the bare pika clients move as many 200-byte persistent
messages through another queue (``benchmarks.bare``): the publisher's confirmed rate and the
consumer's rate with the worker's prefetch and an ack per message. The worker's ratio to the
bare consumer is the figure's second number. Unless the options turn status events off, the run
then drains as many jobs again with a worker started ``--no-status``: its ratio to the same bare
consumer shows what the status events (each job's final event confirmed before its ack) cost.
"""

from __future__ import annotations

from typing import Any

from benchmarks.rig import (
    Rig,
    Stamp,
    bare,
    cpu_percent,
    cpu_s,
    load_average,
    loop_shares,
    loop_thread_s,
    preload,
    worker_prefetch,
)

DRAIN_TIMEOUT_S = 600.0


def drain_rate(stamps: list[Stamp]) -> float:
    """Jobs per second from the first job's start to the last one's."""
    if len(stamps) < 2:
        return 0.0
    starts = sorted(s.started_ns for s in stamps)
    return (len(starts) - 1) / ((starts[-1] - starts[0]) / 1e9)


def _drain(
    rig: Rig, url: str, queue: str, count: int, status: bool | None = None
) -> dict[str, Any]:
    """Start a burst worker on a pre-loaded queue, wait for it, check every job ran once
    (``status``: as :meth:`Rig.start_worker`)."""
    before = rig.stamp_count()
    name = "worker" if status is None else f"worker-status-{'on' if status else 'off'}"
    worker = rig.start_worker(url, queue, burst=True, status=status, name=name)
    rig.wait_stamps(before + 1, DRAIN_TIMEOUT_S, worker)
    cpu_first_s, loop_first = cpu_s(worker.pid), loop_thread_s(worker.pid)
    rig.profile(worker, name)
    rig.wait_stamps(before + count, DRAIN_TIMEOUT_S, worker)
    cpu_last_s, loop_last = cpu_s(worker.pid), loop_thread_s(worker.pid)
    rig.stop_profiles()
    code = worker.wait(timeout=60)
    stamps = rig.stamps()[before:]
    distinct = len({s.job_id for s in stamps})
    if code != 0 or distinct != count:
        raise RuntimeError(f"worker exit {code}; {distinct} distinct jobs of {count} ran")
    rate = drain_rate(stamps)
    busy_s = (count - 1) / rate if rate else 0.0
    return {
        "jobs_per_s": rate,
        "jobs": count,
        "duplicates": len(stamps) - distinct,
        "worker_cpu_percent": cpu_percent(cpu_last_s - cpu_first_s, busy_s),
        "worker_cpu_us": 1e6 * (cpu_last_s - cpu_first_s) / max(1, count - 1),
        **loop_shares(loop_first, loop_last, busy_s, "worker"),
    }


def drain_rabbitmq(rig: Rig) -> dict[str, Any]:
    """One run: bare publish + bare consume, then the broker API preload and the worker drain."""
    options, url = rig.options, rig.options.amqp_url
    count, bare_queue, queue = options.drain_jobs, rig.queue("bare"), rig.queue("drain")
    record: dict[str, Any] = {"load_avg_before": load_average()}
    record["bare_publish_per_s"] = bare("publish", url, bare_queue, count)["rate_per_s"]
    record["bare_prefetch"] = worker_prefetch(options)
    consumed = bare("consume", url, bare_queue, count, record["bare_prefetch"])
    record["bare_consume_per_s"] = consumed["rate_per_s"]
    record["bare_consume_cpu_us"] = consumed["cpu_us_per_message"]
    record["broker_publish_per_s"] = preload(url, queue, count)
    record.update(_drain(rig, url, queue, count))
    record["ratio_to_bare"] = record["jobs_per_s"] / record["bare_consume_per_s"]
    if options.status is not False:
        preload(url, queue, count)
        off = _drain(rig, url, queue, count, status=False)
        record["no_status_jobs_per_s"] = off["jobs_per_s"]
        record["no_status_ratio_to_bare"] = off["jobs_per_s"] / record["bare_consume_per_s"]
        record["no_status_worker_cpu_us"] = off["worker_cpu_us"]
    record["load_avg_after"] = load_average()
    return record


def drain_sqlite(rig: Rig) -> dict[str, Any]:
    """One run: preload a fresh SQLite file with the broker API, then the worker drain."""
    url, count = rig.sqlite_url(), rig.options.drain_jobs
    record: dict[str, Any] = {"load_avg_before": load_average()}
    record["broker_publish_per_s"] = preload(url, "jobs", count)
    record.update(_drain(rig, url, "jobs", count))
    record["load_avg_after"] = load_average()
    return record


def drain_sqlite_two(rig: Rig) -> dict[str, Any]:
    """One run: preload a fresh SQLite file, then two burst worker processes drain it."""
    url, count = rig.sqlite_url(), rig.options.drain_jobs
    record: dict[str, Any] = {"load_avg_before": load_average()}
    record["broker_publish_per_s"] = preload(url, "jobs", count)
    workers = [rig.start_worker(url, "jobs", burst=True) for _ in range(2)]
    rig.wait_stamps(count, DRAIN_TIMEOUT_S)
    codes = [worker.wait(timeout=60) for worker in workers]
    stamps = rig.stamps()
    distinct = len({s.job_id for s in stamps})
    if any(codes) or distinct != count:
        raise RuntimeError(f"worker exits {codes}; {distinct} distinct jobs of {count} ran")
    record.update(jobs_per_s=drain_rate(stamps), duplicates=len(stamps) - distinct)
    record["load_avg_after"] = load_average()
    return record
