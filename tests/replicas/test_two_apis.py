"""Two `jobqueue api` replicas on one RabbitMQ, one PostgreSQL store and one Redis registry, end to
end: what one accepts the other shows, commands and cancellations cross over within a heartbeat,
and killing one loses nothing while the other serves on.

The tests share one deployment and run in this order; the last kills API A and starts it again.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from jobqueue.api.tracking import STORE_POLL_S
from tests.replicas.conftest import HEARTBEAT_S, JSON, Api, Deployment, Process, eventually

pytestmark = [
    pytest.mark.rabbitmq,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.timeout(90),
]

SLACK_S = 0.4
"""Past the heartbeat interval, what one more RPC, the handler's 5 ms look at its flag and a
busy two-core machine may add. A command or cancellation that waited for the store's refresh
(a second) or for a later heartbeat would not fit."""
WITHIN_A_HEARTBEAT_S = HEARTBEAT_S + SLACK_S


def figure(name: str, value: object) -> None:
    """Print one measured figure (shown with ``pytest -s``)."""
    print(f"replicas figure: {name} = {value}")


@pytest.fixture(scope="module")
def both_listed(deployment: Deployment) -> Deployment:
    """The deployment once both workers are listed by both APIs."""
    wanted = {"worker-a", "worker-b"}
    eventually(
        lambda: set(deployment.a.workers()) == set(deployment.b.workers()) == wanted,
        20.0,
        "both workers listed by both APIs",
    )
    return deployment


def test_a_job_submitted_to_one_api_is_found_on_the_other_at_once(deployment: Deployment) -> None:
    a, b = deployment.a, deployment.b
    lags_s, ids = [], []
    for n in range(20):
        first, other = (a, b) if n % 2 == 0 else (b, a)
        job_id = first.submit("nap", sleep_s=0.01)
        accepted = time.monotonic()
        found = other.job(job_id)  # one request, no retry: it is there or the test fails
        lags_s.append(time.monotonic() - accepted)
        assert found["id"] == job_id
        assert found["state"] in ("queued", "running", "succeeded")
        ids.append(job_id)
    figure("submit -> found on the other API, max ms", round(max(lags_s) * 1000, 1))

    # An idempotency key taken through one replica holds on the other: one job, not two.
    key = {**JSON, "Idempotency-Key": f"replicas-{uuid.uuid4()}"}
    body = {"type": "nap", "payload": {"sleep_s": 0.01}}
    first_answer = a.http.post("/jobs", json=body, headers=key)
    again = b.http.post("/jobs", json=body, headers=key)
    assert (first_answer.status_code, again.status_code) == (202, 200), again.text
    assert again.json()["id"] == first_answer.json()["id"]
    ids.append(first_answer.json()["id"])
    for n, job_id in enumerate(ids):
        assert (a if n % 2 else b).job(job_id, wait_s=20)["state"] == "succeeded"


def test_a_long_poll_on_either_api_answers_once_the_job_finished(both_listed: Deployment) -> None:
    # Either replica may apply a job's final events: the other's waiters hear of them at once,
    # not at their next look at the store.
    lags_s = []
    for n in range(10):
        first, other = (both_listed.a, both_listed.b) if n % 2 else (both_listed.b, both_listed.a)
        job_id = first.submit("nap", sleep_s=0.2)
        assert other.job(job_id, wait_s=20)["state"] == "succeeded"
        answered = time.time()
        ran = next(float(run[3]) for run in both_listed.runs("nap") if run[0] == job_id)
        lags_s.append(answered - ran)
    figure("handler done -> ?wait= answered, max s", round(max(lags_s), 3))
    assert max(lags_s) < STORE_POLL_S / 2


def test_workers_heartbeating_either_api_are_listed_by_both(both_listed: Deployment) -> None:
    a, b = both_listed.a, both_listed.b
    assert a.workers().keys() == b.workers().keys() == {"worker-a", "worker-b"}
    # Each worker talks to its own API: A heard worker-a register, B worker-b.
    assert "worker worker-a registered" in a.output()
    assert "worker-a" not in b.output()
    assert "worker worker-b registered" in b.output()
    assert "worker-b" not in a.output()


def _hold_one_on_each_worker(deployment: Deployment) -> dict[str, str]:
    """Start ``hold`` jobs until each worker runs one; the job id held by each worker."""
    held: dict[str, str] = {}
    for _ in range(10):
        job_id = deployment.a.submit("hold")

        def started(job_id: str = job_id) -> bool:
            return any(run[0] == job_id for run in deployment.runs("hold-started"))

        def running(job_id: str = job_id) -> bool:
            return deployment.b.job(job_id)["state"] == "running"

        eventually(started, 15.0, f"hold job {job_id} started")
        eventually(running, 10.0, f"hold job {job_id} running as the store shows")
        worker = next(run[1] for run in deployment.runs("hold-started") if run[0] == job_id)
        if worker in held:
            deployment.b.http.delete(f"/jobs/{job_id}")
        else:
            held[worker] = job_id
        if len(held) == 2:
            return held
    raise AssertionError(f"hold jobs never landed on both workers: {held}")


def _cancel_and_time(api: Api, deployment: Deployment, job_id: str) -> float:
    """DELETE the running job through ``api``; seconds until its handler saw the flag."""
    sent = time.time()
    answer = api.http.delete(f"/jobs/{job_id}")
    assert answer.status_code == 202, answer.text

    def seen() -> bool:
        return any(run[0] == job_id for run in deployment.runs("hold-cancelled"))

    eventually(seen, 10.0, f"cancellation of {job_id} seen by its handler")
    seen_at = next(float(run[3]) for run in deployment.runs("hold-cancelled") if run[0] == job_id)
    return seen_at - sent


def test_a_cancel_sent_to_one_api_stops_a_job_on_the_other_apis_worker_within_a_heartbeat(
    both_listed: Deployment,
) -> None:
    a, b = both_listed.a, both_listed.b
    held = _hold_one_on_each_worker(both_listed)

    to_b_s = _cancel_and_time(b, both_listed, held["worker-a"])  # worker-a heartbeats to A
    to_a_s = _cancel_and_time(a, both_listed, held["worker-b"])  # worker-b heartbeats to B

    figure("cancel via B -> seen by worker-a's handler, s", round(to_b_s, 3))
    figure("cancel via A -> seen by worker-b's handler, s", round(to_a_s, 3))
    figure("heartbeat interval, s", HEARTBEAT_S)
    assert to_b_s < WITHIN_A_HEARTBEAT_S, both_listed.output()
    assert to_a_s < WITHIN_A_HEARTBEAT_S, both_listed.output()
    for job_id in held.values():
        assert a.job(job_id, wait_s=10)["state"] == "cancelled"
        assert b.job(job_id)["state"] == "cancelled"


def _command_and_time(api: Api, other: Api, worker: str, command: str, state: str) -> float:
    """Send ``command`` to ``worker`` through ``api``; seconds until ``other`` lists it in
    ``state`` (the worker reports its new state at once, in a heartbeat of its own)."""
    sent = time.monotonic()
    answer = api.http.post(f"/workers/{worker}/{command}")
    assert answer.status_code == 202, answer.text
    eventually(lambda: other.workers()[worker]["state"] == state, 10.0, f"{worker} {state}")
    return time.monotonic() - sent


def _heard_from_since(api: Api, worker: str, since_unix: float) -> bool:
    return float(api.workers()[worker]["last_seen_unix"]) > since_unix


def test_a_pause_sent_to_one_api_reaches_the_other_apis_worker_within_a_heartbeat(
    both_listed: Deployment,
) -> None:
    a, b = both_listed.a, both_listed.b
    pause_b_s = _command_and_time(a, b, "worker-b", "pause", "paused")
    pause_a_s = _command_and_time(b, a, "worker-a", "pause", "paused")
    figure("pause via A -> worker-b paused, s", round(pause_b_s, 3))
    figure("pause via B -> worker-a paused, s", round(pause_a_s, 3))
    assert pause_b_s < WITHIN_A_HEARTBEAT_S
    assert pause_a_s < WITHIN_A_HEARTBEAT_S

    # A job cancelled through B while it waits is skipped by worker-a, which hears from A only.
    job_id = a.submit("nap")
    answer = b.http.delete(f"/jobs/{job_id}")
    assert answer.status_code == 200, answer.text
    cancelled_at = time.time()
    eventually(
        lambda: _heard_from_since(b, "worker-a", cancelled_at + HEARTBEAT_S),
        10.0,
        "a heartbeat of worker-a a whole interval after the cancellation",
    )
    resume_a_s = _command_and_time(b, a, "worker-a", "resume", "active")
    figure("resume via B -> worker-a active, s", round(resume_a_s, 3))

    def worker_a_events() -> list[str]:
        events = b.http.get(f"/jobs/{job_id}/events").json()["events"]
        return [event["kind"] for event in events if event["worker_id"] == "worker-a"]

    final = {"cancelled", "succeeded", "failed_attempt", "dead"}
    eventually(lambda: bool(final & set(worker_a_events())), 10.0, f"worker-a settling {job_id}")
    assert worker_a_events() == ["cancelled"], "worker-a ran the cancelled job"
    assert [run for run in both_listed.runs("nap") if run[0] == job_id] == []
    assert b.job(job_id)["state"] == "cancelled"
    _command_and_time(b, a, "worker-b", "resume", "active")


class Submitter:
    """Submits ``nap`` jobs to the APIs in turn from a thread, keeping the ids answered 202."""

    def __init__(self, apis: list[Api]) -> None:
        self._clients = [httpx.Client(base_url=api.base_url, timeout=5.0) for api in apis]
        self.accepted: list[list[str]] = [[] for _ in apis]
        self.refused: list[int] = [0 for _ in apis]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Submitter:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop submitting (the ids answered 202 stay in ``accepted``)."""
        self._stop.set()
        self._thread.join(timeout=10)
        for client in self._clients:
            client.close()

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            index = n % len(self._clients)
            n += 1
            body = {"type": "nap", "payload": {"sleep_s": 0.3}}
            try:
                answer = self._clients[index].post("/jobs", json=body, headers=JSON)
            except httpx.HTTPError:
                self.refused[index] += 1
                time.sleep(0.01)
                continue
            if answer.status_code == 202:
                self.accepted[index].append(str(answer.json()["id"]))
            else:
                self.refused[index] += 1


