"""Handlers for benchmarks: each finished job appends its id to a file named by the environment."""

from __future__ import annotations

import os
import time
from pathlib import Path
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


_STAMP_FILE = os.environ.get("JOBQUEUE_BENCH_STAMP_FILE", "")
_stamp_fd: int | None = None


@handlers.job("stamp", max_attempts=3)
async def stamp(payload: Any, ctx: JobContext) -> None:
    """Append ``job_id start_ns sent_ns worker_id`` (``sent_ns`` from the payload, else 0).

    One unbuffered write per job (about 2 µs), so the line is on disk even if the worker is
    killed, and several worker processes can share the file (``O_APPEND`` writes this small
    do not interleave).
    """
    global _stamp_fd
    started_ns = time.time_ns()
    if _stamp_fd is None:
        _stamp_fd = os.open(_STAMP_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    sent_ns = payload.get("sent_ns", 0) if isinstance(payload, dict) else 0
    os.write(_stamp_fd, f"{ctx.job_id} {started_ns} {sent_ns} {ctx.worker_id}\n".encode())


@handlers.job("slow_once", max_attempts=3)
def slow_once(payload: dict[str, Any], ctx: JobContext) -> None:
    """Work ``payload["first_ms"]`` the first time any worker starts the job, none after; record.

    Who started what is kept beside the done file, so a second run on another worker (or after
    a reconnect) knows it is not the first.
    """
    started = f"{_DONE_FILE}.started"
    seen = os.path.exists(started) and ctx.job_id in Path(started).read_text().split()
    if not seen:
        with open(started, "a") as marks:
            marks.write(f"{ctx.job_id}\n")
        time.sleep(payload.get("first_ms", 0) / 1000)
    _record(ctx.job_id)
