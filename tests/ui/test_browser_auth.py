"""The dashboard with authentication on, in headless Chromium: signing in and out with a token,
a read-only token shown no action, and a change the cookie authenticates refused without the
session's CSRF token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.ui.conftest import Stack, screenshot, start_stack, wait_until

pytestmark = pytest.mark.timeout(120)

ADMIN_SECRET = "admin-secret-for-the-dashboard-tests"
READER_SECRET = "reader-secret-for-the-dashboard-tests"
TOKENS = f"ops:submit,read,admin,worker:{ADMIN_SECRET} viewer:read:{READER_SECRET}"
WAIT_S = 20.0
FETCH = """
const [method, url, headers, done] = arguments;
fetch(url, {method, headers, credentials: "same-origin"}).then((r) => done(r.status));
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One API with two tokens, and a worker holding the admin one."""
    stack = start_stack(tmp_path_factory.mktemp("ui-auth"), tokens=TOKENS)
    bearer = {"Authorization": f"Bearer {ADMIN_SECRET}"}
    try:
        wait_until(
            lambda: httpx.get(f"{stack.base}/workers", headers=bearer).json().get("workers"),
            WAIT_S,
        )
        yield stack
    finally:
        stack.stop()


def until(browser: Any, check: Any) -> Any:
    """Wait for ``check(browser)`` to be true in the page."""
    return WebDriverWait(browser, WAIT_S, poll_frequency=0.1).until(check)


def sign_in(browser: Any, stack: Stack, secret: str, page: str = "/ui") -> None:
    """Sign in through the login form, starting from ``page``."""
    browser.delete_all_cookies()
    browser.get(f"{stack.base}{page}")
    until(browser, lambda b: "/ui/login" in b.current_url)
    field = browser.find_element(By.ID, "token")
    field.send_keys(secret)
    field.submit()
    until(browser, lambda b: "/ui/login" not in b.current_url)


def test_signing_in_and_out_with_a_token(browser: Any, stack: Stack, tmp_path: Path) -> None:
    browser.delete_all_cookies()
    browser.get(f"{stack.base}/ui/workers")
    until(browser, lambda b: "/ui/login?next=%2Fui%2Fworkers" in b.current_url)
    screenshot(browser, tmp_path, "login")
    browser.find_element(By.ID, "token").send_keys("not-a-token")
    browser.find_element(By.ID, "token").submit()
    until(browser, lambda b: b.find_elements(By.ID, "token-problem"))
    assert "not valid" in browser.find_element(By.ID, "token-problem").text

    sign_in(browser, stack, ADMIN_SECRET, "/ui/workers")
    assert browser.current_url.endswith("/ui/workers")
    until(browser, lambda b: b.find_element(By.ID, "live").text == "live")
    assert browser.find_element(By.CSS_SELECTOR, ".who").text == "ops"
    cookie = browser.get_cookie("jobqueue_session")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert browser.execute_script("return document.cookie") == ""  # scripts cannot read it

    browser.find_element(By.XPATH, "//button[text()='Sign out']").click()
    until(browser, lambda b: b.current_url.endswith("/ui/login"))
    assert browser.get_cookie("jobqueue_session") is None
    browser.get(f"{stack.base}/ui")
    until(browser, lambda b: "/ui/login" in b.current_url)


def test_a_read_only_token_sees_no_action_buttons(
    browser: Any, stack: Stack, tmp_path: Path
) -> None:
    sign_in(browser, stack, READER_SECRET, "/ui/workers")
    until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#workers tbody tr[data-worker-id]"))
    assert not browser.find_elements(By.CSS_SELECTOR, "#workers button")
    for page, absent in (("/ui/dlq", "replay-all"), ("/ui/jobs", "bulk-action")):
        browser.get(f"{stack.base}{page}")
        until(browser, lambda b: b.find_element(By.ID, "live").text == "live")
        assert not browser.find_elements(By.ID, absent)
        assert not browser.find_elements(By.CSS_SELECTOR, "main button[type=button]")
    browser.get(f"{stack.base}/ui/audit")
    assert "for admins" in browser.find_element(By.ID, "admin-only").text
    screenshot(browser, tmp_path, "audit-read-only")


def test_a_cookie_authenticated_change_needs_the_csrf_token(browser: Any, stack: Stack) -> None:
    sign_in(browser, stack, ADMIN_SECRET, "/ui/dlq")
    csrf = browser.find_element(By.CSS_SELECTOR, 'meta[name="csrf-token"]').get_attribute("content")
    assert len(csrf) == 64
    refused = browser.execute_async_script(FETCH, "DELETE", "/dlq", {})
    assert refused == 403
    forged = browser.execute_async_script(FETCH, "DELETE", "/dlq", {"X-CSRF-Token": "f" * 64})
    assert forged == 403
    taken = browser.execute_async_script(FETCH, "DELETE", "/dlq", {"X-CSRF-Token": csrf})
    assert taken == 200
    read = browser.execute_async_script(FETCH, "GET", "/jobs", {})
    assert read == 200  # reads need no CSRF token


def test_the_audit_page_shows_who_did_what(browser: Any, stack: Stack, tmp_path: Path) -> None:
    sign_in(browser, stack, ADMIN_SECRET, "/ui/audit")
    until(browser, lambda b: "dlq.purge" in b.find_element(By.CSS_SELECTOR, "#audit tbody").text)
    rows = browser.execute_script(
        "return [...document.querySelectorAll('#audit tbody tr')].map((row) => row.innerText)"
    )
    assert any("dlq.purge" in row and "ops" in row for row in rows)
    screenshot(browser, tmp_path, "audit")