@pytest.fixture
def lone_worker(both_listed: Deployment) -> Iterator[Process]:
    """A third worker given API A's address alone, as most workers are given one."""
    process = both_listed.start_worker("worker-lone", both_listed.a.grpc_addr)
    try:
        eventually(lambda: "worker-lone" in both_listed.b.workers(), 20.0, "worker-lone listed")
        yield process
    finally:
        process.stop()


@pytest.fixture
def submitting(both_listed: Deployment) -> Iterator[Submitter]:
    with Submitter([both_listed.a, both_listed.b]) as submitter:
        yield submitter


def test_killing_one_api_loses_no_accepted_job_and_the_other_serves_on(
    both_listed: Deployment, lone_worker: Process, submitting: Submitter
) -> None:
    deployment = both_listed
    a, b = deployment.a, deployment.b
    eventually(lambda: len(submitting.accepted[0]) >= 40, 20.0, "40 jobs accepted by A")
    eventually(lambda: len(deployment.runs("nap")) >= 5, 20.0, "jobs running")
    killed_at = time.time()
    a.kill()
    in_flight = {job_id for ids in submitting.accepted for job_id in ids}
    in_flight -= {run[0] for run in deployment.runs("nap")}
    accepted_by_b = len(submitting.accepted[1])
    eventually(lambda: len(submitting.accepted[1]) >= accepted_by_b + 60, 20.0, "60 more by B")
    submitting.stop()
    before, during = submitting.accepted
    assert submitting.refused[1] == 0, "B refused a submission"

    # worker-a heartbeats reach B now: its entry is refreshed, and B's commands reach it.
    eventually(lambda: _heard_from_since(b, "worker-a", killed_at + HEARTBEAT_S), 10.0, "moved")
    failover_s = time.time() - killed_at
    # worker-lone cannot reach any API, and runs jobs all the same: the broker delivers them.
    lone_runs = [
        r for r in deployment.runs("nap") if r[1] == "worker-lone" and float(r[3]) > killed_at
    ]
    assert lone_runs, "worker-lone ran nothing while A was down"
    assert _command_and_time(b, b, "worker-a", "pause", "paused") < WITHIN_A_HEARTBEAT_S
    _command_and_time(b, b, "worker-a", "resume", "active")

    accepted = before + during
    finished = [b.job(job_id, wait_s=30) for job_id in accepted]
    runs: dict[str, int] = {}
    for run in deployment.runs("nap"):
        runs[run[0]] = runs.get(run[0], 0) + 1
    lost = [job["id"] for job in finished if job["state"] != "succeeded"]
    twice = [job_id for job_id in accepted if runs.get(job_id, 0) != 1]
    figure("accepted, not yet run when A was killed", len(in_flight))
    figure("accepted by A before its kill", len(before))
    figure("accepted by B (before and after the kill)", len(during))
    figure("refused by A (connection refused once killed)", submitting.refused[0])
    figure("finished (succeeded)", len(finished) - len(lost))
    figure("lost", len(lost))
    figure("run other than once", len(twice))
    figure("worker-a heard from through B after the kill, s", round(failover_s, 3))
    assert lost == [], deployment.output()
    assert twice == []
    assert {job["attempts"] for job in finished} == {1}

    figure("jobs worker-lone ran while its API was down", len(lone_runs))

    restarted_at = time.time()
    a.restart()
    ready_s = eventually(a.ready, 30.0, "A serving again")
    assert a.job(during[-1])["state"] == "succeeded"
    assert a.job(a.submit("nap"), wait_s=20)["state"] == "succeeded"
    back_s = eventually(lambda: _heard_from_since(a, "worker-lone", restarted_at), 10.0, "back")
    figure("A restarted: ready after, s", round(ready_s, 3))
    figure("then worker-lone heard from through A again after, s", round(back_s, 3))
