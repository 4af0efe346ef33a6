"""The scaling loop of ``jobqueue up --workers MIN:MAX``: every ``interval_s``, read the
inputs from the API's ``/scaling``, decide with this machine's own worker count, and start or
retire worker processes as the cool-down policy allows.

It runs in the supervisor's own (synchronous) loop. Retiring a worker is draining it: the pool
sends SIGTERM, the worker takes no new job, finishes the ones it runs and exits; nothing is
killed, and a worker being drained no longer counts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import httpx

from jobqueue.errors import ConfigError
from jobqueue.scaling.bounds import Bounds
from jobqueue.scaling.policy import ScalePolicy
from jobqueue.scaling.rule import ScalingInputs, ScalingRule, decide

log = logging.getLogger("jobqueue.scaling")

READ_TIMEOUT_S = 2.0


class WorkerPool(Protocol):
    """The worker processes the loop sizes."""

    def serving(self) -> int:
        """Workers running (or about to be restarted), not counting those being drained."""
        ...

    def add_worker(self) -> None:
        """Start one more worker."""
        ...

    def retire_worker(self) -> None:
        """Drain one worker: it finishes its jobs and exits."""
        ...


InputsSource = Callable[[], ScalingInputs | None]
"""Reads the inputs now; None when they cannot be read (the decision then waits)."""


@dataclass
class Autoscaler:
    """Sizes a :class:`WorkerPool` between ``bounds`` by the rule, under the policy."""

    bounds: Bounds
    source: InputsSource
    concurrency: int
    rule: ScalingRule = field(default_factory=ScalingRule)
    policy: ScalePolicy = field(default_factory=ScalePolicy)
    interval_s: float = 5.0
    clock: Callable[[], float] = time.monotonic
    _next_at: float = field(default=0.0, init=False)

    def tick(self, pool: WorkerPool) -> None:
        """Decide and act, once the interval since the last decision has passed."""
        now = self.clock()
        if now < self._next_at:
            return
        self._next_at = now + self.interval_s
        current = pool.serving()
        if current < self.bounds.min:
            log.info("scaling %d -> %d workers: below the minimum", current, self.bounds.min)
            self._resize(pool, current, self.bounds.min)
            return
        inputs = self.source()
        if inputs is None:
            return
        inputs = replace(inputs, workers=current, concurrency=self.concurrency)
        decision = decide(inputs, self.bounds, self.rule)
        target = self.policy.target(now, current, decision.desired)
        if target == current:
            log.debug(
                "holding %d workers: desired %d (%s); %s",
                *(current, decision.desired, decision.reason, inputs.describe()),
            )
            return
        log.info(
            "scaling %d -> %d workers: desired %d (%s); %s",
            *(current, target, decision.desired, decision.reason, inputs.describe()),
        )
        self._resize(pool, current, target)

    def _resize(self, pool: WorkerPool, current: int, target: int) -> None:
        for _ in range(target - current):
            pool.add_worker()
        for _ in range(current - target):
            pool.retire_worker()


class ApiInputs:
    """Reads the inputs from ``GET {base_url}/scaling?queue=...``; a failure is logged once
    per new reason, and answers None."""

    def __init__(
        self,
        base_url: str,
        queue: str,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        self._url = f"{base_url}/scaling"
        self._params = {"queue": queue}
        self._headers = dict(headers or {})
        self._timeout_s = timeout_s
        self._last_trouble = ""

    def __call__(self) -> ScalingInputs | None:
        """The inputs now, or None."""
        try:
            response = httpx.get(
                self._url, params=self._params, headers=self._headers, timeout=self._timeout_s
            )
        except httpx.HTTPError as exc:
            return self._trouble(f"cannot read {self._url}: {exc}")
        if response.status_code != 200:
            return self._trouble(f"{self._url} answered {response.status_code}: {_said(response)}")
        try:
            inputs = inputs_from(response.json()["inputs"])
        except (ValueError, KeyError, TypeError, ConfigError) as exc:
            return self._trouble(f"{self._url} answered what is not a scaling document: {exc}")
        if self._last_trouble:
            log.info("autoscaling: %s answers again", self._url)
            self._last_trouble = ""
        return inputs

    def _trouble(self, reason: str) -> ScalingInputs | None:
        """Log ``reason`` unless it is the last one logged; no inputs."""
        if reason != self._last_trouble:
            log.warning("autoscaling holds the worker count: %s", reason)
            self._last_trouble = reason
        return None


class ApiWorkerLoads:
    """The jobs each worker process holds, by pid, from ``GET {base_url}/workers``; empty when
    the API cannot say (the pool then retires its newest worker)."""

    def __init__(
        self, base_url: str, headers: Mapping[str, str] | None = None, timeout_s: float = 2.0
    ) -> None:
        self._url = f"{base_url}/workers"
        self._headers = dict(headers or {})
        self._timeout_s = timeout_s

    def __call__(self) -> dict[int, int]:
        """pid → jobs held, for the live workers the API lists."""
        try:
            response = httpx.get(
                self._url, params={"limit": 1000}, headers=self._headers, timeout=self._timeout_s
            )
            listing = response.json()["workers"] if response.status_code == 200 else []
            return {int(each["pid"]): int(each["load"]) for each in listing}
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            log.debug("worker loads not read: %s", exc)
            return {}


def inputs_from(document: Mapping[str, Any]) -> ScalingInputs:
    """:class:`ScalingInputs` from ``/scaling``'s ``inputs`` object."""
    age, pace = document["oldest_ready_age_s"], document["throughput_per_s"]
    return ScalingInputs(
        depth=int(document["depth"]),
        oldest_ready_age_s=None if age is None else float(age),
        throughput_per_s=None if pace is None else float(pace),
        in_flight=int(document["in_flight"]),
        workers=int(document["workers"]),
        concurrency=int(document["concurrency"]),
    )


def _said(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.reason_phrase
