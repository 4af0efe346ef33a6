"""The limits a handler declares or a job carries, how they parse, and what a job asks for.

A limit is named by the job type, or by the type and a key (``customer:42``): at most
``concurrency`` jobs of that name run at once across the fleet, and at most ``rate_per_s`` of
them start per second (a token bucket holding one second of starts, at least one). A job's own
fields (``concurrency_key``, ``concurrency``, ``rate`` in its body) win over its handler's.
"""

from __future__ import annotations

import math
import random
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jobqueue.errors import ConfigError, InvalidLimit

MAX_CONCURRENCY = 1_000_000
MAX_RATE_PER_S = 1_000_000.0
MAX_KEY_CHARS = 200
MAX_DEFERRALS = 1_000_000
KEY_SEPARATOR = "\x1f"  # a control character: in neither a job type nor a key
DEFER_BASE_S = 0.2
DEFER_CAP_S = 2.0

KeyFunc = Callable[[Any], Any]
LIMIT_FIELDS = ("concurrency_key", "concurrency", "rate", "rate_per_s")
"""The limit fields a submitted job may carry."""
_LIMIT_FIELDS = frozenset({*LIMIT_FIELDS, "deferrals"})

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d*)\s*([a-z]+)\s*$")
_UNIT_S = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0}
_UNIT_S |= {"h": 3600.0, "hour": 3600.0}


def parse_rate(value: object, where: str = "rate") -> float:
    """Starts per second from ``"10/s"``, ``"600/m"``, ``"5/2h"`` or a positive number;
    raises :class:`InvalidLimit` naming ``where``."""
    if isinstance(value, bool):
        raise InvalidLimit(f"{where}: must be a number of starts per second or like '10/s'")
    if isinstance(value, int | float):
        return _checked_rate(float(value), where)
    if not isinstance(value, str):
        raise InvalidLimit(f"{where}: must be a number of starts per second or like '10/s'")
    found = _RATE.match(value.lower())
    unit_s = _UNIT_S.get(found.group(3)) if found else None
    if found is None or unit_s is None:
        raise InvalidLimit(
            f"{where}: {value!a} is not a rate: write COUNT/UNIT, such as '10/s', '600/m' or '5/h'"
        )
    per = float(found.group(2) or 1)
    if per <= 0:
        raise InvalidLimit(f"{where}: {value!a} divides by zero")
    return _checked_rate(float(found.group(1)) / (per * unit_s), where)


def _checked_rate(rate_per_s: float, where: str) -> float:
    if not math.isfinite(rate_per_s) or not 0 < rate_per_s <= MAX_RATE_PER_S:
        raise InvalidLimit(f"{where}: must be above 0 and at most {MAX_RATE_PER_S:g} per second")
    return rate_per_s


def check_concurrency(value: object, where: str = "concurrency") -> int:
    """A concurrency limit: an integer from 1 to :data:`MAX_CONCURRENCY`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONCURRENCY:
        raise InvalidLimit(f"{where}: must be an integer from 1 to {MAX_CONCURRENCY}")
    return value


def check_key(value: object, where: str = "concurrency_key") -> str:
    """A limit key: a string (or an integer, taken as its digits) of 1 to 200 characters, no
    control character."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidLimit(f"{where}: must be a string")
    if not 1 <= len(value) <= MAX_KEY_CHARS:
        raise InvalidLimit(f"{where}: must be 1 to {MAX_KEY_CHARS} characters")
    for index, char in enumerate(value):
        if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp"):
            raise InvalidLimit(f"{where}: control character {char!a} at position {index}")
    return value


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    """A handler's limits: at most ``concurrency`` running at once and ``rate_per_s`` starts
    per second, for its whole type or, with ``key``, for each key it computes from a payload."""

    concurrency: int | None = None
    rate_per_s: float | None = None
    key: KeyFunc | None = None

    @classmethod
    def declare(
        cls,
        job_type: str,
        concurrency: int | None = None,
        concurrency_key: KeyFunc | None = None,
        rate: str | float | None = None,
        rate_per_s: float | None = None,
    ) -> LimitPolicy | None:
        """The policy a handler declaration asks for (None for none); :class:`ConfigError`
        naming the type when it is nonsense."""
        try:
            return cls._declared(concurrency, concurrency_key, rate, rate_per_s)
        except InvalidLimit as exc:
            raise ConfigError(f"job type {job_type!r}: {exc}") from None

    @classmethod
    def _declared(
        cls,
        concurrency: int | None,
        concurrency_key: KeyFunc | None,
        rate: str | float | None,
        rate_per_s: float | None,
    ) -> LimitPolicy | None:
        if rate is not None and rate_per_s is not None:
            raise InvalidLimit("give rate or rate_per_s, not both")
        if concurrency_key is not None and not callable(concurrency_key):
            raise InvalidLimit("concurrency_key must be a function of the payload")
        limit = None if concurrency is None else check_concurrency(concurrency)
        given = rate if rate is not None else rate_per_s
        per_s = None if given is None else parse_rate(given, "rate")
        if limit is None and per_s is None and concurrency_key is None:
            return None
        return cls(limit, per_s, concurrency_key)


