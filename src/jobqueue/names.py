"""The rules for the names clients and workers send: job types, worker ids, hosts and labels.

Each check answers what is wrong with a value (``"must be at most 128 characters, got 201"``)
or None; the caller puts the field's name in front and raises its own error, so the HTTP API
and the control plane apply one definition and say the same thing.
"""

from __future__ import annotations

import unicodedata

from jobqueue.handlers import MAX_TYPE_LENGTH

__all__ = [
    "MAX_TYPE_LENGTH",
    "MAX_WORKER_ID_CHARS",
    "job_type_problem",
    "label_problem",
    "quoted",
    "worker_id_problem",
]

MAX_WORKER_ID_CHARS = 128

# A job type may hold any letter, symbol or space a person can read; not a line break or a
# control character, which would forge log lines and garble terminals.
_TYPE_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_RESERVED_WORKER_IDS = frozenset({".", ".."})  # URL paths would resolve them away


def quoted(text: str) -> str:
    """``text`` quoted with every unusual character escaped, safe inside any message."""
    return ascii(text)


def job_type_problem(value: str) -> str | None:
    """What is wrong with a job type: blank, over ``MAX_TYPE_LENGTH``, a control character."""
    if not value.strip():
        return "must not be empty"
    if len(value) > MAX_TYPE_LENGTH:
        return f"must be at most {MAX_TYPE_LENGTH} characters, got {len(value)}"
    for index, char in enumerate(value):
        if unicodedata.category(char) in _TYPE_FORBIDDEN_CATEGORIES:
            return f"control character {quoted(char)} at position {index}"
    return None


def label_problem(value: str, max_chars: int, *, required: bool = False) -> str | None:
    """What is wrong with a short label (a host, a version, a queue): over ``max_chars``, or a
    character that is not printable (a control character, a line break, a format character;
    a plain space is fine). Empty is fine unless ``required``."""
    if not value:
        return "must not be empty" if required else None
    if len(value) > max_chars:
        return f"must be at most {max_chars} characters, got {len(value)}"
    if not value.isprintable():
        index, char = next((i, c) for i, c in enumerate(value) if not c.isprintable())
        return f"unprintable character {quoted(char)} at position {index}"
    return None


def worker_id_problem(value: str) -> str | None:
    """What is wrong with a worker id: empty, over ``MAX_WORKER_ID_CHARS``, unprintable, or a
    ``/`` (an id is one segment of ``/workers/{id}``), or ``.`` or ``..``."""
    problem = label_problem(value, MAX_WORKER_ID_CHARS, required=True)
    if problem is not None:
        return problem
    if "/" in value:
        return f"must not contain '/', at position {value.index('/')}"
    if value in _RESERVED_WORKER_IDS:
        return f"must not be {value!r}"
    return None
