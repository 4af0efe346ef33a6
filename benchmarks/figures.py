"""Every figure of the performance targets, by name, with what it reports and its targets."""

from __future__ import annotations

from benchmarks.drain import drain_rabbitmq, drain_sqlite, drain_sqlite_two
from benchmarks.endtoend import end_to_end
from benchmarks.flood import (
    flood_http,
    flood_http_off,
    flood_http_rabbitmq,
    flood_http_rabbitmq_off,
)
from benchmarks.latency import latency_rabbitmq, latency_sqlite
from benchmarks.memory import memory
from benchmarks.metrics_cost import metrics_cost
from benchmarks.priority import priority_cost
from benchmarks.report import MetricSpec, Spec, at_least, at_most
from benchmarks.schedule import schedule_rabbitmq, schedule_sqlite
from benchmarks.status import status_rabbitmq, status_sqlite
from benchmarks.submit import submit_batch, submit_http, submit_http_auth

LEAK_MIB = 4.0
"""Growth over the second half of the memory figure's jobs above this counts as a leak."""


def _schedule_metrics(late_p99_ms: float) -> tuple[MetricSpec, ...]:
    """The schedule figures' metrics: lateness of delayed jobs, latency of jobs due now."""
    return (
        MetricSpec("late_p99_ms", "delayed jobs: lateness p99 ms", at_most(late_p99_ms), 1),
        MetricSpec("late_p50_ms", "delayed jobs: lateness p50 ms", None, 1),
        MetricSpec("late_max_ms", "delayed jobs: lateness max ms", None, 1),
        MetricSpec("early_jobs", "delayed jobs started before run_at"),
        MetricSpec("waiting", "scheduled jobs waiting far ahead"),
        MetricSpec("now_p99_ms", "due now, with them waiting: p99 ms", None, 1),
        MetricSpec("now_empty_p99_ms", "due now, none waiting: p99 ms", None, 1),
        MetricSpec("now_p50_ms", "due now, with them waiting: p50 ms", None, 1),
        MetricSpec("now_empty_p50_ms", "due now, none waiting: p50 ms", None, 1),
        MetricSpec("fill_s", "s to write the waiting jobs into the store", None, 1),
    )


