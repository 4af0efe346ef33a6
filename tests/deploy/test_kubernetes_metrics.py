"""The Prometheus query the keda-prometheus ScaledObject runs: promtool parses it, and every
metric it names is one the API's /metrics exposes."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from tests.deploy.test_kubernetes import rendered, the
from tests.metrics import conftest as metrics_conftest
from tests.metrics.conftest import Metered
from tests.metrics.test_deploy import NAME, family
from tests.metrics.test_metrics import promtool, run_some

# The metrics tests' metered API (SQLite broker and store, in process), as fixtures here.
metrics_settings = metrics_conftest.metrics_settings
metered = metrics_conftest.metered


def prometheus_query() -> str:
    """The query of the keda-prometheus overlay's one trigger."""
    (trigger,) = the(rendered("keda-prometheus"), "ScaledObject")["spec"]["triggers"]
    query: str = trigger["metadata"]["query"]
    return query


async def test_every_metric_the_query_names_is_one_the_api_exposes(metered: Metered) -> None:
    await run_some(metered)
    exposed = {family(name) for name in NAME.findall(await metered.scrape())}
    named = {family(name) for name in NAME.findall(prometheus_query())}
    assert named == {"jobqueue_desired_workers"}
    assert named <= exposed, named - exposed


async def test_promtool_parses_the_query(tmp_path: Path) -> None:
    rules = tmp_path / "keda.yml"
    rules.write_text(
        "groups:\n  - name: keda\n    rules:\n"
        f"      - record: jobqueue:keda_desired_workers\n        expr: '{prometheus_query()}'\n"
    )
    checked = await asyncio.to_thread(
        subprocess.run,
        [promtool(), "check", "rules", str(rules)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 1 rules found" in checked.stdout
