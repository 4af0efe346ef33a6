"""When the client sends a request again: which failures, how often, how long it waits.

A request is sent again only when that cannot do twice what it asks: one the API never
received (no connection made, the API refused it before reading it: ``503 overloaded``,
``429``), or one that is *idempotent* — a read, a worker command, or a submission, which always
carries its idempotency key, so that a repeat answers the job the first one made. Between
tries the client waits an exponential backoff with jitter, and at least what ``Retry-After``
asks for; it stops after ``attempts`` tries or once the next would start past ``deadline_s``.
"""

from __future__ import annotations

import random
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

TRANSIENT_STATUSES = frozenset({408, 429, 502, 503, 504})
"""Answers that say "not now": a gateway's, an overloaded or a starting API's."""
UNREAD_CODES = frozenset({"overloaded", "rate_limited"})
"""The API's refusals made before it read the request: safe to repeat whatever it asked."""
IN_FLIGHT_CODE = "idempotency_key_in_flight"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How the client retries: ``attempts`` tries in all, none begun past ``deadline_s`` after
    the first; the n-th wait is between half and all of ``min(cap_s, base_s * 2**n)``, or
    ``Retry-After`` (plus up to ``base_s``) when the answer asks for longer."""

    attempts: int = 8
    deadline_s: float = 60.0
    base_s: float = 0.1
    cap_s: float = 5.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if min(self.deadline_s, self.base_s, self.cap_s) < 0:
            raise ValueError("deadline_s, base_s and cap_s must not be negative")

    def delay_s(self, retry: int, retry_after_s: float | None) -> float:
        """The wait before retry number ``retry`` (0 for the first)."""
        ceiling = min(self.cap_s, self.base_s * 2.0 ** min(retry, 60))
        backoff = ceiling / 2 + random.uniform(0, ceiling / 2)
        if retry_after_s is not None and retry_after_s > backoff:
            return retry_after_s + random.uniform(0, self.base_s)
        return backoff

    def next_delay_s(
        self, tries: int, elapsed_s: float, retry_after_s: float | None, held_s: float = 0.0
    ) -> float | None:
        """The wait before another try after ``tries`` failed ones, ``elapsed_s`` in; None when
        none may follow. ``held_s`` is how long the API holds the request on purpose (a wait)."""
        if tries >= self.attempts:
            return None
        delay = self.delay_s(tries - 1, retry_after_s)
        if elapsed_s + delay > self.deadline_s + held_s:
            return None
        return delay


NO_RETRY = RetryPolicy(attempts=1)
"""One try, no retry."""


def may_repeat_answer(response: httpx.Response, code: str, idempotent: bool) -> bool:
    """Whether an unsuccessful answer (with error ``code``) may be tried again."""
    if response.status_code in TRANSIENT_STATUSES:
        return idempotent or code in UNREAD_CODES
    return idempotent and code == IN_FLIGHT_CODE


def may_repeat_failure(exc: httpx.TransportError, idempotent: bool) -> bool:
    """Whether a request that got no answer may be sent again: always when it never left
    (no connection, no pooled connection free), else only when it is idempotent; never when
    the API's certificate cannot be verified or the URL is not HTTP, which no retry mends."""
    if isinstance(exc, httpx.UnsupportedProtocol) or _unverified(exc):
        return False
    never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    return never_sent or idempotent


def _unverified(exc: BaseException) -> bool:
    """Whether ``exc`` comes of a certificate that failed verification."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def retry_after_s(response: httpx.Response) -> float | None:
    """The seconds an answer's ``Retry-After`` asks for (a number or an HTTP date), or None."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