FIGURES: tuple[Spec, ...] = (
    Spec(
        "drain-rabbitmq",
        "no-op drain, 1 worker process, RabbitMQ, durable, late ack",
        drain_rabbitmq,
        (
            MetricSpec("jobs_per_s", "jobs/s", at_least(4000)),
            MetricSpec("ratio_to_bare", "x bare pika consumer", at_least(0.75), 2),
            MetricSpec("bare_consume_per_s", "bare pika consumer msgs/s"),
            MetricSpec("bare_publish_per_s", "bare pika publisher msgs/s"),
            MetricSpec("broker_publish_per_s", "preload via broker API jobs/s"),
            MetricSpec("worker_cpu_percent", "worker CPU % of a core"),
            MetricSpec("worker_cpu_us", "worker CPU µs per job"),
            MetricSpec("worker_loop_cpu_percent", "worker loop thread on CPU %"),
            MetricSpec("worker_loop_runqueue_percent", "worker loop thread waiting for a CPU %"),
            MetricSpec("bare_consume_cpu_us", "bare consumer CPU µs per msg"),
            MetricSpec("no_status_jobs_per_s", "jobs/s, worker --no-status"),
            MetricSpec("no_status_ratio_to_bare", "x bare consumer, worker --no-status", None, 2),
            MetricSpec("no_status_worker_cpu_us", "worker CPU µs per job, --no-status"),
        ),
    ),
    Spec(
        "submit-http",
        "POST /jobs, 1 job per request, 32 connections, RabbitMQ",
        submit_http,
        (
            MetricSpec("jobs_per_s", "jobs/s", at_least(2000)),
            MetricSpec("p99_ms", "p99 ms", at_most(50), 1),
            MetricSpec("p50_ms", "p50 ms", None, 1),
            MetricSpec("api_cpu_percent", "API CPU % of a core"),
            MetricSpec("api_cpu_us", "API CPU µs per job"),
            MetricSpec("api_loop_cpu_percent", "API loop thread on CPU %"),
            MetricSpec("api_loop_runqueue_percent", "API loop thread waiting for a CPU %"),
            MetricSpec("loadgen_cpu_us_per_request", "load generator CPU µs per request"),
        ),
    ),
    Spec(
        "submit-http-auth",
        "POST /jobs as submit-http, each request carrying a token the API checks",
        submit_http_auth,
        (
            MetricSpec("jobs_per_s", "jobs/s"),
            MetricSpec("p99_ms", "p99 ms", None, 1),
            MetricSpec("p50_ms", "p50 ms", None, 1),
            MetricSpec("api_cpu_us", "API CPU µs per job"),
        ),
    ),
    Spec(
        "submit-batch",
        "POST /jobs/batch of 100, 8 connections, RabbitMQ",
        submit_batch,
        (
            MetricSpec("jobs_per_s", "jobs/s", at_least(4000)),
            MetricSpec("ratio_to_bare", "x bare pika publisher", at_least(1.0), 2),
            MetricSpec("bare_publish_per_s", "bare pika publisher msgs/s"),
            MetricSpec("bare_publish_cpu_us", "bare publisher CPU µs per msg"),
            MetricSpec("api_cpu_us", "API CPU µs per job"),
            MetricSpec("p99_ms", "p99 ms per batch", None, 1),
            MetricSpec("api_cpu_percent", "API CPU % of a core"),
            MetricSpec("loadgen_cpu_us_per_request", "load generator CPU µs per request"),
        ),
    ),
    Spec(
        "latency-rabbitmq",
        "HTTP request start → handler start at 100 jobs/s, RabbitMQ",
        latency_rabbitmq,
        (
            MetricSpec("p50_ms", "p50 ms", at_most(3), 2),
            MetricSpec("p99_ms", "p99 ms", at_most(5), 2),
            MetricSpec("max_ms", "max ms", None, 2),
            MetricSpec("http_p99_ms", "HTTP answer p99 ms", None, 2),
            MetricSpec("api_loop_runqueue_percent", "API loop thread waiting for a CPU %", None, 1),
            MetricSpec(
                "worker_loop_runqueue_percent", "worker loop thread waiting for a CPU %", None, 1
            ),
        ),
    ),
    Spec(
        "drain-sqlite",
        "no-op drain, 1 worker process, embedded SQLite",
        drain_sqlite,
        (
            MetricSpec("jobs_per_s", "jobs/s", at_least(3000)),
            MetricSpec("broker_publish_per_s", "preload via broker API jobs/s"),
            MetricSpec("worker_cpu_percent", "worker CPU % of a core"),
            MetricSpec("worker_cpu_us", "worker CPU µs per job"),
            MetricSpec("worker_loop_cpu_percent", "worker loop thread on CPU %"),
            MetricSpec("worker_loop_runqueue_percent", "worker loop thread waiting for a CPU %"),
        ),
    ),
    Spec(
        "drain-sqlite-2",
        "no-op drain, 2 worker processes, embedded SQLite",
        drain_sqlite_two,
        (
            MetricSpec("jobs_per_s", "jobs/s"),
            MetricSpec("duplicates", "jobs run twice"),
        ),
    ),
    Spec(
        "latency-sqlite",
        "HTTP request start → handler start at 100 jobs/s, embedded SQLite",
        latency_sqlite,
        (
            MetricSpec("p99_ms", "p99 ms", at_most(10), 2),
            MetricSpec("p50_ms", "p50 ms", None, 2),
            MetricSpec("max_ms", "max ms", None, 2),
            MetricSpec("http_p99_ms", "HTTP answer p99 ms", None, 2),
            MetricSpec("api_loop_runqueue_percent", "API loop thread waiting for a CPU %", None, 1),
            MetricSpec(
                "worker_loop_runqueue_percent", "worker loop thread waiting for a CPU %", None, 1
            ),
        ),
    ),
    Spec(
        "end-to-end",
        "jobqueue up, RabbitMQ, 2 workers: POST /jobs x N while they drain",
        end_to_end,
        (
            MetricSpec("jobs_per_s", "jobs/s, first submit → last job"),
            MetricSpec("submit_per_s", "submissions/s"),
        ),
    ),
    Spec(
        "memory",
        "RSS idle and after N jobs (batches over HTTP), RabbitMQ",
        memory,
        (
            MetricSpec("worker_idle_mib", "worker RSS idle MiB", None, 1),
            MetricSpec("worker_end_mib", "worker RSS after N jobs MiB", None, 1),
            MetricSpec("worker_growth_mib", "worker growth after warm-up MiB", None, 1),
            MetricSpec(
                "worker_second_half_growth_mib", "worker growth, 2nd half MiB", at_most(LEAK_MIB), 1
            ),
            MetricSpec("api_idle_mib", "API RSS idle MiB", None, 1),
            MetricSpec("api_end_mib", "API RSS after N submissions MiB", None, 1),
            MetricSpec("api_growth_mib", "API growth after warm-up MiB", None, 1),
            MetricSpec(
                "api_second_half_growth_mib", "API growth, 2nd half MiB", at_most(LEAK_MIB), 1
            ),
        ),
        fixed_runs=1,
    ),
)

