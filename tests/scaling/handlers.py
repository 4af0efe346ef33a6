"""Handlers for the autoscaling run: ``slow`` sleeps, writing a line to the payload's ``runs``
file as it starts and as it ends, so a test can count every run and see none cut short."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from jobqueue import Handlers, JobContext

handlers = Handlers()


@handlers.job("slow", max_attempts=1)
async def slow(payload: Any, ctx: JobContext) -> str:
    """Sleep ``payload["s"]`` seconds between a ``start`` and an ``end`` line."""
    record(payload["runs"], "start", ctx)
    await asyncio.sleep(float(payload["s"]))
    record(payload["runs"], "end", ctx)
    return "slept"


def record(path: str, phase: str, ctx: JobContext) -> None:
    """Append ``phase job_id pid attempt`` as one write (O_APPEND: lines never interleave)."""
    line = f"{phase} {ctx.job_id} {os.getpid()} {ctx.attempt}\n".encode()
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line)
    finally:
        os.close(descriptor)
