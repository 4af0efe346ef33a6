"""The store's side of bulk actions on jobs by id: cancel many, delete finished ones."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from jobqueue.job import JobState
from jobqueue.store import queries
from jobqueue.store.events import FINISHED_STATES
from jobqueue.store.tables import events, jobs
from jobqueue.store.values import JobRecord

CHUNK = 500
"""Ids per transaction (and per ``IN (...)`` list): short write locks, few bound parameters."""
_FINISHED = sorted(state.value for state in FINISHED_STATES)


def chunks(job_ids: Sequence[str]) -> list[list[str]]:
    """The distinct ids in order, in lists of at most :data:`CHUNK`."""
    unique = list(dict.fromkeys(job_ids))
    return [unique[start : start + CHUNK] for start in range(0, len(unique), CHUNK)]


def request_cancels(
    connection: sa.Connection, job_ids: Sequence[str], queue: str | None
) -> list[JobRecord]:
    """Cancel each job as :func:`queries.request_cancel` does; the records of those this call
    cancelled or asked to stop (unknown, finished and already asked ones left out)."""
    changed = []
    for job_id in job_ids:
        before = queries.get(connection, job_id)
        if before is None or before.finished:
            continue
        if before.state is JobState.RUNNING and before.cancel_requested:
            continue
        record = queries.request_cancel(connection, job_id, queue)
        if record is not None and record.state in (JobState.CANCELLED, JobState.RUNNING):
            changed.append(record)
    return changed


def delete_finished(connection: sa.Connection, job_ids: Sequence[str]) -> int:
    """Delete the finished jobs among ``job_ids`` with their history; how many went."""
    finished = sa.select(jobs.c.id).where(jobs.c.id.in_(job_ids), jobs.c.state.in_(_FINISHED))
    ids = list(connection.execute(finished).scalars())
    if not ids:
        return 0
    connection.execute(sa.delete(events).where(events.c.job_id.in_(ids)))
    return connection.execute(sa.delete(jobs).where(jobs.c.id.in_(ids))).rowcount
