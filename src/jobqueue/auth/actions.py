"""What an admin request did, in the audit log's words: ``job.cancel`` on a job id,
``dlq.purge`` of how many, ``dlq.replay_group`` of a fingerprint, ``worker.drain`` of a worker.
A route may name its action itself (:func:`jobqueue.auth.audit.note`), as ``POST /jobs/bulk``
does with ``job.bulk_retry``, ``job.bulk_cancel`` or ``job.bulk_delete``."""

from __future__ import annotations

import re
from typing import Any

from jobqueue import codec
from jobqueue.auth.audit import Facts

_GROUP = r"^/dlq/groups/(?P<target>[^/]+)"
_ACTIONS: tuple[tuple[str, re.Pattern[str], str, tuple[str, ...] | None], ...] = (
    # method, path, action, the answer's fields that count what it touched (the first present)
    ("POST", re.compile(r"^/jobs/bulk$"), "job.bulk", ("done",)),
    ("DELETE", re.compile(r"^/jobs/(?P<target>[^/]+)$"), "job.cancel", None),
    ("POST", re.compile(r"^/dlq/replay$"), "dlq.replay_all", ("replayed", "replaying")),
    ("POST", re.compile(r"^/dlq/replay-selected$"), "dlq.replay_selected", ("replaying",)),
    ("DELETE", re.compile(r"^/dlq$"), "dlq.purge", ("purged",)),
    ("POST", re.compile(_GROUP + r"/replay$"), "dlq.replay_group", ("replaying",)),
    ("DELETE", re.compile(_GROUP + r"$"), "dlq.purge_group", ("purged",)),
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


def _count(answer: bytes, fields: tuple[str, ...] | None) -> int | None:
    if fields is None:
        return 1
    try:
        value: Any = codec.loads(answer)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    count = next((value[field] for field in fields if field in value), None)
    return count if isinstance(count, int) and not isinstance(count, bool) else None
