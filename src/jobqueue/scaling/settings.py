"""The scaling settings, read from the environment: the bounds (``JOBQUEUE_WORKERS=MIN:MAX``),
the rule's knobs and the local loop's pace."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from jobqueue.config import CONCURRENCY, env
from jobqueue.errors import ConfigError
from jobqueue.scaling.bounds import MAX_FLEET_WORKERS, Bounds, parse_workers
from jobqueue.scaling.policy import COOLDOWN_S, DOWN_STEP, ScalePolicy
from jobqueue.scaling.rule import MAX_WAIT_S, TARGET_DRAIN_S, ScalingRule

INTERVAL_S = 5.0
DEFAULT_BOUNDS = Bounds(1, 100)
"""The API's bounds when ``JOBQUEUE_WORKERS`` is not ``MIN:MAX``."""


@dataclass(frozen=True, slots=True)
class ScalingSettings:
    """``JOBQUEUE_WORKERS`` (MIN:MAX; else :data:`DEFAULT_BOUNDS`),
    ``JOBQUEUE_SCALE_TARGET_DRAIN_S``, ``JOBQUEUE_SCALE_MAX_WAIT_S`` (the rule),
    ``JOBQUEUE_SCALE_INTERVAL_S`` and ``JOBQUEUE_SCALE_COOLDOWN_S`` (how ``jobqueue up`` acts
    on it)."""

    bounds: Bounds = DEFAULT_BOUNDS
    rule: ScalingRule = field(default_factory=ScalingRule)
    interval_s: float = INTERVAL_S
    cooldown_s: float = COOLDOWN_S
    down_step: int = DOWN_STEP
    concurrency: int = CONCURRENCY
    """A worker's concurrency when no live worker reports its own (``JOBQUEUE_CONCURRENCY``)."""

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ConfigError(f"{env('concurrency')} must be at least 1, got {self.concurrency}")
        if not self.interval_s > 0 or not math.isfinite(self.interval_s):
            raise ConfigError(f"{env('scale_interval_s')} must be positive, got {self.interval_s}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ScalingSettings:
        """The settings the environment gives (``os.environ`` unless told)."""
        found = os.environ if environ is None else environ
        workers = found.get(env("workers"), "").strip()
        spec = parse_workers(workers, env("workers"), MAX_FLEET_WORKERS) if workers else None
        rule = ScalingRule(
            _seconds(found, "scale_target_drain_s", TARGET_DRAIN_S),
            _seconds(found, "scale_max_wait_s", MAX_WAIT_S),
        )
        return cls(
            bounds=spec if isinstance(spec, Bounds) else DEFAULT_BOUNDS,
            rule=rule,
            interval_s=_seconds(found, "scale_interval_s", INTERVAL_S),
            cooldown_s=_seconds(found, "scale_cooldown_s", COOLDOWN_S),
            concurrency=_count(found, "concurrency", CONCURRENCY),
        )

    def policy(self) -> ScalePolicy:
        """A fresh cool-down policy with these settings."""
        return ScalePolicy(self.cooldown_s, self.down_step)


def _seconds(found: Mapping[str, str], name: str, default: float) -> float:
    text = found.get(env(name), "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{env(name)} must be a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{env(name)} must be a number of seconds, got {text!r}")
    return value


def _count(found: Mapping[str, str], name: str, default: int) -> int:
    text = found.get(env(name), "").strip()
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{env(name)} must be a whole number of at least 1, got {text!r}")
    return int(text)
