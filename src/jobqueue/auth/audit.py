"""The audit trail: each admin action, who did it with which token, on what, how many, from
where, when, and what it answered, written to the job store and to the log."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from jobqueue.auth.book import Principal
from jobqueue.auth.records import AuditEntry
from jobqueue.errors import JobqueueError
from jobqueue.job import new_job_id
from jobqueue.store import Store
from jobqueue.store.events import utc_now

logger = logging.getLogger("jobqueue.audit")

FACTS_KEY = "audit"
"""Where a route leaves :class:`Facts` in the request's state for the trail to record."""


@dataclass(frozen=True, slots=True)
class Facts:
    """What a route says of the admin action it just did."""

    action: str
    target: str
    count: int | None = None
    detail: dict[str, Any] | None = None


def note(
    request: Request,
    action: str,
    target: str,
    count: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Called by an admin route: name the action (``job.cancel``), its target and count, and
    any detail worth keeping (what a bulk action matched and skipped)."""
    setattr(request.state, FACTS_KEY, Facts(action, target, count, detail))


class AuditTrail:
    """Writes admin actions to the store; an entry the store cannot take stays in the log."""

    def __init__(self, store: Store | None) -> None:
        self._store = store

    async def record(
        self, principal: Principal, facts: Facts, client: str, status: int
    ) -> AuditEntry:
        """Record one action and return its entry."""
        entry = AuditEntry(
            entry_id=new_job_id(),
            at=utc_now(),
            actor=principal.name,
            token_id=principal.token_id,
            action=facts.action,
            target=facts.target,
            count=facts.count,
            client=client,
            status=status,
            detail=facts.detail,
        )
        logger.info(
            "%s by %s from %s on %s: %s%s",
            entry.action,
            entry.actor,
            entry.client,
            entry.target,
            entry.status,
            "" if entry.count is None else f" ({entry.count})",
        )
        if self._store is not None:
            try:
                await self._store.record_audit([entry])
            except JobqueueError as exc:
                logger.warning("audit entry %s not stored: %s", entry.entry_id, exc)
        return entry