STATUS_METRICS = (
    MetricSpec("ratio", "x status off (on / off)", at_least(0.75), 2),
    MetricSpec("on_jobs_per_s", "jobs/s, status on"),
    MetricSpec("off_jobs_per_s", "jobs/s, status off"),
    MetricSpec("on_worker_cpu_us_per_job", "worker CPU µs per job, on"),
    MetricSpec("off_worker_cpu_us_per_job", "worker CPU µs per job, off"),
    MetricSpec("api_cpu_us_per_job", "API CPU µs per job (events into the store)"),
    MetricSpec("store_lag_s", "s after the drain until the store has every job", None, 1),
)
FIGURES += (
    Spec(
        "status-rabbitmq",
        "no-op drain, 1 worker, status events on vs off, RabbitMQ + PostgreSQL store",
        status_rabbitmq,
        STATUS_METRICS,
    ),
    Spec(
        "status-sqlite",
        "no-op drain, 1 worker, status events on vs off, embedded SQLite (broker and store)",
        status_sqlite,
        STATUS_METRICS,
    ),
)

FIGURES += (
    Spec(
        "metrics-cost",
        "submit-http (two APIs, metrics off / on and scraped, loaded in turn) and the status drain "
        "(embedded, off-on-on-off)",
        metrics_cost,
        (
            MetricSpec("submit_ratio", "submit jobs/s, on / off", at_least(0.97), 3),
            MetricSpec("drain_ratio", "status drain jobs/s, on / off", at_least(0.97), 3),
            MetricSpec("submit_cpu_ratio", "API CPU per job submitted, on / off", None, 3),
            MetricSpec("off_submit_jobs_per_s", "submit jobs/s, metrics off"),
            MetricSpec("on_submit_jobs_per_s", "submit jobs/s, metrics on"),
            MetricSpec("off_submit_api_cpu_us", "API CPU µs per job submitted, off"),
            MetricSpec("on_submit_api_cpu_us", "API CPU µs per job submitted, on"),
            MetricSpec("off_drain_jobs_per_s", "drain jobs/s, metrics off"),
            MetricSpec("on_drain_jobs_per_s", "drain jobs/s, metrics on"),
            MetricSpec("off_drain_api_cpu_us_per_job", "API CPU µs per job drained, off"),
            MetricSpec("on_drain_api_cpu_us_per_job", "API CPU µs per job drained, on"),
            MetricSpec("on_drain_store_lag_s", "s until the store has every job, on", None, 1),
        ),
    ),
)

