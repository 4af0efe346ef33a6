"""Clients that submit jobs over HTTP all through a fault, noting every answer and when it came."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

REQUEST_TIMEOUT_S = 15.0  # longer than any answer may take: a request this slow hung


@dataclass(frozen=True, slots=True)
class Answer:
    """One request: when it was sent and answered (monotonic s), its status and job ids.

    ``status`` 0 is no answer at all (connection refused or reset, or the timeout).
    """

    sent_s: float
    answered_s: float
    status: int
    job_ids: tuple[str, ...] = ()
    retry_after: str | None = None

    @property
    def took_s(self) -> float:
        """How long the client waited."""
        return self.answered_s - self.sent_s


@dataclass
class Traffic:
    """``clients`` threads, each submitting a job (or a batch of ``batch``) every ``every_s``."""

    base_url: str
    clients: int = 4
    every_s: float = 0.02
    batch: int = 0  # 0: POST /jobs; n: POST /jobs/batch with n jobs
    work_ms: int = 0
    job_type: str = "record"
    payload: dict[str, Any] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> Traffic:
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._client, daemon=True) for _ in range(self.clients)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def accepted(self) -> set[str]:
        """Every job id answered 202."""
        with self._lock:
            return {job_id for answer in self.answers for job_id in answer.job_ids}

    def statuses(self) -> Counter[int]:
        """How many requests got each status (0: no answer)."""
        with self._lock:
            return Counter(answer.status for answer in self.answers)

    def between(self, start_s: float, end_s: float) -> list[Answer]:
        """The answers that came between two moments."""
        with self._lock:
            return [a for a in self.answers if start_s <= a.answered_s < end_s]

    def first_accepted_after(self, moment_s: float) -> float | None:
        """Seconds from ``moment_s`` to the first 202 answered after it, or None."""
        with self._lock:
            times = [a.answered_s for a in self.answers if a.status == 202]
        later = [t for t in times if t >= moment_s]
        return min(later) - moment_s if later else None

    def submit(self, job_type: str, payload: dict[str, Any]) -> str:
        """Submit one job now, outside the stream; its id (it must be accepted)."""
        with httpx.Client(base_url=self.base_url, timeout=REQUEST_TIMEOUT_S) as client:
            response = client.post("/jobs", json={"type": job_type, "payload": payload})
        sent_s = time.monotonic()
        answer = Answer(sent_s, sent_s, response.status_code, _job_ids(response.json()))
        if response.status_code != 202:
            raise RuntimeError(f"job not accepted: {response.status_code} {response.text}")
        with self._lock:
            self.answers.append(answer)
        return answer.job_ids[0]

    def wait_accepted(self, count: int, timeout_s: float = 30.0) -> None:
        """Wait until ``count`` more jobs than now were accepted."""
        target = len(self.accepted()) + count
        deadline = time.monotonic() + timeout_s
        while len(self.accepted()) < target:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no {count} jobs accepted in {timeout_s:g} s")
            time.sleep(0.02)

    def _client(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=REQUEST_TIMEOUT_S) as client:
            while not self._stop.is_set():
                answer = self._one(client)
                with self._lock:
                    self.answers.append(answer)
                self._stop.wait(self.every_s)

    def _one(self, client: httpx.Client) -> Answer:
        sent_s = time.monotonic()
        try:
            path, body = self._request()
            response = client.post(path, json=body)
        except httpx.HTTPError:
            return Answer(sent_s, time.monotonic(), 0)
        answered_s = time.monotonic()
        ids = _job_ids(response.json()) if response.status_code == 202 else ()
        retry_after = response.headers.get("Retry-After")
        return Answer(sent_s, answered_s, response.status_code, ids, retry_after)

    def _request(self) -> tuple[str, dict[str, Any]]:
        job = {"type": self.job_type, "payload": {"work_ms": self.work_ms, **self.payload}}
        if self.batch:
            return "/jobs/batch", {"jobs": [job] * self.batch}
        return "/jobs", job


def _job_ids(document: Any) -> tuple[str, ...]:
    if isinstance(document, dict) and isinstance(document.get("jobs"), list):
        return tuple(str(job["id"]) for job in document["jobs"])
    return (str(document["id"]),)
