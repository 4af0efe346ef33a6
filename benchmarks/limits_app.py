"""Handlers for ``python -m benchmarks.limits``: every job writes when it started and ended.

``handlers`` limits ``keyed`` to 2 running at once per key across the fleet; ``plain`` has the
same handlers with no limit at all (the machinery off).
"""

from __future__ import annotations

import os
import time
from typing import Any

from jobqueue.handlers import Handlers


def _stamp(kind: str, key: str, started: float) -> None:
    with open(os.path.join(os.environ["LIMITS_BENCH_STAMPS"], f"{os.getpid()}.log"), "a") as log:
        log.write(f"{kind} {key} {started:.6f} {time.time():.6f}\n")


def free(payload: dict[str, Any]) -> None:
    """An unlimited job: nothing but its stamp."""
    _stamp("free", "-", time.time())


def keyed(payload: dict[str, Any]) -> None:
    """A job of one key that takes ``sleep_s``."""
    started = time.time()
    time.sleep(payload["sleep_s"])
    _stamp("keyed", payload["key"], started)


handlers = Handlers()
handlers.add("free", free)
handlers.add("keyed", keyed)
handlers.limit("keyed", concurrency=2, concurrency_key=lambda payload: payload["key"])

plain = Handlers()
plain.add("free", free)
plain.add("keyed", keyed)
