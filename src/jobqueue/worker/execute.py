"""Running one handler: `async def` on the loop, plain `def` in a thread, within its time limit."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from jobqueue.errors import JobTimeout
from jobqueue.handlers import Handler, JobContext, call_async

log = logging.getLogger("jobqueue.worker")

P = ParamSpec("P")
T = TypeVar("T")


class HandlerThreads(ThreadPoolExecutor):
    """The thread pool of plain ``def`` handlers; it knows how many threads are busy.

    A thread cannot be killed: a handler that overruns its timeout, or that is handed back at
    shutdown, keeps its thread until it returns by itself. ``busy`` tells the process whether
    such threads remain, so that it can exit without waiting for them.
    """

    def __init__(self, size: int) -> None:
        super().__init__(max_workers=size, thread_name_prefix="jobqueue-handler")
        self._busy_lock = threading.Lock()
        self._busy = 0

    @property
    def busy(self) -> int:
        """How many handler calls are running in a thread right now."""
        with self._busy_lock:
            return self._busy

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Schedule ``fn(*args, **kwargs)`` in a thread, counted while it runs."""
        return super().submit(self._counted, functools.partial(fn, *args, **kwargs))

    def _counted(self, call: Callable[[], T]) -> T:
        with self._busy_lock:
            self._busy += 1
        try:
            return call()
        finally:
            with self._busy_lock:
                self._busy -= 1


async def execute(handler: Handler, payload: Any, ctx: JobContext, threads: HandlerThreads) -> Any:
    """Run the handler; raises :class:`JobTimeout` when it runs past its ``timeout_s``.

    An ``async def`` handler is cancelled at its deadline. A thread cannot be: the worker stops
    waiting for it and counts the attempt as failed, while the thread runs on until it returns
    (its result is then ignored, and it occupies one thread of the pool meanwhile).
    """
    if handler.timeout_s is None:  # no time limit: spare the timeout's bookkeeping
        return await call_async(handler, payload, ctx, threads)
    deadline = asyncio.timeout(handler.timeout_s)
    try:
        async with deadline:
            return await call_async(handler, payload, ctx, threads)
    except TimeoutError:
        if not deadline.expired():
            raise  # the handler's own TimeoutError, not its time limit
    if not handler.is_async:
        log.warning("job %s: its thread still runs past the time limit; abandoned", ctx.job_id)
    raise JobTimeout(f"handler {handler.job_type!r} ran past its {handler.timeout_s}s time limit")
