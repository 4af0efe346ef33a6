"""The dashboard in headless Chromium against a real ``jobqueue api`` and worker: live counts
over SSE, a job's page, replaying a dead-letter group, pausing a worker, hostile strings from
clients and workers shown as text, the phone width, and a screenshot of each page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import grpc
import httpx
import pytest
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from jobqueue.control import worker_pb2 as pb
from jobqueue.control import worker_pb2_grpc as pb_grpc
from tests.ui.conftest import Stack, screenshot, start_stack, wait_until

pytestmark = pytest.mark.timeout(120)

XSS_WORKER_ID = '"><img src=x onerror=window.__xss=1>'  # a worker id has no '/'
XSS = (
    "<script>window.__xss=1</script>",
    '"><img src=x onerror="window.__xss=1;alert(1)">',
    "javascript:window.__xss=1",
    "<svg onload=window.__xss=1>",
)
WAIT_S = 20.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One API and one worker (whose id is hostile) for the module."""
    stack = start_stack(tmp_path_factory.mktemp("ui"), worker_id=XSS_WORKER_ID)
    try:
        wait_until(lambda: workers(stack), WAIT_S)
        yield stack
    finally:
        stack.stop()


def workers(stack: Stack) -> list[dict[str, Any]]:
    """The live workers."""
    answer = httpx.get(f"{stack.base}/workers", timeout=5)
    return list(answer.json()["workers"]) if answer.status_code == 200 else []


def submit(stack: Stack, job_type: str, payload: Any) -> str:
    """Submit a job; its id."""
    answer = httpx.post(f"{stack.base}/jobs", json={"type": job_type, "payload": payload})
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def job(stack: Stack, job_id: str) -> dict[str, Any]:
    """The job's record."""
    record: dict[str, Any] = httpx.get(f"{stack.base}/jobs/{job_id}", timeout=5).json()
    return record


def kinds_of(stack: Stack, job_id: str) -> list[str]:
    """The kinds of the job's events, oldest first."""
    answer = httpx.get(f"{stack.base}/jobs/{job_id}/events", timeout=5).json()
    return [event["kind"] for event in answer["events"]]


def settled(stack: Stack, job_id: str, state: str) -> None:
    """Wait until the job is in ``state``."""
    wait_until(lambda: job(stack, job_id).get("state") == state, WAIT_S)


def until(browser: Any, check: Any) -> Any:
    """Wait for ``check(browser)`` to be true in the page."""
    return WebDriverWait(browser, WAIT_S, poll_frequency=0.1).until(check)


def text_of(browser: Any, selector: str) -> str:
    """The text of the first element matching ``selector``, or ''; read again when an update
    replaced the element meanwhile."""
    for _ in range(5):
        try:
            found = browser.find_elements(By.CSS_SELECTOR, selector)
            return str(found[0].text) if found else ""
        except StaleElementReferenceException:
            continue
    return ""


def click(browser: Any, selector: str, xpath: str = ".") -> None:
    """Click the element at ``xpath`` under the first match of ``selector``, again if an update
    replaced it meanwhile."""

    def clicked(b: Any) -> bool:
        try:
            b.find_element(By.CSS_SELECTOR, selector).find_element(By.XPATH, xpath).click()
        except StaleElementReferenceException:
            return False
        return True

    until(browser, clicked)


def confirm(browser: Any) -> None:
    """Press Confirm in the page's confirmation dialog."""
    until(browser, lambda b: b.find_element(By.ID, "confirm").is_displayed())
    browser.find_element(By.ID, "confirm-ok").click()


def assert_nothing_ran(browser: Any) -> None:
    """No injected script ran: the marker is unset and no alert is open."""
    assert browser.execute_script("return typeof window.__xss") == "undefined"
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - reading it is what raises


