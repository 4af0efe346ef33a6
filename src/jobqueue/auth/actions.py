"""What an admin request did, in the audit log's words: ``job.cancel`` on a job id,
``dlq.purge`` of how many, ``worker.drain`` of a worker."""

from __future__ import annotations

import re
from typing import Any

from jobqueue import codec
from jobqueue.auth.audit import Facts

_ACTIONS: tuple[tuple[str, re.Pattern[str], str, str | None], ...] = (
    # method, path, action, the answer's field that counts what it touched
    ("DELETE", re.compile(r"^/jobs/(?P<target>[^/]+)$"), "job.cancel", None),
    ("POST", re.compile(r"^/dlq/replay$"), "dlq.replay_all", "replayed"),
    ("DELETE", re.compile(r"^/dlq$"), "dlq.purge", "purged"),
    ("POST", re.compile(r"^/dlq/(?P<target>[^/]+)/replay$"), "dlq.replay", None),
    ("POST", re.compile(r"^/workers/(?P<target>[^/]+)/(?P<command>pause|resume|drain)$"), "", None),
)
ANSWER_PEEK_BYTES = 4096
"""How much of an admin answer is kept to read its count from."""


def facts_of(method: str, path: str, answer: bytes) -> Facts:
    """The action a request made, its target and (from its JSON answer) its count."""
    for action_method, pattern, action, count_field in _ACTIONS:
        match = pattern.match(path)
        if method != action_method or match is None:
            continue
        groups = match.groupdict()
        if "command" in groups:
            action = f"worker.{groups['command']}"
        target = groups.get("target", "all")
        return Facts(action, target, _count(answer, count_field))
    return Facts(f"{method} {path}", path)


def _count(answer: bytes, field: str | None) -> int | None:
    if field is None:
        return 1
    try:
        value: Any = codec.loads(answer)
    except ValueError:
        return None
    count = value.get(field) if isinstance(value, dict) else None
    return count if isinstance(count, int) else None
