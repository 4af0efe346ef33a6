"""Applying a batch of workers' events: the store's hot path, two statements per batch.

1. The batch's events go into the history with one multi-row ``INSERT ... ON CONFLICT
   (event_id) DO NOTHING RETURNING event_id``: what comes back are the events never seen.
2. Those are folded per job in Python (:func:`jobqueue.store.events.fold`) into one proposed
   row per job, merged into ``store_jobs`` by one ``INSERT ... ON CONFLICT (id) DO UPDATE``
   (:mod:`jobqueue.store.merge`) run for every row at once (executemany).
3. The new events' outcomes are added to the per-minute counts (:mod:`jobqueue.store.counts`),
   their waits and run times to the per-minute histograms (:mod:`jobqueue.store.timings`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

import sqlalchemy as sa

from jobqueue.config import QUEUE
from jobqueue.store import counts, driver, timings
from jobqueue.store import events as ev
from jobqueue.store.merge import merge_set
from jobqueue.store.tables import jobs

_TRACKED_FIELDS = tuple(field.name for field in fields(ev.Tracked))


def _merge_upsert(insert: driver.Insert) -> sa.Insert:
    statement = insert(jobs).values(driver.row_binds(jobs))
    return statement.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=[jobs.c.id], set_=merge_set(statement.excluded)
    )


def tracked_row(tracked: ev.Tracked) -> dict[str, Any]:
    """The ``store_jobs`` columns that a :class:`Tracked` state fills."""
    row = {name: getattr(tracked, name) for name in _TRACKED_FIELDS}
    row["state"] = tracked.state.value
    return row


def proposed_rows(fresh: Sequence[ev.JobEvent]) -> list[dict[str, Any]]:
    """One row per job, in id order: the fold of that job's new events."""
    by_job: dict[str, list[ev.JobEvent]] = {}
    for event in fresh:
        by_job.setdefault(event.job_id, []).append(event)
    return [_proposed_row(job_id, by_job[job_id]) for job_id in sorted(by_job)]


def _proposed_row(job_id: str, job_events: list[ev.JobEvent]) -> dict[str, Any]:
    tracked = ev.fold(job_events)
    assert tracked is not None
    created_at = next((e.created_at for e in job_events if e.created_at), None)
    row = tracked_row(tracked)
    row.update(
        id=job_id,
        type=job_events[0].job_type,
        max_attempts=next((e.max_attempts for e in job_events if e.max_attempts), None),
        created_at=created_at or min(event.at for event in job_events),
        cancel_requested=False,
        idempotency_key=None,
        payload=None,
        run_at=None,
        priority=None,  # the submission's record fills it in
    )
    return row


def apply_events(
    connection: sa.Connection, batch: Sequence[ev.JobEvent], queue: str | None = QUEUE
) -> int:
    """Append the new events to the history, merge them into their jobs' records and count
    their outcomes and times under ``queue`` (None: count nothing)."""
    for event in batch:
        if event.kind not in ev.WORKER_KINDS:
            raise ValueError(f"{event.kind.value!r} events are written by the store itself")
    # One of each id, in id order: concurrent batches then take index locks in the same order.
    unique = sorted({event.event_id: event for event in batch}.values(), key=_event_id)
    if not unique:
        return 0
    fresh_ids = driver.append_history(connection, unique)
    fresh = [event for event in unique if event.event_id in fresh_ids]
    if fresh:
        driver.execute_rows(connection, _merge_upsert, proposed_rows(fresh))
        if queue is not None:
            counts.add_on(connection, counts.event_rows(fresh, queue))
            timings.add_on(connection, timings.event_rows(fresh, queue))
    return len(fresh)


def _event_id(event: ev.JobEvent) -> str:
    return event.event_id
