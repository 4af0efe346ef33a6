"""Parsing and checking submitted jobs: raw bytes in, :class:`Job` out, or an error naming the spot.

Bodies are parsed here rather than by a pydantic model so that numbers stay exactly as they were
submitted (big integers, ``1.0`` vs ``1``) and so that every message says which field is wrong:
``jobs[3].type: must be at most 200 characters``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from jobqueue import codec
from jobqueue.api.errors import MalformedBody, UnsupportedMediaType
from jobqueue.delay.fields import DELAY_FIELDS, UNIQUE_FIELDS, run_at_of
from jobqueue.errors import InvalidJob
from jobqueue.job import MAX_PRIORITY, Job, utc_now
from jobqueue.limits.policy import LIMIT_FIELDS, JobLimit
from jobqueue.names import job_type_problem

JOB_FIELDS = ("type", "payload", "max_attempts", "priority", *LIMIT_FIELDS)
TIMED_JOB_FIELDS = (*JOB_FIELDS, *DELAY_FIELDS, *UNIQUE_FIELDS)
BATCH_JOB_FIELDS = (*TIMED_JOB_FIELDS, "idempotency_key")
BATCH_FIELDS = ("jobs",)
MAX_IDEMPOTENCY_KEY_CHARS = 255
MAX_ATTEMPTS_LIMIT = 100
# Deep enough for any real payload, and shallow enough that encoding never nears a recursion limit.
MAX_DEPTH = 100

_FORBIDDEN_CHAR = re.compile("[\x00\ud800-\udfff]")
_TYPE_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def check_content_type(value: str | None) -> None:
    """Accept ``application/json``, with no charset or ``charset=utf-8``; else 415."""
    media_type, _, params = (value or "").partition(";")
    if media_type.strip().lower() != "application/json":
        shown = repr(value) if value else "none"
        raise UnsupportedMediaType(f"Content-Type must be application/json, got {shown}")
    for param in params.split(";"):
        name, _, charset = param.partition("=")
        if name.strip().lower() == "charset" and charset.strip().strip('"').lower() != "utf-8":
            raise UnsupportedMediaType(
                f"Content-Type must be application/json with charset utf-8, got {value!r}"
            )


def parse_json(body: bytes) -> Any:
    """Parse a request body exactly; raises :class:`MalformedBody` for anything but JSON."""
    try:
        text = body.decode("utf-8")  # strictly: JSON on the wire is UTF-8 (RFC 8259)
    except UnicodeDecodeError as exc:
        raise MalformedBody(f"request body is not valid UTF-8: {exc.reason}") from None
    if not text.strip():
        raise MalformedBody("request body is empty: send a JSON object")
    try:
        return codec.loads(text)
    except ValueError as exc:
        raise MalformedBody(f"request body is not valid JSON: {exc}") from None


def job_from_body(data: Any) -> Job:
    """The job a ``POST /jobs`` body describes; raises :class:`InvalidJob` naming the field."""
    _check_strings_and_depth(data)
    return _job_from(data, "")


def jobs_from_batch(data: Any, max_batch: int) -> list[Job]:
    """The jobs of a ``POST /jobs/batch`` body, all valid or :class:`InvalidJob` for the first."""
    _check_strings_and_depth(data)
    _check_object(data, "", BATCH_FIELDS)
    items = data.get("jobs")
    if not isinstance(items, list):
        raise InvalidJob("jobs: must be an array of jobs")
    if not 1 <= len(items) <= max_batch:
        raise InvalidJob(f"jobs: must hold 1 to {max_batch} jobs, got {len(items)}")
    created_at = utc_now()  # one request, one moment: the clock is read once for all its jobs
    return [
        _job_from(item, f"jobs[{index}].", BATCH_JOB_FIELDS, created_at)
        for index, item in enumerate(items)
    ]


def check_idempotency_key(value: Any, where: str = "Idempotency-Key") -> str:
    """An idempotency key: 1 to 255 characters, none of them a control character."""
    if not isinstance(value, str):
        raise InvalidJob(f"{where}: must be a string, got {_json_kind(value)}")
    if not value or len(value) > MAX_IDEMPOTENCY_KEY_CHARS:
        raise InvalidJob(f"{where}: must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters")
    for index, char in enumerate(value):
        if unicodedata.category(char) in _TYPE_FORBIDDEN_CATEGORIES:
            raise InvalidJob(f"{where}: control character {_quote(char)} at position {index}")
    return value


def idempotency_keys(data: Any) -> list[str | None]:
    """Each job's ``idempotency_key`` in a batch checked by :func:`jobs_from_batch` (or None);
    a key given twice in one batch is refused."""
    keys: list[str | None] = []
    first_at: dict[str, int] = {}
    for index, item in enumerate(data["jobs"]):
        value = item.get("idempotency_key")
        where = f"jobs[{index}].idempotency_key"
        key = None if value is None else check_idempotency_key(value, where)
        if key is not None and key in first_at:
            raise InvalidJob(f"{where}: repeats the key of jobs[{first_at[key]}]")
        if key is not None:
            first_at[key] = index
        keys.append(key)
    return keys


def _job_from(
    data: Any,
    prefix: str,
    fields: tuple[str, ...] = TIMED_JOB_FIELDS,
    created_at: str | None = None,
) -> Job:
    _check_object(data, prefix, fields)
    job_type = _checked_type(data.get("type"), f"{prefix}type")
    max_attempts = _checked_max_attempts(data.get("max_attempts"), f"{prefix}max_attempts")
    priority = _checked_priority(data.get("priority"), f"{prefix}priority")
    payload = data.get("payload", {})
    created_at = created_at or utc_now()
    run_at = run_at_of(data, prefix, created_at)
    return Job(
        type=job_type,
        payload=payload,
        max_attempts=max_attempts,
        limit=JobLimit.from_body(data, prefix),
        priority=priority,
        created_at=created_at,
        run_at=run_at,
    )


def _check_object(data: Any, prefix: str, fields: tuple[str, ...]) -> None:
    where = prefix.rstrip(".") or "body"
    if not isinstance(data, dict):
        raise InvalidJob(f"{where}: must be a JSON object, got {_json_kind(data)}")
    unknown = [name for name in data if name not in fields]
    if unknown:
        names = ", ".join(_quote(name) for name in unknown)
        raise InvalidJob(f"{where}: unknown field(s) {names}; allowed: {', '.join(fields)}")


def _checked_type(value: Any, where: str) -> str:
    if value is None:
        raise InvalidJob(f"{where}: is required")
    if not isinstance(value, str):
        raise InvalidJob(f"{where}: must be a string, got {_json_kind(value)}")
    problem = job_type_problem(value)
    if problem is not None:
        raise InvalidJob(f"{where}: {problem}")
    return value


def _checked_max_attempts(value: Any, where: str) -> int | None:
    if value is None:
        return None
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if not is_int or not 1 <= value <= MAX_ATTEMPTS_LIMIT:
        raise InvalidJob(f"{where}: must be an integer from 1 to {MAX_ATTEMPTS_LIMIT}")
    return int(value)


def _checked_priority(value: Any, where: str) -> int:
    if value is None:
        return 0
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if not is_int or not 0 <= value <= MAX_PRIORITY:
        raise InvalidJob(f"{where}: must be an integer from 0 to {MAX_PRIORITY} (higher first)")
    return int(value)


def _check_strings_and_depth(data: Any) -> None:
    """Refuse NUL characters and lone surrogates in any key or string, and too deep nesting."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidJob(f"{path or 'body'}: nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, str):
            _check_text(value, path or "body")
        elif isinstance(value, dict):
            for key, item in value.items():
                _check_text(key, f"{path or 'body'}: key {_quote(key)}")
                stack.append((item, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))


def _check_text(text: str, where: str) -> None:
    found = _FORBIDDEN_CHAR.search(text)
    if found is None:
        return
    what = "a NUL character" if found.group() == "\x00" else "a lone surrogate"
    raise InvalidJob(f"{where}: contains {what} at position {found.start()}")


def _quote(text: str) -> str:
    """``text`` quoted with every unusual character escaped, safe inside any message."""
    return ascii(text)


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