def test_the_overview_counts_change_live_without_a_reload(
    browser: Any, stack: Stack, tmp_path: Path
) -> None:
    browser.get(f"{stack.base}/ui")
    until(browser, lambda b: text_of(b, "#live") == "live")
    browser.execute_script("window.__stayed = 'yes'")
    before = int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-updates") or 0)
    ids = [submit(stack, "echo", {"n": n}) for n in range(5)]
    for job_id in ids:
        settled(stack, job_id, "succeeded")

    def succeeded_shown(b: Any) -> int:
        shown = text_of(b, '#states tr[data-state="succeeded"] td').replace(",", "")
        return int(shown) if shown.isdigit() else 0

    until(browser, lambda b: succeeded_shown(b) >= 5)
    assert browser.execute_script("return window.__stayed") == "yes"  # the same page all along
    updates = int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-updates"))
    assert updates > before
    assert browser.find_elements(By.CSS_SELECTOR, "#chart-throughput canvas")
    screenshot(browser, tmp_path, "overview-live")
    browser.find_element(By.LINK_TEXT, "Last 24 hours").click()
    until(browser, lambda b: b.current_url.endswith("/ui?window=24h"))
    until(browser, lambda b: succeeded_shown(b) >= 5)
    assert text_of(browser, "#stats-problem") == ""


def test_a_jobs_page_shows_payload_progress_result_and_timeline(
    browser: Any, stack: Stack, tmp_path: Path
) -> None:
    job_id = submit(stack, "crawl", {"seconds": 3, "note": "walk slowly"})
    browser.get(f"{stack.base}/ui/jobs/{job_id}")
    until(browser, lambda b: b.find_element(By.ID, "progress-box").is_displayed())
    assert "walk slowly" in text_of(browser, "#payload")
    until(browser, lambda b: text_of(b, "#job-state") == "succeeded")
    assert text_of(browser, "#result") == "crawled"
    kinds = browser.execute_script(
        "return [...document.querySelectorAll('#events li')].map((item) => item.dataset.kind)"
    )
    assert "succeeded" in kinds
    screenshot(browser, tmp_path, "job")
    browser.get(f"{stack.base}/ui/jobs?type=crawl")
    until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, f'tr[data-job-id="{job_id}"]'))
    click(browser, f'tr[data-job-id="{job_id}"] a')
    until(browser, lambda b: b.current_url.endswith(f"/ui/jobs/{job_id}"))
    browser.get(f"{stack.base}/ui/jobs")
    screenshot(browser, tmp_path, "jobs")


def test_replaying_a_dead_letter_group_runs_its_jobs_again(
    browser: Any, stack: Stack, tmp_path: Path
) -> None:
    ids = [submit(stack, "explode", {"message": "disk full on volume 7"}) for _ in range(2)]
    for job_id in ids:
        settled(stack, job_id, "dead")
    groups = httpx.get(f"{stack.base}/dlq/groups", timeout=5).json()["groups"]
    fingerprint = next(g["fingerprint"] for g in groups if "disk full" in g["message"])
    card = f'.group[data-fingerprint="{fingerprint}"]'
    browser.get(f"{stack.base}/ui/dlq")
    until(browser, lambda b: text_of(b, f"{card} .count") == "2")
    assert "disk full on volume" in text_of(browser, f"{card} .message")
    screenshot(browser, tmp_path, "dlq")
    click(browser, card, ".//button[text()='Replay group']")
    confirm(browser)
    until(browser, lambda b: "Replay group: done" in text_of(b, "#flash"))

    def attempted(times: int) -> bool:
        return all(kinds_of(stack, job_id).count("running") >= times for job_id in ids)

    wait_until(lambda: attempted(2), WAIT_S)
    until(browser, lambda b: text_of(b, f"{card} .count") == "2")  # dead again
    browser.find_element(By.ID, "pace").send_keys("50")
    browser.find_element(By.ID, "replay-all").click()
    until(browser, lambda b: "at 50 per second" in text_of(b, "#confirm-text"))
    confirm(browser)
    until(browser, lambda b: "Replay all: done" in text_of(b, "#flash"))
    wait_until(lambda: attempted(3), WAIT_S)


