"""The Schedules page in headless Chromium against a real ``jobqueue api`` and worker: a
schedule's expression in words, its next runs, its last runs' jobs as they succeed, and pause,
resume and run-now."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.ui.conftest import Stack, screenshot, start_stack

pytestmark = pytest.mark.timeout(120)
WAIT_S = 20.0
ROW = 'tr[data-schedule="every-second"]'


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One API and one worker, with a schedule firing an ``echo`` job every second."""
    stack = start_stack(tmp_path_factory.mktemp("ui-schedules"))
    try:
        body = {"name": "every-second", "cron": "* * * * * *", "job_type": "echo", "payload": 1}
        answer = httpx.post(f"{stack.base}/schedules", json=body, timeout=5)
        assert answer.status_code == 201, answer.text
        yield stack
    finally:
        stack.stop()


def until(browser: Any, check: Any) -> Any:
    return WebDriverWait(browser, WAIT_S, poll_frequency=0.1).until(check)


def row_text(browser: Any) -> str:
    found = browser.find_elements(By.CSS_SELECTOR, ROW)
    try:
        return str(found[0].text) if found else ""
    except Exception:  # replaced by an update meanwhile: read again next time
        return ""


def click(browser: Any, label: str) -> None:
    browser.find_element(By.CSS_SELECTOR, ROW).find_element(
        By.XPATH, f".//button[text()='{label}']"
    ).click()


def test_a_schedule_shows_its_words_next_runs_and_succeeded_runs(
    browser: Any, stack: Stack, tmp_path: Path
) -> None:
    browser.get(f"{stack.base}/ui/schedules")
    until(browser, lambda b: "every second" in row_text(b))
    until(browser, lambda b: "fired, succeeded" in row_text(b))
    assert "* * * * * * (UTC)" in row_text(browser)
    assert "active" in row_text(browser)
    screenshot(browser, tmp_path, "schedules")


def test_pause_resume_and_run_now_from_the_page(browser: Any, stack: Stack) -> None:
    browser.get(f"{stack.base}/ui/schedules")
    until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, ROW))
    click(browser, "Pause")
    until(browser, lambda b: "paused" in row_text(b))
    assert httpx.get(f"{stack.base}/schedules/every-second").json()["paused"] is True
    click(browser, "Resume")
    until(browser, lambda b: "active" in row_text(b))
    click(browser, "Run now")
    until(browser, lambda b: "Run now every-second: done" in b.find_element(By.ID, "flash").text)
    until(browser, lambda b: "run_now" in row_text(b))
