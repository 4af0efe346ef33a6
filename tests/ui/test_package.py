"""The dashboard ships whole: every template, stylesheet, script and vendored file is package
data, and each vendored package has its licence and provenance beside it."""

from __future__ import annotations

import tomllib
from pathlib import Path

from jobqueue.ui.install import STATIC
from jobqueue.ui.pages import TEMPLATES

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = ROOT / "src" / "jobqueue"


def test_every_file_the_dashboard_serves_is_in_the_package_data() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["jobqueue"]
    carried = {path for pattern in patterns for path in PACKAGE_DIR.glob(pattern)}
    served = {
        path for folder in (STATIC, TEMPLATES) for path in folder.rglob("*") if path.is_file()
    }

    assert len(served) > 15
    assert sorted(path for path in served - carried if path.suffix != ".pyc") == []


def test_the_chart_library_is_vendored_with_its_licence_and_version() -> None:
    vendor = STATIC / "vendor"
    assert sorted(path.name for path in (vendor / "uplot").iterdir()) == [
        "LICENSE",
        "uPlot.iife.min.js",
        "uPlot.min.css",
    ]
    provenance = (vendor / "VENDOR.md").read_text()
    assert (
        "| `uplot/` | [`uplot`](https://www.npmjs.com/package/uplot) | 1.6.32 | MIT" in provenance
    )
    assert (vendor / "uplot" / "LICENSE").read_text().strip() in provenance
    assert "uPlot (v1.6.32)" in (vendor / "uplot" / "uPlot.iife.min.js").read_text()[:200]
