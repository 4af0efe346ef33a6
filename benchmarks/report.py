"""Figures, their targets, the runs behind them: medians with min-max, a table, JSON files."""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True, slots=True)
class Target:
    """A bound a figure must meet: ``>=`` (more is better) or ``<=`` (less is better)."""

    op: str
    value: float

    def met(self, measured: float) -> bool:
        """Whether ``measured`` meets the bound."""
        return measured >= self.value if self.op == ">=" else measured <= self.value

    def __str__(self) -> str:
        sign = "≥" if self.op == ">=" else "≤"
        return f"{sign} {_number(self.value, 2 if self.value < 10 else 0)}"


def at_least(value: float) -> Target:
    """Target: the median must be at least ``value``."""
    return Target(">=", value)


def at_most(value: float) -> Target:
    """Target: the median must be at most ``value``."""
    return Target("<=", value)


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One number a figure reports: the key its runs fill in, a label, a target if any."""

    key: str
    label: str
    target: Target | None = None
    decimals: int = 0


@dataclass(frozen=True, slots=True)
class Spec:
    """A figure: what it measures (one run per call) and which numbers it reports."""

    name: str
    title: str
    measure: Callable[[Any], dict[str, Any]]
    metrics: tuple[MetricSpec, ...]
    fixed_runs: int | None = None  # e.g. the memory figure: one long run, not a median


@dataclass
class Metric:
    """One reported number over the runs: median, min and max, and whether it met its target."""

    spec: MetricSpec
    values: list[float]

    @property
    def median(self) -> float:
        """The median over the runs."""
        return statistics.median(self.values)

    @property
    def passed(self) -> bool | None:
        """Whether the median met the target (None without a target)."""
        target = self.spec.target
        return None if target is None else target.met(self.median)

    def as_dict(self) -> dict[str, Any]:
        """The metric for JSON."""
        target = self.spec.target
        return {
            "key": self.spec.key,
            "label": self.spec.label,
            "median": round(self.median, 3),
            "min": round(min(self.values), 3),
            "max": round(max(self.values), 3),
            "values": [round(v, 3) for v in self.values],
            "target": None if target is None else {"op": target.op, "value": target.value},
            "passed": self.passed,
        }


@dataclass
class FigureResult:
    """A figure's metrics and the raw record of each run."""

    spec: Spec
    metrics: list[Metric] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def passed(self) -> bool | None:
        """False if any metric missed or the figure failed; None when nothing had a target."""
        if self.error is not None:
            return False
        verdicts = [m.passed for m in self.metrics if m.passed is not None]
        return all(verdicts) if verdicts else None

    def as_dict(self) -> dict[str, Any]:
        """The figure for JSON."""
        return {
            "figure": self.spec.name,
            "title": self.spec.title,
            "passed": self.passed,
            "error": self.error,
            "metrics": [m.as_dict() for m in self.metrics],
            "runs": self.runs,
        }


def collect(spec: Spec, runs: list[dict[str, Any]], error: str | None) -> FigureResult:
    """Turn the runs' records into metrics (a metric no run measured is left out)."""
    result = FigureResult(spec, runs=runs, error=error)
    for metric in spec.metrics:
        values = [float(run[metric.key]) for run in runs if run.get(metric.key) is not None]
        if values:
            result.metrics.append(Metric(metric, values))
    return result


def _number(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}"


def _verdict(passed: bool | None) -> str:
    return "" if passed is None else ("PASS" if passed else "MISS")


def table(results: Sequence[FigureResult]) -> str:
    """The results as a Markdown table: one row per metric, the figure named on its first."""
    lines = [
        "| figure | metric | median | min-max | target | result |",
        "| --- | --- | ---: | ---: | --- | --- |",
    ]
    for result in results:
        name = f"{result.spec.name}: {result.spec.title}"
        if result.error is not None:
            lines.append(f"| {name} | error | | | | FAILED: {result.error[:120]} |")
            continue
        for index, metric in enumerate(result.metrics):
            spec, dec = metric.spec, metric.spec.decimals
            spread = f"{_number(min(metric.values), dec)}-{_number(max(metric.values), dec)}"
            target = "" if spec.target is None else str(spec.target)
            lines.append(
                f"| {name if index == 0 else ''} | {spec.label} | {_number(metric.median, dec)} "
                f"| {spread} | {target} | {_verdict(metric.passed)} |"
            )
    return "\n".join(lines)


def write(
    results: Sequence[FigureResult],
    folder: Path,
    options: dict[str, Any],
    summary: bool,
    git_at_start: dict[str, Any] | None = None,
) -> None:
    """One JSON file per figure, and with ``summary`` a ``summary.json`` of them all.

    ``git_at_start`` is :func:`git_state` when the run began: the source may change under a
    long run, and both ends are recorded."""
    folder.mkdir(parents=True, exist_ok=True)
    context = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": _cpus(),
        "git_at_start": git_at_start,
        "git": git_state(),
        "options": options,
    }
    for result in results:
        path = folder / f"{result.spec.name}.json"
        path.write_text(json.dumps({**context, **result.as_dict()}, indent=2) + "\n")
    if summary:
        figures = [{k: v for k, v in r.as_dict().items() if k != "runs"} for r in results]
        document = {**context, "figures": figures, "table": table(results).splitlines()}
        (folder / "summary.json").write_text(json.dumps(document, indent=2) + "\n")


def git_state() -> dict[str, Any]:
    """The commit measured, and the source files that differed from it (uncommitted edits)."""
    import subprocess

    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
        return done.stdout

    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "src").splitlines()
    commit = git("rev-parse", "HEAD").strip()
    return {"commit": commit, "uncommitted_src": [line[3:] for line in dirty if line]}


def _cpus() -> int:
    import os

    return os.cpu_count() or 0
