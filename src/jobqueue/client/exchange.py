"""The client's exchanges without their I/O: what to send, and what an answer means.

Every operation of the API is a generator (an :data:`Operation`): it yields a :class:`Call`
to send or a :class:`Pause` to sleep, is sent back the answer (an ``httpx.Response``, or the
``httpx.TransportError`` raised instead) or None after a pause, and returns its value. The
blocking :class:`~jobqueue.client.Client` and the :class:`~jobqueue.client.AsyncClient` only
drive these generators, each with its own way to send and to sleep, so that both build the
same requests, retry alike and read answers with the same code.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from jobqueue import codec
from jobqueue.client.errors import ApiError, answer_error, unreachable
from jobqueue.client.retry import RetryPolicy, may_repeat_answer, may_repeat_failure, retry_after_s

T = TypeVar("T")
JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True, slots=True)
class Call:
    """A request to make. ``idempotent``: sending it twice does what sending it once does, so
    it may be sent again after any transient failure. ``held_s``: how long the API may hold it
    on purpose before answering (a wait), added to its timeout and retry deadline."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    body: Any = None
    headers: Mapping[str, str] | None = None
    idempotent: bool = False
    held_s: float = 0.0

    def request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        """The request on ``http`` (its base URL, headers, timeout, plus ``held_s``)."""
        content = None if self.body is None else codec.dumps(self.body)
        headers = {**JSON_HEADERS, **(self.headers or {})} if content else self.headers
        timeout = http.timeout
        if self.held_s and timeout.read is not None:
            timeout = httpx.Timeout(
                connect=timeout.connect,
                read=timeout.read + self.held_s,
                write=timeout.write,
                pool=timeout.pool,
            )
        return http.build_request(
            self.method,
            self.path,
            params=self.params,
            content=content,
            headers=headers,
            timeout=timeout,
        )


@dataclass(frozen=True, slots=True)
class Pause:
    """Sleep this long before going on."""

    seconds: float


Step = Call | Pause
Outcome = httpx.Response | httpx.TransportError | None
Operation = Generator[Step, Outcome, T]


@dataclass(frozen=True, slots=True)
class Done(Generic[T]):
    """An operation's end, with what it returned."""

    value: T


def advance(operation: Operation[T], outcome: Outcome) -> Step | Done[T]:
    """Hand ``operation`` the outcome of its last step (None to start it, or after a pause):
    its next step, or its end."""
    try:
        return operation.send(outcome)
    except StopIteration as done:
        return Done(done.value)


def exchange(call: Call, retry: RetryPolicy, base_url: str) -> Operation[httpx.Response]:
    """Send ``call`` until it is answered with a success, retrying what :mod:`retry` allows;
    the successful answer, else the :class:`ApiError` of the last failure."""
    started = time.monotonic()
    tries = 0
    while True:
        outcome = yield call
        tries += 1
        if isinstance(outcome, httpx.Response) and outcome.is_success:
            return outcome
        failure, repeatable = _failure(outcome, call, base_url)
        delay = None
        if repeatable:
            elapsed_s = time.monotonic() - started
            delay = retry.next_delay_s(tries, elapsed_s, failure.retry_after_s, call.held_s)
        if delay is None:
            raise failure
        yield Pause(delay)


def answer_json(response: httpx.Response) -> Any:
    """A successful answer's JSON, numbers exact."""
    return codec.loads(response.content)


def _failure(outcome: Outcome, call: Call, base_url: str) -> tuple[ApiError, bool]:
    """The error an outcome is, and whether the call may be sent again after it."""
    if isinstance(outcome, httpx.Response):
        error = answer_error(outcome, retry_after_s(outcome))
        return error, may_repeat_answer(outcome, error.code, call.idempotent)
    if isinstance(outcome, httpx.TransportError):
        return unreachable(outcome, base_url), may_repeat_failure(outcome, call.idempotent)
    raise TypeError(f"an exchange was sent {outcome!r}, not an answer")
