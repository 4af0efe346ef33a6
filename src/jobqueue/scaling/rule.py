"""The scaling rule: from the queue's backlog, its oldest ready job and the fleet's pace, how
many workers the queue wants. Pure: no I/O, no clock.

The rule, for a queue whose workers each run ``concurrency`` jobs at once:

1. **Keep running what runs, drain the backlog within a target.** A job takes the fleet
   ``run_s = in_flight / throughput`` seconds on average (Little's law, from the jobs running
   now and the attempts finished per second lately). To finish the ``depth`` ready jobs within
   ``target_drain_s`` while the running ones go on takes
   ``in_flight + round(depth * min(1, run_s / target_drain_s))`` job slots (the backlog's
   share rounded to the nearest whole slot: a twentieth of a slot is not a worker). When the
   pace is unknown (nothing finished lately, nothing running now, or no figure at all) every
   ready job counts as a slot: the jobs are slow, or there is nothing to measure yet.
2. **Never more slots than jobs.** That count is at most ``in_flight + depth``: a slot without
   a job to run is waste. Slots become workers by ``ceil(slots / concurrency)``.
3. **A job waiting too long means more.** When the oldest ready job has waited longer than
   ``max_wait_s``, the answer is at least one more worker than now, whatever the estimate
   says: the fleet is not keeping up.
4. **Within bounds.** The answer is never below ``min`` nor above ``max``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from jobqueue.errors import ConfigError
from jobqueue.scaling.bounds import Bounds

TARGET_DRAIN_S = 30.0
MAX_WAIT_S = 30.0


@dataclass(frozen=True, slots=True)
class ScalingInputs:
    """What the decision is made from; ``None`` where a figure could not be read."""

    depth: int
    """Jobs ready to run now in the broker (not delayed, not held by a worker)."""
    oldest_ready_age_s: float | None
    """How long the oldest ready job has waited."""
    throughput_per_s: float | None
    """Attempts finished per second lately (succeeded and failed), over the whole fleet."""
    in_flight: int
    """Jobs the workers hold now (running, or delivered and waiting for a slot), as their
    heartbeats report them."""
    workers: int
    """Workers running now."""
    concurrency: int
    """Jobs one worker runs at once."""

    def __post_init__(self) -> None:
        for name in ("depth", "in_flight", "workers"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} cannot be negative, got {getattr(self, name)}")
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, got {self.concurrency}")

    def as_dict(self) -> dict[str, float | int | None]:
        """The inputs as JSON-ready values."""
        return {
            "depth": self.depth,
            "oldest_ready_age_s": _rounded(self.oldest_ready_age_s),
            "throughput_per_s": _rounded(self.throughput_per_s),
            "in_flight": self.in_flight,
            "workers": self.workers,
            "concurrency": self.concurrency,
        }

    def describe(self) -> str:
        """The inputs in one log line's words."""
        return " ".join(f"{name}={value}" for name, value in self.as_dict().items())


@dataclass(frozen=True, slots=True)
class ScalingRule:
    """The rule's two knobs: how soon a backlog should be drained, how long a job may wait."""

    target_drain_s: float = TARGET_DRAIN_S
    max_wait_s: float = MAX_WAIT_S

    def __post_init__(self) -> None:
        if not self.target_drain_s > 0 or not math.isfinite(self.target_drain_s):
            raise ConfigError(f"the drain target must be positive, got {self.target_drain_s}s")
        if not self.max_wait_s > 0 or not math.isfinite(self.max_wait_s):
            raise ConfigError(f"the longest wait must be positive, got {self.max_wait_s}s")


@dataclass(frozen=True, slots=True)
class Decision:
    """How many workers the queue wants, and the part of the rule that decided it."""

    desired: int
    reason: str


def decide(inputs: ScalingInputs, bounds: Bounds, rule: ScalingRule | None = None) -> Decision:
    """The desired worker count for ``inputs`` within ``bounds`` (see the module's rule)."""
    rule = rule or ScalingRule()
    slots = needed_slots(inputs, rule)
    desired = -(-slots // inputs.concurrency)  # ceil, in whole numbers
    reason = "backlog" if inputs.depth else ("running jobs" if inputs.in_flight else "idle")
    age = inputs.oldest_ready_age_s
    if inputs.depth and age is not None and age > rule.max_wait_s and desired <= inputs.workers:
        desired = inputs.workers + 1
        reason = f"oldest ready job waited {age:.1f}s > {rule.max_wait_s:g}s"
    clamped = bounds.clamp(desired)
    if clamped != desired:
        reason = f"{reason}; held at {'max' if clamped < desired else 'min'} {clamped}"
    return Decision(clamped, reason)


def needed_slots(inputs: ScalingInputs, rule: ScalingRule) -> int:
    """Job slots to keep the running jobs going and drain the ready ones within the target."""
    run_s = mean_run_s(inputs)
    share = 1.0 if run_s is None else min(1.0, run_s / rule.target_drain_s)
    return inputs.in_flight + math.floor(inputs.depth * share + 0.5)


def mean_run_s(inputs: ScalingInputs) -> float | None:
    """A job's mean time in a slot, by Little's law; None when it cannot be told: no pace read,
    nothing finished lately (the jobs are slow, or none ran), or nothing running now."""
    throughput = inputs.throughput_per_s
    if throughput is None or not math.isfinite(throughput) or throughput <= 0:
        return None
    if inputs.in_flight == 0:
        return None
    return inputs.in_flight / throughput


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
