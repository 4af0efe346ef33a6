"""The API's operations as :data:`~jobqueue.client.exchange.Operation` generators: the one
place that knows the routes, what each sends, and how its answer reads."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, TypedDict
from urllib.parse import quote

from jobqueue.client.errors import WaitTimeout
from jobqueue.client.exchange import Call, Operation, answer_json, exchange
from jobqueue.client.models import (
    Batch,
    BulkResult,
    DeadGroup,
    DeadJob,
    Job,
    JobEvent,
    JobState,
    Page,
    Submission,
    Worker,
)
from jobqueue.client.retry import RetryPolicy
from jobqueue.client.spec import JobSpec, rfc3339

LONG_POLL_S = 60.0
"""The longest the API holds ``GET /jobs/{id}?wait=`` before it answers."""
WorkerCommand = Literal["pause", "resume", "drain"]
BulkAction = Literal["retry", "cancel", "delete"]


class JobFilters(TypedDict, total=False):
    """Which jobs a listing holds (each filter as ``GET /jobs`` names it; ``id_prefix`` is its
    ``id``: a whole id, or the start of ids)."""

    state: JobState | str
    type: str
    since: datetime | str
    until: datetime | str
    id_prefix: str


def filter_params(filters: JobFilters) -> dict[str, Any]:
    """The filters as ``GET /jobs`` (and a bulk action's ``filter``) name them."""
    params: dict[str, Any] = {}
    for name, value in filters.items():
        if value is not None:
            key = "id" if name == "id_prefix" else name
            params[key] = rfc3339(value, name) if isinstance(value, datetime) else str(value)
    return params


def _segment(text: str) -> str:
    """``text`` as one path segment, whatever it holds."""
    return quote(text, safe="")


class Operations:
    """The operations over an API at ``base_url``, each retried as ``retry`` says."""

    def __init__(self, base_url: str, retry: RetryPolicy) -> None:
        self.base_url = base_url
        self.retry = retry

    def _answer(self, call: Call) -> Operation[Any]:
        response = yield from exchange(call, self.retry, self.base_url)
        return answer_json(response)

    def submit(self, spec: JobSpec) -> Operation[Submission]:
        """``POST /jobs`` under the spec's idempotency key."""
        headers = {"Idempotency-Key": spec.idempotency_key}
        call = Call("POST", "/jobs", body=spec.to_wire(), headers=headers, idempotent=True)
        answer = yield from self._answer(call)
        return Submission.from_wire(answer, spec.idempotency_key)

    def submit_batch(self, specs: Sequence[JobSpec]) -> Operation[Batch]:
        """``POST /jobs/batch``, each job under its own idempotency key."""
        jobs = [{**spec.to_wire(), "idempotency_key": spec.idempotency_key} for spec in specs]
        call = Call("POST", "/jobs/batch", body={"jobs": jobs}, idempotent=True)
        answer = yield from self._answer(call)
        submitted = [
            Submission.from_wire(wire, spec.idempotency_key)
            for wire, spec in zip(answer["jobs"], specs, strict=True)
        ]
        return Batch(submitted, answer.get("warning"))

    def get(self, job_id: str, wait_s: float = 0.0) -> Operation[Job]:
        """``GET /jobs/{id}``; with ``wait_s``, answered once the job finished or after that
        long (at most :data:`LONG_POLL_S`)."""
        wait_s = min(max(wait_s, 0.0), LONG_POLL_S)
        params = {"wait": round(wait_s, 3)} if wait_s > 0 else None
        call = Call("GET", f"/jobs/{_segment(job_id)}", params, idempotent=True, held_s=wait_s)
        return Job.from_wire((yield from self._answer(call)))

    def wait(self, job_id: str, timeout_s: float | None) -> Operation[Job]:
        """The job once finished, asking the API to hold each request until it is (a long
        poll); :class:`WaitTimeout` past ``timeout_s`` (None: no limit)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            left_s = LONG_POLL_S if deadline is None else deadline - time.monotonic()
            job = yield from self.get(job_id, wait_s=left_s)
            if job.finished:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(
                    f"job {job_id} is still {job.state.value} after {timeout_s:g} s", job
                )

    def events(self, job_id: str) -> Operation[list[JobEvent]]:
        """``GET /jobs/{id}/events``: the job's history, oldest first."""
        call = Call("GET", f"/jobs/{_segment(job_id)}/events", idempotent=True)
        answer = yield from self._answer(call)
        return [JobEvent.from_wire(event) for event in answer["events"]]

    def list_jobs(
        self, limit: int, cursor: str | None, filters: JobFilters
    ) -> Operation[Page[Job]]:
        """``GET /jobs``: a page of jobs, newest first."""
        params: dict[str, Any] = {"limit": limit, **filter_params(filters)}
        if cursor is not None:
            params["cursor"] = cursor
        answer = yield from self._answer(Call("GET", "/jobs", params, idempotent=True))
        return Page([Job.from_wire(job) for job in answer["jobs"]], answer.get("next_cursor"))

    def cancel(self, job_id: str) -> Operation[Job]:
        """``DELETE /jobs/{id}``: the job cancelled, or a running one asked to stop."""
        answer = yield from self._answer(Call("DELETE", f"/jobs/{_segment(job_id)}"))
        return Job.from_wire(answer)

    def bulk(
        self, action: BulkAction, ids: Sequence[str] | None, filters: JobFilters, dry_run: bool
    ) -> Operation[BulkResult]:
        """``POST /jobs/bulk`` on the jobs of ``ids``, else on those the filters match."""
        selection = {"ids": list(ids)} if ids is not None else {"filter": filter_params(filters)}
        body = {"action": action, **selection, "dry_run": dry_run}
        answer = yield from self._answer(Call("POST", "/jobs/bulk", body=body))
        return BulkResult.from_wire(answer)

    def dead_jobs(self, limit: int) -> Operation[list[DeadJob]]:
        """``GET /dlq``: the oldest dead jobs."""
        call = Call("GET", "/dlq", {"limit": limit}, idempotent=True)
        answer = yield from self._answer(call)
        return [DeadJob.from_wire(dead) for dead in answer["dead_jobs"]]

    def dead_job(self, job_id: str) -> Operation[DeadJob]:
        """``GET /dlq/{id}``: one dead job with its traceback."""
        call = Call("GET", f"/dlq/{_segment(job_id)}", idempotent=True)
        return DeadJob.from_wire((yield from self._answer(call)))

    def replay(self, job_id: str) -> Operation[Submission]:
        """``POST /dlq/{id}/replay``: the dead job queued again, attempts reset."""
        answer = yield from self._answer(Call("POST", f"/dlq/{_segment(job_id)}/replay"))
        return Submission.from_wire(answer)

    def replay_all(self, per_second: float | None) -> Operation[int]:
        """``POST /dlq/replay``: how many dead jobs were (or, paced, will be) queued again."""
        params = None if per_second is None else {"per_second": per_second}
        answer = yield from self._answer(Call("POST", "/dlq/replay", params))
        return int(answer.get("replayed", answer.get("replaying", 0)))

    def purge_dead(self) -> Operation[int]:
        """``DELETE /dlq``: how many dead jobs were deleted."""
        answer = yield from self._answer(Call("DELETE", "/dlq"))
        return int(answer["purged"])

    def dead_groups(self, scan: int | None) -> Operation[list[DeadGroup]]:
        """``GET /dlq/groups``: the oldest ``scan`` dead jobs grouped by failure, biggest first."""
        params = None if scan is None else {"scan": scan}
        answer = yield from self._answer(Call("GET", "/dlq/groups", params, idempotent=True))
        return [DeadGroup.from_wire(group) for group in answer["groups"]]

    def replay_group(self, fingerprint: str, per_second: float | None) -> Operation[int]:
        """``POST /dlq/groups/{fingerprint}/replay``: how many the background replay takes."""
        params = None if per_second is None else {"per_second": per_second}
        path = f"/dlq/groups/{_segment(fingerprint)}/replay"
        answer = yield from self._answer(Call("POST", path, params))
        return int(answer["replaying"])

    def purge_group(self, fingerprint: str) -> Operation[int]:
        """``DELETE /dlq/groups/{fingerprint}``: how many dead jobs were deleted."""
        call = Call("DELETE", f"/dlq/groups/{_segment(fingerprint)}")
        return int((yield from self._answer(call))["purged"])

    def replay_selected(self, ids: Sequence[str], per_second: float | None) -> Operation[int]:
        """``POST /dlq/replay-selected``: how many of these the background replay takes."""
        body: dict[str, Any] = {"ids": list(ids)}
        if per_second is not None:
            body["per_second"] = float(per_second)
        answer = yield from self._answer(Call("POST", "/dlq/replay-selected", body=body))
        return int(answer["replaying"])

    def list_workers(self, limit: int, cursor: str | None) -> Operation[Page[Worker]]:
        """``GET /workers``: a page of live workers by id."""
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        answer = yield from self._answer(Call("GET", "/workers", params, idempotent=True))
        workers = [Worker.from_wire(worker) for worker in answer["workers"]]
        return Page(workers, answer.get("next_cursor"))

    def worker(self, worker_id: str) -> Operation[Worker]:
        """``GET /workers/{id}``."""
        call = Call("GET", f"/workers/{_segment(worker_id)}", idempotent=True)
        return Worker.from_wire((yield from self._answer(call)))

    def command(self, worker_id: str, command: WorkerCommand) -> Operation[None]:
        """``POST /workers/{id}/{command}``: taken with the worker's next heartbeat (sending
        it twice leaves the same command waiting, so it is retried)."""
        path = f"/workers/{_segment(worker_id)}/{command}"
        yield from self._answer(Call("POST", path, idempotent=True))
