"""The submission side of delayed and unique jobs: which jobs a unique key turns away, and the
hand-over of accepted jobs (delayed ones into the store, the others to the broker).

A delayed job is accepted once the job store committed it (it waits there, so the store is
what makes it durable: with the store down its submission fails). An immediate job is
accepted once the broker confirmed it, as always. In a batch of both, the delayed ones are
recorded first and cancelled again if the broker then refuses the others: all or none.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from jobqueue.job import Job
from jobqueue.store import Store, UniqueClaim, UniqueOutcome
from jobqueue.telemetry import propagation

log = logging.getLogger("jobqueue.api")
Publish = Callable[[Sequence[Job]], Awaitable[None]]


async def claim_unique(
    store: Store, claims: Mapping[int, UniqueClaim]
) -> tuple[dict[int, UniqueOutcome], list[tuple[str, str]]]:
    """Claim the keys (job index → claim); returns the outcomes of the jobs another job turns
    away (by index) and the ``(key, job_id)`` claims won, to give back if the jobs fail."""
    if not claims:
        return {}, []
    indexes = list(claims)
    outcomes = await store.claim_unique_keys([claims[index] for index in indexes])
    turned_away = {
        i: outcome for i, outcome in zip(indexes, outcomes, strict=True) if not outcome.new
    }
    won = [(claims[i].key, claims[i].job_id) for i in indexes if i not in turned_away]
    return turned_away, won


async def release_unique(store: Store, won: Sequence[tuple[str, str]]) -> None:
    """Give back unique keys whose jobs were not accepted; logged, never raised."""
    try:
        await store.release_unique_keys(won)
    except Exception as exc:  # a key whose job never appears is free again after a minute
        log.warning("%d unique key(s) not released: %s", len(won), exc)


def with_trace_context(jobs: Sequence[Job]) -> list[Job]:
    """Delayed jobs given the current trace context in their headers, to publish later."""
    headers = propagation.inject()
    if not headers:
        return list(jobs)
    return [dataclasses.replace(job, headers={**(job.headers or {}), **headers}) for job in jobs]


async def hand_over(
    store: Store | None, publish: Publish, jobs: Sequence[Job], keys: Mapping[str, str]
) -> None:
    """Record the delayed jobs as scheduled (committed), then publish the others (confirmed).

    ``keys`` maps job id to idempotency key. If the publish fails, the delayed jobs of the same
    request are cancelled again before the error is raised.
    """
    delayed = [job for job in jobs if job.run_at is not None]
    immediate = [job for job in jobs if job.run_at is None]
    if delayed:
        assert store is not None, "delayed jobs are refused without a store"
        delayed_keys = {job.id: keys[job.id] for job in delayed if job.id in keys}
        await store.record_scheduled(with_trace_context(delayed), delayed_keys or None)
    try:
        await publish(immediate)
    except BaseException:
        if delayed:
            await _withdraw(store, delayed)
        raise


async def _withdraw(store: Store | None, delayed: Sequence[Job]) -> None:
    assert store is not None
    try:
        await store.request_cancels([job.id for job in delayed])
    except Exception as exc:
        log.warning("%d delayed job(s) of a failed batch not withdrawn: %s", len(delayed), exc)


def turned_away_answer(outcome: UniqueOutcome, batch_jobs: Sequence[Job]) -> dict[str, Any]:
    """The answer for a job whose unique key another job holds: that job."""
    if outcome.record is not None:
        return outcome.record.to_wire()
    for job in batch_jobs:  # held by a job of this very batch
        if job.id == outcome.job_id:
            return job.to_wire()
    return {"id": outcome.job_id}
