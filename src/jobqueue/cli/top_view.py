"""The frame ``jobqueue top`` draws: throughput, depth, counts and percentiles from
``GET /stats/overview``, and the workers from ``GET /workers``, as rich renderables."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from jobqueue.cli.terminal import printable

SPARKS = " ▁▂▃▄▅▆▇█"
RATES = ("submitted", "succeeded", "failed", "dead")
DEPTHS = ("ready", "in_flight", "scheduled", "dead")
MAX_WORKER_ROWS = 30


def sparkline(values: list[float]) -> str:
    """``values`` as a row of block characters, scaled to their highest."""
    top = max(values, default=0.0)
    if top <= 0:
        return SPARKS[0] * len(values)
    return "".join(SPARKS[min(8, round(8 * value / top))] for value in values)


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.1f}s"


def throughput_table(overview: dict[str, Any]) -> Table:
    """Jobs per second now and over the window, per outcome."""
    table = Table(title=f"jobs per second, last {overview.get('window', '15m')}", expand=True)
    for name in ("", "now", "trend (per minute)", "total"):
        table.add_column(name, justify="left" if name.startswith("trend") else "right")
    totals = overview.get("totals", {})
    for outcome in RATES:
        points = [value for _, value in overview["throughput"].get(outcome, [])]
        now = points[-1] if points else 0.0
        total = totals.get(outcome, 0)
        table.add_row(outcome, f"{now:.2f}", sparkline(points), f"{total:,}")
    return table


def depth_table(overview: dict[str, Any]) -> Table:
    """The queue's depth by state now, and the jobs in the store by state."""
    queue = printable(str(overview.get("queue", "")))
    table = Table(title=f"queue {queue}", expand=True)
    table.add_column("depth")
    table.add_column("jobs", justify="right")
    now = overview.get("depth_now", {})
    for state in DEPTHS:
        table.add_row(state, "-" if state not in now else f"{now[state]:,}")
    table.add_section()
    wait, run = overview.get("wait_seconds", {}), overview.get("run_seconds", {})
    table.add_row("wait p50 / p95", f"{_seconds(wait.get('p50'))} / {_seconds(wait.get('p95'))}")
    table.add_row("run p50 / p95", f"{_seconds(run.get('p50'))} / {_seconds(run.get('p95'))}")
    return table


def states_table(overview: dict[str, Any]) -> Table:
    """The jobs the store holds, by state."""
    table = Table(title="jobs by state", expand=True)
    table.add_column("state")
    table.add_column("jobs", justify="right")
    for state, count in overview.get("states", {}).items():
        table.add_row(state, f"{count:,}")
    return table


def workers_table(workers: list[dict[str, Any]]) -> Table:
    """The live workers, busiest first."""
    table = Table(title=f"{len(workers)} workers", expand=True)
    for name in ("worker", "host", "state", "jobs", "done", "failed", "seen"):
        table.add_column(name, justify="right" if name in ("jobs", "done", "failed") else "left")
    ordered = sorted(workers, key=lambda worker: -int(worker.get("load", 0)))
    for worker in ordered[:MAX_WORKER_ROWS]:
        host = f"{worker.get('host') or '-'}:{worker.get('pid') or '-'}"
        table.add_row(
            Text(printable(str(worker.get("worker_id", "")))),
            Text(printable(host)),
            Text(printable(str(worker.get("state", "")))),
            f"{worker.get('load', 0)}/{worker.get('concurrency', 0) or '-'}",
            str(worker.get("processed", 0)),
            str(worker.get("failed", 0)),
            f"{float(worker.get('seen_ago_s', 0)):.0f}s ago",
        )
    if len(ordered) > MAX_WORKER_ROWS:
        table.caption = f"and {len(ordered) - MAX_WORKER_ROWS} more"
    return table


def frame(
    overview: dict[str, Any] | None, workers: list[dict[str, Any]], problem: str | None, url: str
) -> RenderableType:
    """The whole screen; ``problem`` (the API unreachable, say) on top when there is one."""
    header = Text(f"jobqueue top — {printable(url)} — q quits", style="bold")
    parts: list[RenderableType] = [header]
    if problem is not None:
        parts.append(Panel(Text(printable(problem)), title="cannot refresh", style="red"))
    if overview is not None:
        grid = Table.grid(expand=True)
        grid.add_column(ratio=3)
        grid.add_column(ratio=2)
        grid.add_column(ratio=2)
        grid.add_row(throughput_table(overview), depth_table(overview), states_table(overview))
        parts.append(grid)
    parts.append(workers_table(workers))
    return Group(*parts)
