"""Write deploy/grafana/jobqueue.json, the Grafana dashboard of jobqueue's metrics.

.venv/bin/python scripts/grafana_dashboard.py           rewrite it
.venv/bin/python scripts/grafana_dashboard.py --check   exit 1 when the committed file is stale
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "deploy" / "grafana" / "jobqueue.json"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
QUEUE = 'queue=~"$queue"'
RATE = "[$__rate_interval]"


def one(expr: str) -> str:
    """Every API replica reports the fleet-wide totals read from the store: keep one."""
    return f"max without (instance, pod, job) ({expr})"


def jobs_rate(outcome: str = "") -> str:
    """The rate of ``jobqueue_jobs_total`` (of an outcome regex), of one replica."""
    match = f',outcome=~"{outcome}"' if outcome else ""
    return one(f"rate(jobqueue_jobs_total{{{QUEUE}{match}}}{RATE})")


def quantile(q: float, metric: str, by: str = "le", store_backed: bool = True) -> str:
    """``histogram_quantile`` of a histogram's buckets."""
    rate = (
        f"rate({metric}_bucket{{{QUEUE}}}{RATE})"
        if store_backed
        else f"rate({metric}_bucket{RATE})"
    )
    return f"histogram_quantile({q}, sum by ({by}) ({one(rate) if store_backed else rate}))"


PANELS: list[tuple[str, str, list[tuple[str, str]], str]] = [
    (
        "Jobs per second by outcome",
        "Submitted, succeeded, failed attempts, retried, dead, cancelled; counted in the job "
        "store, so every API replica reports the same totals and they survive restarts.",
        [(f"sum by (outcome) ({jobs_rate()})", "{{outcome}}")],
        "ops",
    ),
    (
        "Queue depth by state",
        "Ready, in flight, scheduled for a retry, dead.",
        [(f"max by (state) (jobqueue_queue_depth{{{QUEUE}}})", "{{state}}")],
        "short",
    ),
    (
        "Wait before the first attempt",
        "From submission to the first start.",
        [
            (quantile(0.5, "jobqueue_job_wait_seconds"), "p50"),
            (quantile(0.95, "jobqueue_job_wait_seconds"), "p95"),
        ],
        "s",
    ),
    (
        "Run time p95 by job type",
        "How long handlers ran, per attempt.",
        [(quantile(0.95, "jobqueue_job_run_seconds", "le, type"), "{{type}}")],
        "s",
    ),
    (
        "Failed attempts / attempts finished",
        "",
        [(f"sum({jobs_rate('failed')}) / sum({jobs_rate('failed|succeeded')})", "failure ratio")],
        "percentunit",
    ),
    (
        "Workers by state",
        "",
        [(f"max by (state) ({one('jobqueue_workers')})", "{{state}}")],
        "short",
    ),
    (
        "Workers wanted and active",
        "The workers the queue wants (GET /scaling's decision, what KEDA or jobqueue up "
        "scales to) beside the active ones.",
        [
            (f"max by (queue) (jobqueue_desired_workers{{{QUEUE}}})", "wanted {{queue}}"),
            ("max(" + one('jobqueue_workers{state="active"}') + ")", "active"),
        ],
        "short",
    ),
    (
        "Fleet in flight and concurrency",
        "",
        [
            (f"sum({one('jobqueue_worker_in_flight')})", "in flight"),
            (f"sum({one('jobqueue_worker_concurrency')})", "concurrency"),
        ],
        "short",
    ),
    (
        "Oldest heartbeat",
        "Seconds since the quietest live worker was heard from.",
        [(f"max({one('jobqueue_worker_heartbeat_age_seconds')})", "seconds")],
        "s",
    ),
    (
        "HTTP requests per second (all replicas)",
        "",
        [
            (
                f"sum by (route, status) (rate(jobqueue_http_requests_total{RATE}))",
                "{{route}} {{status}}",
            )
        ],
        "reqps",
    ),
    (
        "HTTP p99 latency by route",
        "",
        [
            (
                quantile(0.99, "jobqueue_http_request_duration_seconds", "le, route", False),
                "{{route}}",
            )
        ],
        "s",
    ),
    (
        "gRPC calls per second by method and code",
        "",
        [(f"sum by (method, code) (rate(jobqueue_grpc_calls_total{RATE}))", "{{method}} {{code}}")],
        "ops",
    ),
    (
        "Status events: apply lag p99",
        "From a worker's event to the job store.",
        [(quantile(0.99, "jobqueue_status_event_apply_lag_seconds", "le", False), "p99")],
        "s",
    ),
]


def panel(index: int, title: str, text: str, targets: list[tuple[str, str]], unit: str) -> Any:
    """One time-series panel, two to a row."""
    return {
        "id": index + 1,
        "type": "timeseries",
        "title": title,
        "description": text,
        "datasource": DATASOURCE,
        "gridPos": {"x": 12 * (index % 2), "y": 8 * (index // 2), "w": 12, "h": 8},
        "targets": [
            {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": chr(65 + i)}
            for i, (expr, legend) in enumerate(targets)
        ],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom"},
            "tooltip": {"mode": "multi"},
        },
    }


def dashboard() -> Any:
    """The whole dashboard."""
    return {
        "title": "jobqueue",
        "uid": "jobqueue-overview",
        "tags": ["jobqueue"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "editable": True,
        "annotations": {"list": []},
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus"},
                {
                    "name": "queue",
                    "type": "query",
                    "datasource": DATASOURCE,
                    "query": "label_values(jobqueue_queue_depth, queue)",
                    "refresh": 2,
                    "includeAll": True,
                    "multi": True,
                    "allValue": ".*",
                },
            ]
        },
        "panels": [panel(i, *spec) for i, spec in enumerate(PANELS)],
    }


def main() -> int:
    text = json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"
    if "--check" in sys.argv[1:]:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is stale: run scripts/grafana_dashboard.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
