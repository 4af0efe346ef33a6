"""How many workers: a fixed count (``3``) or autoscaling bounds (``2:8``), as
``--workers`` and ``JOBQUEUE_WORKERS`` spell them."""

from __future__ import annotations

from dataclasses import dataclass

from jobqueue.errors import ConfigError

MAX_LOCAL_WORKERS = 64
"""The most worker processes ``jobqueue up`` runs on one machine."""
MAX_FLEET_WORKERS = 10_000
"""The most workers ``/scaling`` may be asked for (the registry's default ``max_workers``)."""


@dataclass(frozen=True, slots=True)
class Bounds:
    """The fewest and the most workers a decision may answer."""

    min: int
    max: int

    def __post_init__(self) -> None:
        if self.min < 0:
            raise ConfigError(f"the fewest workers cannot be negative, got {self.min}")
        if self.max < 1:
            raise ConfigError(f"the most workers must be at least 1, got {self.max}")
        if self.min > self.max:
            raise ConfigError(f"MIN {self.min} is above MAX {self.max}")

    def clamp(self, count: int) -> int:
        """``count`` moved into ``[min, max]``."""
        return max(self.min, min(self.max, count))

    def __str__(self) -> str:
        return f"{self.min}:{self.max}"


def parse_workers(
    text: str, setting: str = "--workers", most: int = MAX_LOCAL_WORKERS
) -> int | Bounds:
    """``"3"`` → 3 (a fixed count, 1 to ``most``); ``"2:8"`` → ``Bounds(2, 8)`` (0 ≤ MIN ≤
    MAX, 1 ≤ MAX ≤ ``most``); anything else is a ConfigError naming ``setting``."""
    value = text.strip()
    lowest, colon, highest = value.partition(":")
    if not colon:
        count = _whole(lowest, setting, text)
        if not 1 <= count <= most:
            raise ConfigError(f"{setting} must be 1 to {most} workers, got {text!r}")
        return count
    low, high = _whole(lowest, setting, text), _whole(highest, setting, text)
    if high < 1 or high > most:
        raise ConfigError(f"{setting} {text!r}: MAX must be 1 to {most}")
    if low > high:
        raise ConfigError(f"{setting} {text!r}: MIN is above MAX")
    return Bounds(low, high)


def _whole(part: str, setting: str, text: str) -> int:
    if not part.strip().isdigit() or not part.strip().isascii():
        raise ConfigError(
            f"{setting} must be a count (3) or MIN:MAX (2:8) of whole numbers, got {text!r}"
        )
    return int(part)
