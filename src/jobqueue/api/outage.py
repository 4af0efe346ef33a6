"""Reporting a dependency that is down: at its first failure, at an interval, when back."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from jobqueue.brokers import redact_text, redact_url
from jobqueue.errors import JobqueueError

logger = logging.getLogger("jobqueue.api")

BACKGROUND = "retrying in the background"


class Outage:
    """How long ``what`` has been unreachable, logged often enough to be seen, never every try.

    ``url`` is the dependency's URL: its password never reaches the log, even where a failure's
    text repeats the URL.
    """

    def __init__(
        self,
        what: str,
        url: str,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._what = what
        self._url = url
        self._interval_s = interval_s
        self._clock = clock
        self._since: float | None = None
        self._logged_at = 0.0

    @property
    def url(self) -> str:
        """The dependency's URL, password redacted."""
        return redact_url(self._url)

    @property
    def name(self) -> str:
        """``what`` and its URL, password redacted: ``broker amqp://guest:***@host/``."""
        return f"{self._what} {self.url}"

    @property
    def ongoing(self) -> bool:
        """Whether an attempt failed since the dependency was last reachable."""
        return self._since is not None

    def reason(self, exc: BaseException) -> str:
        """Why an attempt failed, in one line, password redacted."""
        text = str(exc) if isinstance(exc, JobqueueError) else f"{type(exc).__name__}: {exc}"
        return " ".join(redact_text(text, self._url).split())

    def failed(self, exc: BaseException, plan: str = BACKGROUND) -> None:
        """Note a failed attempt; log it, and ``plan``, if it is the first or the interval has
        passed since the last line."""
        now = self._clock()
        if self._since is None:
            self._since = self._logged_at = now
            logger.warning("%s unavailable (%s); %s", self.name, self.reason(exc), plan)
        elif now - self._logged_at >= self._interval_s:
            self._logged_at = now
            logger.warning(
                "%s still unavailable after %s (%s); %s",
                self.name,
                _duration(now - self._since),
                self.reason(exc),
                plan,
            )
        else:
            logger.debug("%s still unavailable: %s", self.name, self.reason(exc))

    def ended(self) -> None:
        """Log that the dependency is reachable again, after how long."""
        down_s = 0.0 if self._since is None else self._clock() - self._since
        logger.info("%s connected after %s unavailable", self.name, _duration(down_s))
        self._since = None


def _duration(seconds: float) -> str:
    whole = round(seconds)
    if whole < 120:
        return f"{whole} s"
    return f"{whole // 60} min {whole % 60} s"