def test_bulk_actions_count_first_and_ask_before_acting(
    browser: Any, stack: Stack, tmp_path: Path
) -> None:
    done = [submit(stack, "echo", {"bulk": n}) for n in range(3)]
    for job_id in done:
        settled(stack, job_id, "succeeded")
    browser.get(f"{stack.base}/ui/jobs?type=echo")
    for job_id in done[:2]:
        click(browser, f'tr[data-job-id="{job_id}"] input.pick')
    until(browser, lambda b: text_of(b, "#selected-count") == "2")
    Select(browser.find_element(By.ID, "bulk-action")).select_by_value("delete")
    browser.find_element(By.ID, "bulk-selected").click()
    until(browser, lambda b: "delete 2 job(s)" in text_of(b, "#confirm-text"))
    confirm(browser)
    until(browser, lambda b: "Bulk delete: 2 done" in text_of(b, "#flash"))
    gone = [httpx.get(f"{stack.base}/jobs/{job_id}").status_code for job_id in done]
    assert gone == [404, 404, 200]

    dead = submit(stack, "explode", {"message": "bulk retry me"})
    settled(stack, dead, "dead")
    matching = httpx.get(f"{stack.base}/jobs", params={"state": "dead", "limit": 1000})
    count = len(matching.json()["jobs"])
    browser.get(f"{stack.base}/ui/jobs?state=dead")
    Select(browser.find_element(By.ID, "bulk-action")).select_by_value("retry")
    browser.find_element(By.ID, "bulk-matching").click()
    until(browser, lambda b: f"retry {count} job(s)" in text_of(b, "#confirm-text"))
    screenshot(browser, tmp_path, "jobs-bulk-confirm")
    browser.find_element(By.CSS_SELECTOR, "#confirm button[value=cancel]").click()
    until(browser, lambda b: not b.find_element(By.ID, "confirm").is_displayed())
    assert kinds_of(stack, dead).count("running") == 1  # cancelled: nothing was retried


def test_pausing_a_worker_shows_its_new_state(browser: Any, stack: Stack, tmp_path: Path) -> None:
    browser.get(f"{stack.base}/ui/workers")
    row = f'tr[data-worker-id="{XSS_WORKER_ID.replace(chr(34), chr(92) + chr(34))}"]'
    until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, row))
    browser.find_element(By.CSS_SELECTOR, row).find_element(
        By.XPATH, ".//button[text()='Pause']"
    ).click()
    until(browser, lambda b: "paused" in text_of(b, f"{row} .state"))
    screenshot(browser, tmp_path, "workers")
    browser.find_element(By.CSS_SELECTOR, row).find_element(
        By.XPATH, ".//button[text()='Resume']"
    ).click()
    until(browser, lambda b: text_of(b, f"{row} .state") == "active")


def register_hostile_workers(stack: Stack) -> None:
    """A worker whose every label is hostile, and one that reports only its id (as the original
    implementation's workers do)."""
    details = pb.WorkerDetails(
        host=XSS[1], version=XSS[0], job_types=list(XSS), queue="jobs", pid=4242
    )
    with grpc.insecure_channel(stack.grpc) as channel:
        stub = pb_grpc.WorkerServiceStub(channel)
        stub.Register(pb.RegisterRequest(worker_id="<b>hostile-labels", details=details), timeout=5)
        stub.Register(pb.RegisterRequest(worker_id="original-go-worker"), timeout=5)


def test_hostile_strings_from_clients_and_workers_are_shown_as_text(
    browser: Any, stack: Stack, tmp_path: Path
) -> None:
    typed = [submit(stack, text, {"x": 1}) for text in XSS]  # nobody serves them: they wait
    payloads = [submit(stack, "echo", {"html": text}) for text in XSS]
    errors = [submit(stack, "explode", {"message": text}) for text in XSS]
    for job_id in errors:
        settled(stack, job_id, "dead")
    register_hostile_workers(stack)
    pages = ["/ui", "/ui/jobs", "/ui/dlq", "/ui/workers", "/ui/audit"]
    pages += [f"/ui/jobs/{quote(job_id)}" for job_id in (typed[1], payloads[1], errors[1])]
    pages += [f"/ui/jobs?type={quote(XSS[0])}"]
    for path in pages:
        browser.get(f"{stack.base}{path}")
        until(browser, lambda b: text_of(b, "#live") == "live")
        until(
            browser,
            lambda b: (
                int(b.find_element(By.TAG_NAME, "body").get_attribute("data-updates") or 0) > 0
            ),
        )
        assert_nothing_ran(browser)
    browser.get(f"{stack.base}/ui/workers")
    until(browser, lambda b: "original-go-worker" in text_of(b, "#workers tbody"))
    table = text_of(browser, "#workers tbody")
    assert XSS[1] in table
    assert XSS_WORKER_ID in table
    assert "<b>hostile-labels" in table
    assert_nothing_ran(browser)
    browser.get(f"{stack.base}/ui/dlq")
    until(browser, lambda b: XSS[0] in text_of(b, "#dead tbody"))
    assert_nothing_ran(browser)
    browser.get(f"{stack.base}/ui/jobs/{errors[0]}")
    until(browser, lambda b: XSS[0] in text_of(b, "#error"))
    assert "Traceback" in text_of(browser, "#traceback")
    click(browser, "#retry-job")
    until(browser, lambda b: "Retry: done" in text_of(b, "#flash"))
    wait_until(lambda: kinds_of(stack, errors[0]).count("running") >= 2, WAIT_S)
    assert_nothing_ran(browser)
    refusals = [
        entry["message"]
        for entry in browser.get_log("browser")
        if "Content Security Policy" in entry["message"]
    ]
    assert refusals == []  # no page needed anything the policy forbids


