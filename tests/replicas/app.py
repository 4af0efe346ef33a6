"""Handlers for the replica tests: each run leaves a line in a folder the test reads afterwards."""

from __future__ import annotations

import os
import time
from typing import Any

from jobqueue import Handlers, JobContext

handlers = Handlers()

HOLD_LIMIT_S = 30.0


def _note(kind: str, ctx: JobContext) -> None:
    folder = os.environ["REPLICAS_TEST_STAMPS"]
    with open(os.path.join(folder, f"{kind}.log"), "a") as log:  # one short append: atomic
        log.write(f"{ctx.job_id} {ctx.worker_id} {ctx.attempt} {time.time():.6f}\n")


@handlers.job("nap", max_attempts=3)
def nap(payload: dict[str, Any], ctx: JobContext) -> str:
    """Sleep ``payload["sleep_s"]`` seconds (0.05 by default), noting the run."""
    time.sleep(float(payload.get("sleep_s", 0.05)))
    _note("nap", ctx)
    return "rested"


@handlers.job("hold", max_attempts=1)
def hold(payload: dict[str, Any], ctx: JobContext) -> str:
    """Run until cancelled (at most ``HOLD_LIMIT_S``), noting the start and the moment the
    cancellation was seen."""
    _note("hold-started", ctx)
    deadline = time.monotonic() + HOLD_LIMIT_S
    while not ctx.cancelled and time.monotonic() < deadline:
        time.sleep(0.005)
    if ctx.cancelled:
        _note("hold-cancelled", ctx)
    ctx.raise_if_cancelled()
    return "never cancelled"
