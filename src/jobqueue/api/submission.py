"""Submitting jobs: publish, record in the store, and keep idempotency keys.

Without a key: publish (the broker's confirm makes the job durable), then record the jobs as
queued. If recording fails, the job is still accepted — it is durable in the broker, and the
worker's events create its record — so the failure is logged and the answer is still 202.

With an idempotency key: reserve the key for this job (``NEW``), publish, record, then confirm
the key. A submission whose key was confirmed with the same body answers the original job
(``200``, same id); with a different body, ``422``; while the first submission is still in
flight, ``409``. If the publish fails, the key is released so that a retry starts afresh.
A client that times out and retries thus never creates a second job: either the first
submission got through (the retry answers it) or it did not (the retry submits it).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from jobqueue.brokers import Broker
from jobqueue.delay import handover
from jobqueue.errors import IdempotencyConflict, IdempotencyInFlight, InvalidJob
from jobqueue.job import Job
from jobqueue.store import IdempotencyOutcome, Reservation, Store, UniqueClaim, UniqueOutcome

log = logging.getLogger("jobqueue.api")


def body_hash(job: Job) -> str:
    """A digest of what was asked for (type, payload, max attempts, a priority but the
    default's), key order aside."""
    asked: dict[str, Any] = {"type": job.type, "payload": job.payload}
    asked["max_attempts"] = job.max_attempts
    if job.priority:
        asked["priority"] = job.priority  # so digests of jobs of the default stay as they were
    canonical = json.dumps(
        asked,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class Submitter:
    """Publishes jobs through ``broker`` (by ``publish``, its own ``publish`` by default: the
    traced one when tracing is on) and records them in ``store`` (when there is one)."""

    def __init__(
        self,
        broker: Broker,
        store: Store | None,
        publish: Callable[[Sequence[Job]], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._publish = publish or broker.publish

    async def submit(
        self,
        jobs: Sequence[Job],
        keys: Sequence[str | None],
        uniques: Sequence[UniqueClaim | None] | None = None,
    ) -> tuple[int, list[dict[str, Any]]]:
        """Submit ``jobs`` (``keys[i]`` is job i's idempotency key or None, ``uniques[i]`` its
        unique key claim or None).

        Returns the HTTP status (202, or 200 when every job had been submitted before) and each
        job's answer: the job as queued, or the original job for a key seen before (or the job
        that holds its unique key). Delayed jobs are recorded in the store, not published.
        """
        claims = list(uniques or [None] * len(jobs))
        if any(claims) or any(job.run_at is not None for job in jobs):
            store = self._require_store("delayed and unique jobs")
            return await asyncio.shield(self._submit_keyed(store, jobs, keys, claims))
        if not any(keys):
            await self._publish(jobs)
            await self._record(jobs, {})
            return 202, [job.to_wire() for job in jobs]
        # Once begun, a keyed submission runs to its end even if the request is abandoned, so
        # that no reservation is left half done (published, but the key not confirmed).
        store = self._require_store("idempotency keys")
        return await asyncio.shield(self._submit_keyed(store, jobs, keys, [None] * len(jobs)))

    async def _submit_keyed(
        self,
        store: Store,
        jobs: Sequence[Job],
        keys: Sequence[str | None],
        claims: Sequence[UniqueClaim | None],
    ) -> tuple[int, list[dict[str, Any]]]:
        outcomes = await self._reserve(store, jobs, keys)
        reserved = {
            index: key
            for index, (key, outcome) in enumerate(zip(keys, outcomes, strict=True))
            if key is not None and outcome is not None and outcome.status is Reservation.NEW
        }
        try:
            _refuse_duplicates(outcomes, keys, len(jobs) > 1)
            wanted = {
                i: claim for i, claim in enumerate(claims) if claim and _is_fresh(outcomes[i])
            }
            turned_away, won = await handover.claim_unique(store, wanted)
            fresh = [
                job
                for index, (job, outcome) in enumerate(zip(jobs, outcomes, strict=True))
                if _is_fresh(outcome) and index not in turned_away
            ]
            key_of = {jobs[i].id: key for i, key in reserved.items() if i not in turned_away}
            try:
                await handover.hand_over(store, self._publish, fresh, key_of)
            except BaseException:
                await handover.release_unique(store, won)
                raise
        except BaseException:
            await self._release(store, jobs, reserved)
            raise
        await self._release(store, jobs, {i: reserved[i] for i in turned_away if i in reserved})
        await self._record([job for job in fresh if job.run_at is None], key_of)
        await self._confirm(
            store, jobs, {i: k for i, k in reserved.items() if i not in turned_away}
        )
        answers = [
            _answer(job, outcome, turned_away.get(index), jobs)
            for index, (job, outcome) in enumerate(zip(jobs, outcomes, strict=True))
        ]
        return (202 if fresh else 200), answers

    def _require_store(self, what: str) -> Store:
        if self._store is None:
            raise InvalidJob(f"{what} need the job store, and this API has none")
        return self._store

    async def _reserve(
        self, store: Store, jobs: Sequence[Job], keys: Sequence[str | None]
    ) -> list[IdempotencyOutcome | None]:
        async def reserve(job: Job, key: str | None) -> IdempotencyOutcome | None:
            if key is None:
                return None
            return await store.reserve_idempotency_key(key, body_hash(job), job.id)

        results = await asyncio.gather(
            *(reserve(job, key) for job, key in zip(jobs, keys, strict=True)),
            return_exceptions=True,
        )
        errors = [result for result in results if isinstance(result, BaseException)]
        if errors:
            won = {
                index: key
                for index, (key, result) in enumerate(zip(keys, results, strict=True))
                if key is not None
                and isinstance(result, IdempotencyOutcome)
                and result.status is Reservation.NEW
            }
            await self._release(store, jobs, won)
            raise errors[0]
        return [result for result in results if not isinstance(result, BaseException)]

    async def _record(self, jobs: Sequence[Job], keys: dict[str, str]) -> None:
        if self._store is None or not jobs:
            return
        try:
            await self._store.record_submitted(jobs, keys or None)
        except Exception as exc:  # the jobs are durable: their events will create the records
            log.warning("%d accepted job(s) not recorded in the store yet: %s", len(jobs), exc)

    async def _confirm(self, store: Store, jobs: Sequence[Job], reserved: dict[int, str]) -> None:
        for index, key in reserved.items():
            try:
                await store.confirm_idempotency_key(key, jobs[index].id)
            except Exception as exc:
                log.warning("idempotency key of job %s not confirmed: %s", jobs[index].id, exc)

    async def _release(self, store: Store, jobs: Sequence[Job], reserved: dict[int, str]) -> None:
        for index, key in reserved.items():
            try:
                await store.release_idempotency_key(key, jobs[index].id)
            except Exception as exc:  # it is taken over once its in-flight timeout passes
                log.warning("idempotency key of job %s not released: %s", jobs[index].id, exc)


def _is_fresh(outcome: IdempotencyOutcome | None) -> bool:
    return outcome is None or outcome.status is Reservation.NEW


def _refuse_duplicates(
    outcomes: Sequence[IdempotencyOutcome | None], keys: Sequence[str | None], batch: bool
) -> None:
    """Raise for the first key used with another body (422) or still in flight (409)."""
    for index, (key, outcome) in enumerate(zip(keys, outcomes, strict=True)):
        if outcome is None:
            continue
        where = f"jobs[{index}].idempotency_key" if batch else "Idempotency-Key"
        if outcome.status is Reservation.CONFLICT:
            raise IdempotencyConflict(
                f"{where}: {key!r} was already used for job {outcome.job_id} with a different body"
            )
        if outcome.status is Reservation.IN_FLIGHT:
            raise IdempotencyInFlight(
                f"{where}: job {outcome.job_id} is being submitted under {key!r} right now; "
                "retry shortly"
            )


def _answer(
    job: Job,
    outcome: IdempotencyOutcome | None,
    held: UniqueOutcome | None = None,
    batch: Sequence[Job] = (),
) -> dict[str, Any]:
    if held is not None:
        return handover.turned_away_answer(held, batch)
    if outcome is None or outcome.status is Reservation.NEW:
        return job.to_wire()
    if outcome.record is not None:
        return outcome.record.to_wire()
    return {"id": outcome.job_id}
