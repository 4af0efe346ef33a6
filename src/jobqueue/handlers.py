"""The explicit handler registry: which function runs which job type, with its retry policy."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import importlib
import inspect
import os
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

from jobqueue.errors import ConfigError, JobCancelled, UnknownJobType
from jobqueue.limits.policy import KeyFunc, LimitPolicy
from jobqueue.schedule.declared import ScheduleSpec, declared_schedule

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
    limits: LimitPolicy | None = None  # fleet-wide concurrency and rate (jobqueue.limits)
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
        self._schedules: dict[str, ScheduleSpec] = {}

    def job(
        self,
        job_type: str,
        *,
        concurrency: int | None = None,
        concurrency_key: KeyFunc | None = None,
        rate: str | float | None = None,
        rate_per_s: float | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        timeout_s: float | None = None,
        cron: str | None = None,
        tz: str = "UTC",
        payload: Any = None,
    ) -> Callable[[HandlerFunc], HandlerFunc]:
        """Decorator: register the function as the handler of ``job_type``; with ``cron``, also
        a schedule of that name creating such a job at each tick (see :meth:`schedule`)."""

        def register(func: HandlerFunc) -> HandlerFunc:
            self.add(job_type, func, max_attempts=max_attempts, timeout_s=timeout_s)
            limits = (concurrency, concurrency_key, rate, rate_per_s)
            if limits != (None, None, None, None):
                self.limit(job_type, *limits)
            if cron is not None:
                self.schedule(job_type, cron=cron, job_type=job_type, payload=payload, tz=tz)
            return func

        return register

    def schedule(
        self,
        name: str,
        *,
        cron: str,
        job_type: str,
        payload: Any = None,
        tz: str = "UTC",
        max_attempts: int | None = None,
        missed: str = "skip",
        overlap: str = "allow",
    ) -> None:
        """Declare a cron schedule: a job of ``job_type`` with ``payload`` at each tick of
        ``cron`` in zone ``tz``. ``jobqueue api --app`` upserts the declared schedules into the
        store when it starts (and removes the code's schedules no longer declared)."""
        spec = declared_schedule(name, cron, job_type, payload, tz, max_attempts, missed, overlap)
        if name in self._schedules:
            raise ConfigError(f"schedule {name!r} is declared twice")
        self._schedules[name] = spec

    def schedules(self) -> list[ScheduleSpec]:
        """The schedules declared here, by name."""
        return [self._schedules[name] for name in sorted(self._schedules)]

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

    def limit(
        self,
        job_type: str,
        concurrency: int | None = None,
        concurrency_key: KeyFunc | None = None,
        rate: str | float | None = None,
        rate_per_s: float | None = None,
    ) -> None:
        """Limit the registered ``job_type`` across the fleet: at most ``concurrency`` running
        at once and ``rate`` (``"10/s"``, ``"600/m"``) or ``rate_per_s`` starts per second, for
        the type or, with ``concurrency_key`` (a function of the payload), per key. A job over
        its limit waits (state ``waiting``), unrun and with no attempt counted."""
        policy = LimitPolicy.declare(job_type, concurrency, concurrency_key, rate, rate_per_s)
        self._handlers[job_type] = dataclasses.replace(self.get(job_type), limits=policy)

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
    """Import ``pkg.module:attribute`` and return the :class:`Handlers` it names.

    The working directory is on the import path, as for ``python -m`` (and uvicorn, Celery,
    RQ), so ``--app myapp.jobs:handlers`` finds ``./myapp`` without ``PYTHONPATH``. Whatever
    goes wrong is a one-line :class:`ConfigError` naming it.
    """
    module_name, attribute = _split_app_spec(spec)
    _put_working_directory_on_path()
    module = _import_app_module(module_name)
    return _handlers_of(module, module_name, attribute)


def _split_app_spec(spec: str) -> tuple[str, str]:
    module_name, sep, attribute = spec.partition(":")
    usage = f"--app must be pkg.module:attribute, got {spec!r}"
    if not sep and module_name:
        raise ConfigError(
            f"{usage}: add the name of its Handlers after a colon, such as '{spec}:handlers'"
        )
    if not module_name or not attribute:
        raise ConfigError(usage)
    return module_name, attribute


def _put_working_directory_on_path() -> None:
    cwd = os.getcwd()
    if cwd not in {os.path.abspath(entry) for entry in sys.path}:
        sys.path.insert(0, cwd)


def _import_app_module(module_name: str) -> ModuleType:
    cannot = f"--app: cannot import {module_name!r}"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"{cannot}: {_not_found(module_name, exc)}") from None
    except ImportError as exc:
        raise ConfigError(f"{cannot}: {exc}") from None
    except Exception as exc:  # the app's own code failed as it was imported
        raise ConfigError(f"{cannot}: it raised {_one_line(exc)} ({_where(exc)})") from None


def _not_found(module_name: str, exc: ModuleNotFoundError) -> str:
    """Tell the app module (or a package above it) missing from a module the app imports."""
    missing = exc.name or ""
    if missing == module_name or module_name.startswith(f"{missing}."):
        places = f"the working directory {os.getcwd()} and the installed packages"
        return f"no module named {missing!r} (looked in {places})"
    return f"it needs module {missing!r}, which was not found"


def _one_line(exc: Exception) -> str:
    message = " ".join((exc.msg if isinstance(exc, SyntaxError) else str(exc)).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _where(exc: Exception) -> str:
    """``file:line`` of a syntax error, else of the innermost frame of the traceback."""
    if isinstance(exc, SyntaxError):
        return f"{exc.filename}:{exc.lineno}"
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    return f"{frame.filename}:{frame.lineno}"


def _handlers_of(module: ModuleType, module_name: str, attribute: str) -> Handlers:
    try:
        handlers = getattr(module, attribute)
    except AttributeError:
        raise ConfigError(
            f"--app: module {module_name!r} has no attribute {attribute!r} ({_registries(module)})"
        ) from None
    if not isinstance(handlers, Handlers):
        kind = type(handlers).__name__
        raise ConfigError(
            f"--app: {module_name}:{attribute} is a {kind}, not a jobqueue.Handlers registry"
        )
    return handlers


def _registries(module: ModuleType) -> str:
    names = [name for name, value in vars(module).items() if isinstance(value, Handlers)]
    if not names:
        return "it holds no Handlers"
    return "its Handlers: " + ", ".join(repr(name) for name in names)


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
