"""Fixtures for the dashboard's tests: the API tests' SQLite broker, a headless Chromium driven
by Selenium (skipped when missing, failing under CI=true), and a real ``jobqueue api`` with a
real worker on one SQLite file, shared by a module's tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import broker
from tests.services import free_port

__all__ = ["broker"]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("JOBQUEUE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("JOBQUEUE_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
HANDLERS = "tests.ui.handlers:handlers"
READY_S = 30.0


def in_ci() -> bool:
    """Whether the suite runs under CI=true, where a missing browser is a failure."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_browser() -> None:
    """Skip when Chromium or ChromeDriver is missing, except under CI=true where it fails."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if not missing:
        return
    message = f"the browser tests need {' and '.join(missing)}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: the browser tests must run)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium at 1280 x 900, shared by the module's tests."""
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
        "--force-prefers-reduced-motion",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


@dataclass
class Stack:
    """A running ``jobqueue api`` (and its worker), their addresses and files."""

    base: str
    grpc: str
    folder: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self, **more: str) -> dict[str, str]:
        """The environment for its processes: no JOBQUEUE_* of the caller's, quick heartbeats."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("JOBQUEUE_")}
        return {**env, "PYTHONPATH": str(ROOT), "JOBQUEUE_HEARTBEAT_INTERVAL_S": "0.5", **more}

    def start(self, name: str, argv: list[str], **env: str) -> subprocess.Popen[bytes]:
        """Start ``python -m jobqueue ARGV`` logging to ``name.log``."""
        with (self.folder / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "jobqueue", *argv],
                cwd=self.folder,
                env=self.env(**env),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        """Stop every process, the latest started first."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def start_stack(folder: Path, *, tokens: str = "", worker_id: str = "") -> Stack:
    """``jobqueue api`` on a SQLite file in ``folder`` and one worker of the tests' handlers."""
    stack = Stack(f"http://127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}", folder)
    broker_url = f"sqlite:///{folder / 'jq.db'}"
    api_env = {"JOBQUEUE_TOKENS": tokens} if tokens else {}
    stack.start(
        "api",
        [
            "api",
            "--broker-url",
            broker_url,
            "--http-addr",
            stack.base.removeprefix("http://"),
            "--grpc-addr",
            stack.grpc,
        ],
        **api_env,
    )
    try:
        wait_until(lambda: _answers(f"{stack.base}/healthz"), READY_S)
        worker = ["worker", "--app", HANDLERS, "--broker-url", broker_url, "--api-grpc", stack.grpc]
        worker += ["--concurrency", "4"] + (["--worker-id", worker_id] if worker_id else [])
        token_env = {"JOBQUEUE_TOKEN": tokens.split()[0].split(":", 2)[2]} if tokens else {}
        stack.start("worker", worker, **token_env)
    except BaseException:
        stack.stop()
        raise
    return stack


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(check: Any, timeout_s: float = 20.0, every_s: float = 0.1) -> Any:
    """Call ``check`` until it returns something true; that value, or fail at the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every_s)
    pytest.fail(f"condition not met within {timeout_s}s", pytrace=False)


def screenshot(driver: Any, folder: Path, name: str) -> Path:
    """Save the page as ``name.png`` under ``folder``, and under $JOBQUEUE_SCREENSHOTS too."""
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    extra = os.environ.get("JOBQUEUE_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(extra) / path.name)
    return path
