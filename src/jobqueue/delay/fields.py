"""The submitted fields of delayed jobs (``run_at``, ``delay_s``) and of unique jobs
(``unique_key`` with ``unique_for_s`` or ``unique_while``), checked into values or
:class:`InvalidJob` naming the field."""

from __future__ import annotations

import math
import os
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

from jobqueue.errors import ConfigError, InvalidJob
from jobqueue.job import iso_utc
from jobqueue.store.unique import MAX_UNIQUE_KEY_CHARS, Hold, UniqueClaim

DELAY_FIELDS = ("run_at", "delay_s")
UNIQUE_FIELDS = ("unique_key", "unique_for_s", "unique_while")
MAX_DELAY_ENV = "JOBQUEUE_MAX_DELAY_S"
DEFAULT_MAX_DELAY_S = 365 * 24 * 3600.0
_WHILE = {"queued": Hold.QUEUED, "running": Hold.RUNNING}
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def max_delay_s() -> float:
    """How far ahead a job may be scheduled: ``JOBQUEUE_MAX_DELAY_S`` (seconds), one year by
    default; ConfigError for a value that is not a positive number."""
    text = os.environ.get(MAX_DELAY_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_DELAY_S
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{MAX_DELAY_ENV} must be a positive number of seconds, got {text!r}")
    return value


def run_at_of(data: dict[str, Any], prefix: str, created_at: str) -> str | None:
    """The job's due time (ISO 8601 UTC) from ``run_at`` or ``delay_s`` (counted from
    ``created_at``); None when neither is given. A time past is kept (the job runs at once)."""
    run_at, delay_s = data.get("run_at"), data.get("delay_s")
    if run_at is None and delay_s is None:
        return None
    now = datetime.fromisoformat(created_at)
    if run_at is not None and delay_s is not None:
        raise InvalidJob(f"{prefix}run_at: give run_at or delay_s, not both")
    if delay_s is not None:
        moment = now + timedelta(seconds=_checked_delay(delay_s, f"{prefix}delay_s"))
    else:
        moment = _checked_time(run_at, f"{prefix}run_at")
    horizon_s = max_delay_s()
    if moment - now > timedelta(seconds=horizon_s):
        where = f"{prefix}delay_s" if delay_s is not None else f"{prefix}run_at"
        raise InvalidJob(
            f"{where}: is further ahead than the {horizon_s:g} s horizon ({MAX_DELAY_ENV})"
        )
    return iso_utc(moment)


def _checked_delay(value: Any, where: str) -> float:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if not is_number or not math.isfinite(value) or value < 0:
        raise InvalidJob(f"{where}: must be a number of seconds, 0 or more")
    return float(value)


def _checked_time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidJob(f"{where}: must be an RFC 3339 time string")
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "Zz" else text)
    except ValueError:
        raise InvalidJob(
            f"{where}: {value[:40]!r} is not an RFC 3339 time (2027-01-31T09:00:00Z)"
        ) from None
    if moment.tzinfo is None or "T" not in text.upper():
        raise InvalidJob(f"{where}: needs a date, a time and an offset (Z or +01:00)")
    return moment.astimezone(UTC)


def unique_claim_of(data: dict[str, Any], prefix: str, job_id: str) -> UniqueClaim | None:
    """The job's unique key and how long it holds it; None without ``unique_key``."""
    key, for_s, while_ = data.get("unique_key"), data.get("unique_for_s"), data.get("unique_while")
    if key is None:
        if for_s is not None or while_ is not None:
            raise InvalidJob(f"{prefix}unique_key: is required with unique_for_s or unique_while")
        return None
    checked = _checked_key(key, f"{prefix}unique_key")
    if (for_s is None) == (while_ is None):
        raise InvalidJob(
            f"{prefix}unique_key: give one of unique_for_s (seconds) or unique_while "
            "('queued' or 'running')"
        )
    if for_s is not None:
        seconds = _checked_delay(for_s, f"{prefix}unique_for_s")
        if seconds <= 0 or seconds > max_delay_s():
            raise InvalidJob(f"{prefix}unique_for_s: must be more than 0 and within the horizon")
        return UniqueClaim(checked, job_id, Hold.FOR, seconds)
    if while_ not in _WHILE:
        raise InvalidJob(f"{prefix}unique_while: must be 'queued' or 'running'")
    return UniqueClaim(checked, job_id, _WHILE[while_])


def _checked_key(value: Any, where: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_UNIQUE_KEY_CHARS:
        raise InvalidJob(f"{where}: must be a string of 1 to {MAX_UNIQUE_KEY_CHARS} characters")
    for index, char in enumerate(value):
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            raise InvalidJob(f"{where}: control character {char!a} at position {index}")
    return value


def unique_claims(data: Any, job_ids: list[str], batch: bool) -> list[UniqueClaim | None]:
    """Each job's unique claim, from a ``POST /jobs`` body or each job of a batch's (bodies
    already checked to be objects)."""
    if not batch:
        return [unique_claim_of(data, "", job_ids[0])]
    return [
        unique_claim_of(item, f"jobs[{index}].", job_id)
        for index, (item, job_id) in enumerate(zip(data["jobs"], job_ids, strict=True))
    ]
