"""``Scaling``: the decision for the API's queue, as ``/scaling`` answers it and the gauge
shows it: the inputs read now, the rule and the bounds applied."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobqueue.scaling.bounds import Bounds
from jobqueue.scaling.inputs import ScalingReader
from jobqueue.scaling.rule import Decision, ScalingInputs, decide
from jobqueue.scaling.settings import ScalingSettings


@dataclass(frozen=True, slots=True)
class Answer:
    """A decision with what it was made from."""

    queue: str
    inputs: ScalingInputs
    bounds: Bounds
    decision: Decision
    read_at_unix: float

    def as_dict(self, settings: ScalingSettings) -> dict[str, Any]:
        """The JSON document of ``GET /scaling``."""
        return {
            "queue": self.queue,
            "desired_workers": self.decision.desired,
            "reason": self.decision.reason,
            "inputs": self.inputs.as_dict(),
            "min": self.bounds.min,
            "max": self.bounds.max,
            "target_drain_s": settings.rule.target_drain_s,
            "max_wait_s": settings.rule.max_wait_s,
            "read_at_unix": round(self.read_at_unix, 3),
        }


class Scaling:
    """The scaling decision for ``queue``, from ``reader`` under ``settings``."""

    def __init__(self, queue: str, reader: ScalingReader, settings: ScalingSettings) -> None:
        self.queue = queue
        self.settings = settings
        self._reader = reader

    async def answer(self, bounds: Bounds | None = None) -> Answer | None:
        """The decision within ``bounds`` (the settings' by default); None while the broker's
        depth cannot be read."""
        bounds = bounds or self.settings.bounds
        reading = await self._reader.read()
        if reading.inputs is None:
            return None
        decision = decide(reading.inputs, bounds, self.settings.rule)
        return Answer(self.queue, reading.inputs, bounds, decision, reading.read_at_unix)
