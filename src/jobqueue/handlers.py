"""The explicit handler registry: which function runs which job type, with its retry policy."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import importlib
import inspect
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol

from jobqueue.errors import ConfigError, JobCancelled, UnknownJobType

DEFAULT_MAX_ATTEMPTS = 3
MAX_TYPE_LENGTH = 200

HandlerFunc = Callable[..., Any]
MAX_PROGRESS_MESSAGE_CHARS = 1000


class JobSignals(Protocol):
    """The worker's side of a running job: whether it was cancelled, where progress goes."""

    @property
    def cancelled(self) -> bool:
        """Whether the job was asked to stop."""

    def progress(self, fraction: float, message: str | None) -> None:
        """Report progress; callable from any thread."""


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a handler may know about the job it runs (pass a second parameter to get it).

    ``progress(fraction, message)`` reports how far the handler got; ``cancelled`` turns true
    when a user cancels the job while it runs (``DELETE /jobs/{id}``), so that a long handler
    can stop early, for instance with ``ctx.raise_if_cancelled()``. Both work from a plain
    ``def`` handler's thread as well as on the event loop.
    """

    job_id: str
    job_type: str
    attempt: int
    max_attempts: int
    worker_id: str
    signals: JobSignals | None = field(default=None, repr=False, compare=False)

    @property
    def is_last_attempt(self) -> bool:
        """Whether a failure now sends the job to the dead-letter queue."""
        return self.attempt + 1 >= self.max_attempts

    @property
    def cancelled(self) -> bool:
        """Whether the job was cancelled while it runs: the handler should stop."""
        return self.signals is not None and self.signals.cancelled

    def raise_if_cancelled(self) -> None:
        """Raise :class:`JobCancelled` if the job was cancelled (it is then not retried)."""
        if self.cancelled:
            raise JobCancelled(f"job {self.job_id} was cancelled")

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Report progress: ``fraction`` from 0 to 1 and an optional message.

        Reports are throttled (the latest one within each half second is kept, and the last
        one always arrives); without status tracking they are ignored.
        """
        if isinstance(fraction, bool) or not isinstance(fraction, int | float):
            raise ValueError(f"progress fraction must be a number, got {fraction!r}")
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"progress fraction must be between 0 and 1, got {fraction}")
        if message is not None:
            message = str(message)[:MAX_PROGRESS_MESSAGE_CHARS]
        if self.signals is not None:
            self.signals.progress(float(fraction), message)


@dataclass(frozen=True, slots=True)
class Handler:
    """A registered handler and its policy for one job type."""

    job_type: str
    func: HandlerFunc
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    timeout_s: float | None = None
    # Worked out once, not on every call (inspect.signature costs ~15 µs a job).
    _is_async: bool = field(init=False, repr=False, compare=False)
    _wants_context: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        func = self.func
        is_async = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
            type(func).__call__
        )
        object.__setattr__(self, "_is_async", is_async)
        object.__setattr__(self, "_wants_context", _positional_count(func) >= 2)

    @property
    def is_async(self) -> bool:
        """Whether the handler is a coroutine function, or an object whose ``__call__`` is one
        (runs on the loop, not in a thread)."""
        return self._is_async

    @property
    def wants_context(self) -> bool:
        """Whether the handler takes a second parameter for its :class:`JobContext`."""
        return self._wants_context

    def call(self, payload: Any, ctx: JobContext) -> Any:
        """Call the function with the payload (and the context if it takes one)."""
        return self.func(payload, ctx) if self._wants_context else self.func(payload)


def _positional_count(func: Any) -> int:
    """How many positional parameters ``func`` takes (0 when it has no signature to read)."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return 0
    return len([p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])


class Handlers:
    """A registry of job handlers. Build one, decorate functions, pass it to a worker."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def job(
        self,
        job_type: str,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        timeout_s: float | None = None,
    ) -> Callable[[HandlerFunc], HandlerFunc]:
        """Decorator: register the function as the handler of ``job_type``."""

        def register(func: HandlerFunc) -> HandlerFunc:
            self.add(job_type, func, max_attempts=max_attempts, timeout_s=timeout_s)
            return func

        return register

    def add(
        self,
        job_type: str,
        func: HandlerFunc,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        timeout_s: float | None = None,
    ) -> None:
        """Register ``func`` for ``job_type``; a type may be registered once."""
        if not job_type or len(job_type) > MAX_TYPE_LENGTH:
            raise ConfigError(f"job type must be 1..{MAX_TYPE_LENGTH} characters: {job_type!r}")
        if job_type in self._handlers:
            raise ConfigError(f"job type {job_type!r} already has a handler")
        if max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1 for {job_type!r}")
        if timeout_s is not None and timeout_s <= 0:
            raise ConfigError(f"timeout_s must be positive for {job_type!r}")
        self._handlers[job_type] = Handler(job_type, func, max_attempts, timeout_s)

    def get(self, job_type: str) -> Handler:
        """The handler for ``job_type``; raises :class:`UnknownJobType`."""
        try:
            return self._handlers[job_type]
        except KeyError:
            raise UnknownJobType(f"no handler for job type {job_type!r}") from None

    def types(self) -> list[str]:
        """The registered job types, sorted."""
        return sorted(self._handlers)

    def __iter__(self) -> Iterator[Handler]:
        return iter(self._handlers.values())

    def __len__(self) -> int:
        return len(self._handlers)


def load_handlers(spec: str) -> Handlers:
    """Import ``pkg.module:attribute`` and return the :class:`Handlers` it names."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(f"--app must look like pkg.module:handlers, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {module_name!r} for --app: {exc}") from None
    handlers = getattr(module, attribute, None)
    if not isinstance(handlers, Handlers):
        raise ConfigError(f"{spec!r} is not a jobqueue.Handlers registry")
    return handlers


async def call_async(
    handler: Handler, payload: Any, ctx: JobContext, executor: Executor | None = None
) -> Any:
    """Run a handler: ``async def`` on the loop, plain ``def`` in ``executor`` (default: the
    loop's default thread pool)."""
    if handler.is_async:
        result: Awaitable[Any] = handler.call(payload, ctx)
        return await result
    if executor is None:
        return await asyncio.to_thread(handler.call, payload, ctx)
    call = functools.partial(contextvars.copy_context().run, handler.call, payload, ctx)
    return await asyncio.get_running_loop().run_in_executor(executor, call)
