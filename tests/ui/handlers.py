"""Handlers for the dashboard's tests: one that succeeds, one that fails for good (its error is
the payload's text, to fill the dead-letter queue with whatever a test wants shown), one that
reports progress."""

from __future__ import annotations

import asyncio
from typing import Any

from jobqueue import Handlers, JobContext

handlers = Handlers()


@handlers.job("echo", max_attempts=1)
async def echo(payload: Any) -> Any:
    """Return the payload."""
    return payload


class Boom(Exception):
    """What the failing handler raises."""


@handlers.job("explode", max_attempts=1)
async def explode(payload: Any) -> None:
    """Fail at once, with the payload's ``message`` as the error."""
    message = payload.get("message", "boom") if isinstance(payload, dict) else "boom"
    raise Boom(message)


@handlers.job("crawl", max_attempts=1)
async def crawl(payload: Any, ctx: JobContext) -> str:
    """Report progress for ``payload["seconds"]`` seconds, then succeed."""
    seconds = float(payload.get("seconds", 3)) if isinstance(payload, dict) else 3.0
    steps = 10
    for step in range(steps):
        ctx.progress(step / steps, f"step {step} of {steps}")
        await asyncio.sleep(seconds / steps)
    return "crawled"
