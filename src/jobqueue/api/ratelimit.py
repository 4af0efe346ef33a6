"""Per-client submission rate limit: a token bucket per API token (or address), 429 past it."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from jobqueue.api.errors import error_response
from jobqueue.api.load import Rate

SUBMIT_PATHS = frozenset({"/jobs", "/jobs/batch"})
TOKEN_KEY = "jobqueue.token"
"""Where the authentication puts the name of the request's API token in the ASGI scope."""
MAX_CLIENTS = 10_000
"""Buckets kept at most; past it, the one idle longest is dropped."""


class Buckets:
    """Token buckets by client key, at most ``max_clients`` of them.

    A bucket holds up to ``burst`` tokens and gains ``per_s`` a second; a submission takes one.
    Buckets are kept in the order they were last used and, when one more would not fit, the one
    idle longest is dropped: idle ``burst / per_s`` seconds or more it was full, the same as a
    new one, so only a client that sent within that time and then fell out of a full table (more
    than ``max_clients`` active clients) gets a fresh bucket back.
    """

    def __init__(
        self,
        rate: Rate,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, as of

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0 if there was one, else the seconds until there is."""
        now = self.clock()
        tokens, as_of = self._buckets.pop(key, (float(self.rate.burst), now))
        tokens = min(float(self.rate.burst), tokens + (now - as_of) * self.rate.per_s)
        wait_s = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait_s = (1.0 - tokens) / self.rate.per_s
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait_s


def client_key(scope: Scope) -> str:
    """Whose submission this is: the API token's name when the request carried one, else the
    client's address."""
    token = scope.get(TOKEN_KEY)
    if isinstance(token, str):
        return f"token {token!r}"
    client = scope.get("client")
    return f"address {client[0]}" if client else "address unknown"


class SubmitRateLimit:
    """Answer 429 ``rate_limited`` with ``Retry-After`` to a client submitting faster than its
    :class:`Rate`, before the body is read.

    Only ``POST /jobs`` and ``POST /jobs/batch`` count, one token per request whatever the size
    of a batch (which ``max_batch`` bounds): the limit is on requests, decided before the body
    is read. It sits behind the authentication, which names the token in the scope.
    """

    def __init__(self, app: ASGIApp, rate: Rate, max_clients: int = MAX_CLIENTS) -> None:
        self.app = app
        self.buckets = Buckets(rate, max_clients)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on if its client has a token left, else refuse it."""
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in SUBMIT_PATHS:
            key = client_key(scope)
            wait_s = self.buckets.take(key)
            if wait_s > 0:
                await self._refuse(key, wait_s)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refuse(self, key: str, wait_s: float) -> ASGIApp:
        rate = self.buckets.rate
        message = (
            f"{key} submits faster than {rate.per_s:g} requests a second (burst {rate.burst}): "
            f"the next is allowed in {wait_s:.3g} s"
        )
        headers = {"Retry-After": str(max(1, math.ceil(wait_s)))}
        return error_response(429, "rate_limited", message, headers)


def rate_limited(app: ASGIApp, rate: Rate | None) -> ASGIApp:
    """``app`` behind a :class:`SubmitRateLimit`, or ``app`` itself without a rate."""
    return app if rate is None else SubmitRateLimit(app, rate)
