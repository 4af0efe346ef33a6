"""How much the API takes on: caps on requests and connections, read deadlines, submission rate."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from jobqueue import config
from jobqueue.errors import ConfigError

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*s\s*(?:,\s*burst\s*=\s*(\d+)\s*)?$")


@dataclass(frozen=True, slots=True)
class Rate:
    """``per_s`` submissions a second on average, up to ``burst`` of them at once."""

    per_s: float
    burst: int

    def __str__(self) -> str:
        return f"{self.per_s:g}/s,burst={self.burst}"


def parse_rate(text: str | None) -> Rate | None:
    """``"100/s"`` (a burst of 100) or ``"100/s,burst=500"``; None, empty or ``off``: no limit."""
    if text is None or text.strip().lower() in ("", "off"):
        return None
    found = _RATE.match(text)
    if found is None:
        raise ConfigError(f"submit rate must be N/s or N/s,burst=B (or off), got {text!r}")
    per_s = float(found[1])
    burst = int(found[2]) if found[2] else max(1, math.ceil(per_s))
    if per_s <= 0 or burst < 1:
        raise ConfigError(f"submit rate must be N/s or N/s,burst=B, N and B positive, got {text!r}")
    return Rate(per_s, burst)


@dataclass(frozen=True, slots=True)
class LoadSettings:
    """The API's load limits; each field is a ``JOBQUEUE_*`` variable (0 for a cap: none)."""

    max_in_flight: int = config.MAX_IN_FLIGHT
    max_connections: int = config.MAX_CONNECTIONS
    header_timeout_s: float = config.HEADER_TIMEOUT_S
    body_timeout_s: float = config.BODY_TIMEOUT_S
    submit_rate: Rate | None = None  # per client (API token, else address); None: no limit

    def __post_init__(self) -> None:
        for name in ("max_in_flight", "max_connections"):
            if getattr(self, name) < 0:
                raise ConfigError(
                    f"{name} cannot be negative (0: no cap), got {getattr(self, name)}"
                )
        for name in ("header_timeout_s", "body_timeout_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name):g}s")