FLOOD_METRICS = (
    MetricSpec("p50_ms", "p50 ms", None, 1),
    MetricSpec("p99_ms", "p99 ms", None, 1),
    MetricSpec("max_ms", "max ms", None, 1),
    MetricSpec("accepted", "202 answers"),
    MetricSpec("shed", "503 overloaded answers"),
    MetricSpec("rate_limited", "429 answers"),
    MetricSpec("unexpected", "other answers, hangs and broken connections", at_most(0)),
    MetricSpec("hangs", "hangs (no answer within the client's timeout)"),
    MetricSpec("lost", "202 answers whose job is not in the broker", at_most(0)),
    MetricSpec("api_peak_rss_mib", "API peak RSS MiB", None, 1),
    MetricSpec("accepted_per_s", "jobs accepted/s"),
)
FLOOD = "2,000 clients x 5 POST /jobs at once"
FIGURES += (
    Spec("flood-http", f"{FLOOD}, embedded SQLite, load limits on", flood_http, FLOOD_METRICS),
    Spec(
        "flood-http-off",
        f"{FLOOD}, embedded SQLite, caps on requests and connections off",
        flood_http_off,
        FLOOD_METRICS,
    ),
    Spec(
        "flood-http-rabbitmq",
        f"{FLOOD}, RabbitMQ, load limits on",
        flood_http_rabbitmq,
        FLOOD_METRICS,
    ),
    Spec(
        "flood-http-rabbitmq-off",
        f"{FLOOD}, RabbitMQ, caps on requests and connections off",
        flood_http_rabbitmq_off,
        FLOOD_METRICS,
    ),
)

FIGURES += (
    Spec(
        "priority-cost",
        "no-op drain, 1 worker, priorities 0-9 mixed / all default; embedded, and RabbitMQ "
        "with x-max-priority 10 / the default topology; the sides in turn and back",
        priority_cost,
        (
            MetricSpec("sqlite_ratio", "embedded drain jobs/s, mixed / default", None, 3),
            MetricSpec("rabbitmq_ratio", "RabbitMQ drain jobs/s, x-max-priority / none", None, 3),
            MetricSpec(
                "rabbitmq_declared_ratio",
                "RabbitMQ, x-max-priority but all default / none",
                None,
                3,
            ),
            MetricSpec("sqlite_default_jobs_per_s", "embedded jobs/s, all default"),
            MetricSpec("sqlite_mixed_jobs_per_s", "embedded jobs/s, mixed"),
            MetricSpec("sqlite_default_worker_cpu_us", "embedded worker CPU µs per job, default"),
            MetricSpec("sqlite_mixed_worker_cpu_us", "embedded worker CPU µs per job, mixed"),
            MetricSpec("rabbitmq_default_jobs_per_s", "RabbitMQ jobs/s, default topology"),
            MetricSpec("rabbitmq_mixed_jobs_per_s", "RabbitMQ jobs/s, x-max-priority, mixed"),
            MetricSpec("rabbitmq_default_worker_cpu_us", "RabbitMQ worker CPU µs per job, default"),
            MetricSpec("rabbitmq_mixed_worker_cpu_us", "RabbitMQ worker CPU µs per job, mixed"),
            MetricSpec("rabbitmq_default_publish_per_s", "RabbitMQ preload jobs/s, default"),
            MetricSpec("rabbitmq_mixed_publish_per_s", "RabbitMQ preload jobs/s, mixed"),
            MetricSpec("rabbitmq_declared_jobs_per_s", "RabbitMQ jobs/s, x-max-priority, default"),
            MetricSpec("rabbitmq_declared_worker_cpu_us", "RabbitMQ worker CPU µs/job, declared"),
        ),
    ),
)


FIGURES += (
    Spec(
        "schedule-sqlite",
        "delayed jobs (1-5 s) with 1,000,000 scheduled far ahead, embedded broker",
        schedule_sqlite,
        _schedule_metrics(100),
    ),
    Spec(
        "schedule-rabbitmq",
        "delayed jobs (1-5 s) with 1,000,000 scheduled far ahead, RabbitMQ",
        schedule_rabbitmq,
        _schedule_metrics(1000),
    ),
)

BY_NAME = {spec.name: spec for spec in FIGURES}
