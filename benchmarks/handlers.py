"""Handlers for benchmarks: each finished job appends its id to a file named by the environment."""

from __future__ import annotations

import os
import time
from typing import Any

from jobqueue import Handlers, JobContext

handlers = Handlers()

_DONE_FILE = os.environ.get("JOBQUEUE_BENCH_DONE_FILE", "")
_fd: int | None = None


def _record(job_id: str) -> None:
    global _fd
    if _fd is None:
        _fd = os.open(_DONE_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(_fd, f"{job_id}\n".encode())


@handlers.job("record", max_attempts=3)
def record(payload: dict[str, Any], ctx: JobContext) -> None:
    """Work for ``payload["work_ms"]`` milliseconds, then record the job as done."""
    time.sleep(payload.get("work_ms", 0) / 1000)
    _record(ctx.job_id)


@handlers.job("noop", max_attempts=3)
async def noop(payload: Any) -> None:
    """Do nothing: the cost measured is the queue's own."""
