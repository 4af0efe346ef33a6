"""When to act on a decision: scale up at once, scale down only after the demand has stayed
below the fleet for a whole cool-down, a few workers at a time.

Scaling down on a moment's lull would retire a worker that the next burst needs again (and
every retirement costs a drain); scaling up late lets jobs wait. So the policy remembers the
desired counts of the last ``cooldown_s``: the fleet shrinks only to the highest of them
(a burst inside the window holds it), by at most ``down_step`` workers per call, and never
before it has watched a whole window.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from jobqueue.errors import ConfigError

COOLDOWN_S = 60.0
DOWN_STEP = 1


@dataclass
class ScalePolicy:
    """Turns desired counts into targets; ``now`` is any monotonic clock, in seconds."""

    cooldown_s: float = COOLDOWN_S
    down_step: int = DOWN_STEP
    _seen: deque[tuple[float, int]] = field(default_factory=deque, init=False, repr=False)
    _watching_since: float | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.cooldown_s < 0 or not math.isfinite(self.cooldown_s):
            raise ConfigError(f"the cool-down cannot be negative, got {self.cooldown_s}s")
        if self.down_step < 1:
            raise ConfigError(f"the scale-down step must be at least 1, got {self.down_step}")

    def target(self, now: float, current: int, desired: int) -> int:
        """How many workers to run now, given ``current`` and the decision's ``desired``."""
        self._remember(now, desired)
        if desired >= current:
            return desired
        if now - self.watching_since < self.cooldown_s:
            return current  # not watched a whole cool-down yet
        floor = max(desired for _, desired in self._seen)
        if floor >= current:
            return current
        return max(floor, current - self.down_step)

    @property
    def watching_since(self) -> float:
        """When the policy first saw a decision (``inf`` before that)."""
        return math.inf if self._watching_since is None else self._watching_since

    def _remember(self, now: float, desired: int) -> None:
        if self._watching_since is None:
            self._watching_since = now
        self._seen.append((now, desired))
        while self._seen and self._seen[0][0] < now - self.cooldown_s:
            self._seen.popleft()
