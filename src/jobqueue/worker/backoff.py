"""The retry policy: how long a failed job waits before its next attempt."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from jobqueue import config
from jobqueue.errors import ConfigError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with "equal jitter", capped.

    For a job that just failed attempt ``n`` (0-based, ``n = job.attempts``)::

        ceiling = min(cap_s, base_s * 2**n)
        delay   = ceiling / 2 + uniform(0, ceiling / 2)

    Half the delay is fixed and half is random: retries of a batch that failed together spread
    out (no thundering herd), yet each attempt waits at least as long as the previous one's
    minimum, so the delays grow: ``[b/2, b]``, ``[b, 2b]``, ``[2b, 4b]``, ... up to the cap.
    """

    base_s: float = config.RETRY_BASE_S
    cap_s: float = config.RETRY_CAP_S
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.base_s <= 0:
            raise ConfigError(f"retry base must be positive, got {self.base_s}s")
        if self.cap_s < self.base_s:
            raise ConfigError(
                f"retry cap ({self.cap_s}s) must be at least the base ({self.base_s}s)"
            )

    def ceiling_s(self, attempt: int) -> float:
        """The longest delay after failed attempt ``attempt`` (0-based)."""
        # 2**attempt overflows a float past ~1000 attempts; the cap is reached long before.
        return self.cap_s if attempt >= 64 else min(self.cap_s, self.base_s * 2**attempt)

    def delay_s(self, attempt: int) -> float:
        """The jittered delay before the attempt after ``attempt``."""
        ceiling = self.ceiling_s(attempt)
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)