def test_pages_fit_a_phone_and_keep_working(browser: Any, stack: Stack, tmp_path: Path) -> None:
    browser.set_window_size(375, 800)
    try:
        for path in ("/ui", "/ui/jobs", "/ui/dlq", "/ui/workers"):
            browser.get(f"{stack.base}{path}")
            until(browser, lambda b: text_of(b, "#live") == "live")
            width = browser.execute_script("return document.documentElement.scrollWidth")
            inner = browser.execute_script("return window.innerWidth")
            assert width <= inner, f"{path} is {width} px wide in a {inner} px window"
        screenshot(browser, tmp_path, "workers-phone")
    finally:
        browser.set_window_size(1280, 900)


def test_every_page_is_reachable_by_keyboard(browser: Any, stack: Stack) -> None:
    browser.get(f"{stack.base}/ui/jobs")
    until(browser, lambda b: text_of(b, "#live") == "live")
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys("\t")  # the skip link first
    assert browser.switch_to.active_element.text == "Skip to content"
    labels = [
        label.get_attribute("for")
        for label in browser.find_elements(By.CSS_SELECTOR, "form.filters label")
    ]
    assert labels == ["f-state", "f-type", "f-since", "f-until", "f-id"]


def test_the_jobs_list_pages_by_cursor_with_the_filter_in_the_url(
    browser: Any, stack: Stack
) -> None:
    jobs = [{"type": "echo", "payload": {"page": n}} for n in range(55)]
    answer = httpx.post(f"{stack.base}/jobs/batch", json={"jobs": jobs}, timeout=10)
    assert answer.status_code == 202
    last = answer.json()["jobs"][-1]["id"]
    browser.get(f"{stack.base}/ui/jobs?type=echo")
    until(browser, lambda b: b.find_element(By.ID, "next-page").is_displayed())
    first_page = browser.execute_script(
        "return [...document.querySelectorAll('#jobs tbody tr')].map((row) => row.dataset.jobId)"
    )
    assert len(first_page) == 50
    assert first_page[0] == last  # newest first
    click(browser, "#next-page")
    until(browser, lambda b: "cursor=" in b.current_url and "type=echo" in b.current_url)
    until(browser, lambda b: b.find_element(By.ID, "first-page").is_displayed())
    until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#jobs tbody tr[data-job-id]"))
    second_page = browser.execute_script(
        "return [...document.querySelectorAll('#jobs tbody tr')].map((row) => row.dataset.jobId)"
    )
    assert not set(second_page) & set(first_page)
    assert browser.find_element(By.ID, "f-type").get_attribute("value") == "echo"


def test_the_overview_after_the_modules_work(browser: Any, stack: Stack, tmp_path: Path) -> None:
    browser.get(f"{stack.base}/ui")
    until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#chart-depth canvas"))
    until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, '#states tr[data-state="dead"]'))
    assert text_of(browser, "#stats-problem") == ""
    assert browser.execute_script("return window.innerWidth") == 1280
    screenshot(browser, tmp_path, "overview")  # docs/images/overview.png is made from this


def test_pages_follow_the_systems_dark_setting(browser: Any, stack: Stack, tmp_path: Path) -> None:
    def background(b: Any) -> str:
        return str(b.execute_script("return getComputedStyle(document.body).backgroundColor"))

    browser.get(f"{stack.base}/ui/workers")
    light = background(browser)
    dark_scheme = {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", dark_scheme)
    try:
        browser.get(f"{stack.base}/ui/workers")
        until(browser, lambda b: text_of(b, "#live") == "live")
        assert background(browser) == "rgb(15, 18, 22)"
        assert light == "rgb(247, 248, 250)"
        screenshot(browser, tmp_path, "workers-dark")
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
