"""Demo handlers, the default `--app`: the original's `email` job and a few for trying things."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from jobqueue.handlers import Handlers, JobContext

log = logging.getLogger("jobqueue.demo")

handlers = Handlers()


@handlers.job("email")
async def email(payload: Any) -> dict[str, bool]:
    """Pretend to send an email: ``{"to": ..., "subject": ...}``."""
    to, subject = _field(payload, "to"), _field(payload, "subject")
    log.info("sending email to %s: %s", to, subject)
    return {"sent": True}


@handlers.job("echo")
def echo(payload: Any) -> Any:
    """Return the payload as it came (a plain ``def``: it runs in a thread)."""
    return payload


@handlers.job("sleep")
async def sleep(payload: Any) -> None:
    """Sleep for ``{"seconds": float}`` without blocking the worker."""
    await asyncio.sleep(float(_field(payload, "seconds", 0.0)))


@handlers.job("progress")
async def progress(payload: Any, ctx: JobContext) -> dict[str, int]:
    """Work through ``{"steps": N, "seconds": S}`` (10 steps over 5 s by default), reporting
    progress after each: ``jobqueue submit progress '{}' --wait`` shows the bar move."""
    steps = max(1, int(_field(payload, "steps", 10)))
    pause_s = max(0.0, float(_field(payload, "seconds", 5.0))) / steps
    for step in range(1, steps + 1):
        await asyncio.sleep(pause_s)
        ctx.progress(step / steps, f"step {step} of {steps}")
    return {"steps": steps}


@handlers.job("flaky")
async def flaky(payload: Any, ctx: JobContext) -> dict[str, int]:
    """Fail the first ``{"fail_times": N}`` attempts, then succeed."""
    fail_times = int(_field(payload, "fail_times", 1))
    if ctx.attempt < fail_times:
        raise RuntimeError(f"flaky failure {ctx.attempt + 1} of {fail_times}")
    return {"attempt": ctx.attempt}


@handlers.job("fail")
async def fail(payload: Any) -> None:
    """Always fail: its jobs end in the dead-letter queue."""
    raise RuntimeError("this job always fails")


@handlers.job("noop")
async def noop(payload: Any) -> None:
    """Do nothing, as fast as possible (for benchmarks)."""


def _field(payload: Any, name: str, default: Any = None) -> Any:
    return payload.get(name, default) if isinstance(payload, dict) else default
