"""The Grafana dashboard and the Prometheus files in deploy/: valid for promtool, fresh, and
naming only metrics the API really exposes."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.process import ROOT
from tests.metrics.conftest import Metered
from tests.metrics.test_metrics import promtool, run_some

DASHBOARD = ROOT / "deploy" / "grafana" / "jobqueue.json"
PROMETHEUS = ROOT / "deploy" / "prometheus"
NAME = re.compile(r"\b(jobqueue_[a-z_]+)")
SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def expressions() -> list[str]:
    """Every query of the dashboard's panels."""
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def alert_expressions() -> list[str]:
    """Every expression of the alert rules."""
    return re.findall(r"^\s+expr: (.+)$", (PROMETHEUS / "alerts.yml").read_text(), re.MULTILINE)


def family(name: str) -> str:
    """A sample name's family: without the suffix of a counter or histogram sample."""
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def test_the_dashboard_is_what_its_script_writes() -> None:
    checked = subprocess.run(
        [sys.executable, "scripts/grafana_dashboard.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


async def test_every_metric_named_is_exposed(metered: Metered) -> None:
    await run_some(metered)
    await metered.client.get("/jobs/none")
    exposed = {family(name) for name in NAME.findall(await metered.scrape())}
    named = {
        family(name) for expr in expressions() + alert_expressions() for name in NAME.findall(expr)
    }
    assert len(named) >= 10
    assert named <= exposed, named - exposed


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, check=False)


async def test_promtool_accepts_the_config_the_alerts_and_every_query(tmp_path: Path) -> None:
    config = await asyncio.to_thread(
        _promtool, "check", "config", "--syntax-only", "prometheus.yml", cwd=PROMETHEUS
    )
    assert config.returncode == 0, config.stdout + config.stderr
    rules = await asyncio.to_thread(_promtool, "check", "rules", "alerts.yml", cwd=PROMETHEUS)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    # The dashboard's queries as recording rules, Grafana's variables filled in, for promtool
    # to parse them.
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for index, expr in enumerate(expressions()):
        query = expr.replace("$__rate_interval", "5m").replace("$queue", ".*")
        lines += [
            f"      - record: jobqueue:dashboard_{index}",
            f"        expr: {json.dumps(query)}",
        ]
    (tmp_path / "dashboard.yml").write_text("\n".join(lines) + "\n")
    queries = await asyncio.to_thread(_promtool, "check", "rules", "dashboard.yml", cwd=tmp_path)
    assert queries.returncode == 0, queries.stdout + queries.stderr
    assert f"SUCCESS: {len(expressions())} rules found" in queries.stdout


@pytest.mark.parametrize("path", [DASHBOARD])
def test_the_dashboard_has_a_queue_variable(path: Path) -> None:
    variables = {v["name"] for v in json.loads(path.read_text())["templating"]["list"]}
    assert variables == {"datasource", "queue"}