@dataclass(frozen=True, slots=True)
class JobLimit:
    """The limit fields a job carries: its key, its own limits, and how often it was deferred
    already (for the backoff; never an attempt)."""

    key: str | None = None
    concurrency: int | None = None
    rate_per_s: float | None = None
    deferrals: int = 0

    def to_wire(self) -> dict[str, Any]:
        """The fields set, as they go in the job's body."""
        wire: dict[str, Any] = {}
        if self.key is not None:
            wire["concurrency_key"] = self.key
        if self.concurrency is not None:
            wire["concurrency"] = self.concurrency
        if self.rate_per_s is not None:
            wire["rate_per_s"] = self.rate_per_s
        if self.deferrals:
            wire["deferrals"] = self.deferrals
        return wire

    def deferred(self) -> JobLimit:
        """The same limit with one more deferral counted."""
        return JobLimit(
            self.key, self.concurrency, self.rate_per_s, min(self.deferrals + 1, MAX_DEFERRALS)
        )

    @classmethod
    def from_body(cls, data: Mapping[str, Any], prefix: str = "") -> JobLimit | None:
        """The limit fields of a submitted job; :class:`InvalidLimit` naming the field."""
        key, concurrency = data.get("concurrency_key"), data.get("concurrency")
        rate, rate_per_s = data.get("rate"), data.get("rate_per_s")
        if rate is not None and rate_per_s is not None:
            raise InvalidLimit(f"{prefix}rate: give rate or rate_per_s, not both")
        given = rate if rate is not None else rate_per_s
        field = "rate" if rate is not None else "rate_per_s"
        limit = cls(
            key=None if key is None else check_key(key, f"{prefix}concurrency_key"),
            concurrency=None
            if concurrency is None
            else check_concurrency(concurrency, f"{prefix}concurrency"),
            rate_per_s=None if given is None else parse_rate(given, f"{prefix}{field}"),
        )
        return None if limit == cls() else limit

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> JobLimit | None:
        """The limit fields of a delivered job's body; fields that are nonsense are ignored
        (a body from elsewhere may carry anything there)."""
        if not _LIMIT_FIELDS.intersection(data):  # the common case, on every delivery
            return None
        try:
            limit = cls.from_body(data)
        except InvalidLimit:
            return None
        deferrals = data.get("deferrals", 0)
        if isinstance(deferrals, int) and not isinstance(deferrals, bool) and deferrals > 0:
            limit = JobLimit(*_fields(limit), min(deferrals, MAX_DEFERRALS))
        return limit


def _fields(limit: JobLimit | None) -> tuple[str | None, int | None, float | None]:
    return (None, None, None) if limit is None else (limit.key, limit.concurrency, limit.rate_per_s)


@dataclass(frozen=True, slots=True)
class Demand:
    """What one job asks of the fleet's limits: a slot (or a start) under ``name``."""

    name: str
    concurrency: int | None
    rate_per_s: float | None

    @property
    def shown(self) -> str:
        """The name as people read it: ``sync`` or ``sync key customer:42``."""
        job_type, _, key = self.name.partition(KEY_SEPARATOR)
        return f"{job_type} key {key}" if key else job_type


def demand(
    job_type: str, payload: Any, job_limit: JobLimit | None, policy: LimitPolicy | None
) -> Demand | None:
    """What a job of ``job_type`` asks: None when neither it nor its handler limits it.

    The handler's key function runs on the payload (what it raises propagates: the attempt
    fails as if the handler raised it)."""
    if job_limit is None and policy is None:
        return None
    own = job_limit or JobLimit()
    concurrency = own.concurrency or (policy.concurrency if policy else None)
    rate_per_s = own.rate_per_s or (policy.rate_per_s if policy else None)
    if concurrency is None and rate_per_s is None:
        return None
    key = own.key
    if key is None and policy is not None and policy.key is not None:
        key = check_key(policy.key(payload), f"the concurrency_key of {job_type!r}")
    name = job_type if key is None else f"{job_type}{KEY_SEPARATOR}{key}"
    return Demand(name, concurrency, rate_per_s)


def deferral_delay_s(deferrals: int, retry_after_s: float = 0.0) -> float:
    """How long a deferred job waits before it is delivered again: an exponential backoff
    from :data:`DEFER_BASE_S` to :data:`DEFER_CAP_S` (after ``deferrals`` before), jittered
    to between half and all of it, and never less than ``retry_after_s`` (when the bucket
    next has a start)."""
    backoff_s = min(DEFER_CAP_S, DEFER_BASE_S * 2.0 ** min(deferrals, 16))
    jittered_s = backoff_s * random.uniform(0.5, 1.0)
    if retry_after_s > 0:
        return retry_after_s + jittered_s * 0.5
    return jittered_s
