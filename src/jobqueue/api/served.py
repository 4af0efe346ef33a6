"""Submissions of a job type that no live worker serves: accepted with a warning, or refused.

A job of such a type is still durable and waits for a worker that serves it (see
:mod:`jobqueue.worker.unserved`), so by default it is accepted (202) and the answer says so: a
``Warning`` header and a ``"warning"`` field. With ``unserved_types="reject"`` it is a 422
instead, for deployments where a type nobody serves is always a client's typo.

The check reads the registry at most once a second (:class:`~jobqueue.registry.fleet.Fleet`);
a registry that cannot be reached lets every submission through unwarned: a fleet view must
never stand in the way of accepting jobs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from jobqueue.errors import ConfigError, RegistryUnavailable, UnknownJobType
from jobqueue.registry.fleet import Fleet

__all__ = ["UNSERVED_TYPES_POLICIES", "ServedCheck", "warning_header"]

UNSERVED_TYPES_POLICIES = ("warn", "reject")

log = logging.getLogger("jobqueue.api")


class ServedCheck:
    """Tells which of a submission's job types no live worker of ``queue`` serves."""

    def __init__(self, fleet: Fleet, queue: str, policy: str = "warn") -> None:
        if policy not in UNSERVED_TYPES_POLICIES:
            raise ConfigError(f"unserved_types must be 'warn' or 'reject', got {policy!r}")
        self._fleet = fleet
        self._queue = queue
        self._reject = policy == "reject"

    async def warning(self, job_types: Iterable[str]) -> str | None:
        """The warning for ``job_types`` (None when every one is served); raises
        :class:`UnknownJobType` instead when the policy is to reject."""
        try:
            served = await self._fleet.served(self._queue)
        except RegistryUnavailable as exc:
            log.warning("could not tell which job types are served: %s", exc)
            return None
        unserved = sorted({job_type for job_type in job_types if not served.serves(job_type)})
        if not unserved:
            return None
        names = ", ".join(repr(job_type) for job_type in unserved)
        noun = "type" if len(unserved) == 1 else "types"
        if self._reject:
            raise UnknownJobType(f"no live worker serves job {noun} {names}")
        return f"no live worker serves job {noun} {names} yet: the job waits for one"


def warning_header(text: str) -> str:
    """``text`` as an RFC 9111 ``Warning`` value: code 199, agent, quoted ASCII text."""
    return f"199 jobqueue {json.dumps(text, ensure_ascii=True)}"
