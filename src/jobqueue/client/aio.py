"""``AsyncClient``: the API over httpx's asyncio client, for programs on an event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar, Unpack

import httpx

from jobqueue.client.connection import ClientOptions, connect
from jobqueue.client.exchange import Done, Operation, Outcome, Pause, Step, advance
from jobqueue.client.models import (
    Batch,
    BulkResult,
    DeadGroup,
    DeadJob,
    Job,
    JobEvent,
    Page,
    Submission,
    Worker,
)
from jobqueue.client.operations import BulkAction, JobFilters, WorkerCommand
from jobqueue.client.spec import JobOptions, JobSpec, job_spec

T = TypeVar("T")


class AsyncClient:
    """:class:`~jobqueue.client.Client` for asyncio: the same constructor and methods, each
    awaited (the iterators with ``async for``), on one ``httpx.AsyncClient``; the same
    requests, retries and answers. Use it in an ``async with`` block, or :meth:`aclose` it."""

    def __init__(self, base_url: str | None = None, **options: Unpack[ClientOptions]) -> None:
        http, self._calls = connect(base_url, options)
        self._http = httpx.AsyncClient(**http)

    async def submit(
        self, job_type: str, payload: Any = None, **options: Unpack[JobOptions]
    ) -> Submission:
        """Submit one job (its payload ``{}`` when None); answered once the API holds it durably."""
        return await self._run(self._calls.submit(job_spec(job_type, payload, options)))

    async def submit_batch(self, jobs: Sequence[JobSpec]) -> Batch:
        """Submit up to the API's batch limit (1,000) of jobs at once: all of them, or none."""
        return await self._run(self._calls.submit_batch(jobs))

    async def get(self, job_id: str) -> Job:
        """The job now."""
        return await self._run(self._calls.get(job_id))

    async def wait(self, job_id: str, timeout_s: float | None = None) -> Job:
        """The job once it finished (succeeded, dead or cancelled); raises
        :class:`~jobqueue.client.errors.WaitTimeout` after ``timeout_s`` (None: no limit)."""
        return await self._run(self._calls.wait(job_id, timeout_s))

    async def events(self, job_id: str) -> list[JobEvent]:
        """The job's history, oldest first."""
        return await self._run(self._calls.events(job_id))

    async def list_jobs(
        self, *, limit: int = 50, cursor: str | None = None, **filters: Unpack[JobFilters]
    ) -> Page[Job]:
        """One page of jobs, newest first (pass its ``next_cursor`` as ``cursor``)."""
        return await self._run(self._calls.list_jobs(limit, cursor, filters))

    def iter_jobs(
        self, *, page_size: int = 100, **filters: Unpack[JobFilters]
    ) -> AsyncIterator[Job]:
        """Every job the filters match, newest first, a page at a time (``async for``)."""
        return _pages(lambda cursor: self.list_jobs(limit=page_size, cursor=cursor, **filters))

    async def cancel(self, job_id: str) -> Job:
        """Cancel a job that has not started; a running one is asked to stop."""
        return await self._run(self._calls.cancel(job_id))

    async def bulk(
        self,
        action: BulkAction,
        *,
        ids: Sequence[str] | None = None,
        dry_run: bool = False,
        **filters: Unpack[JobFilters],
    ) -> BulkResult:
        """Retry (dead), cancel (waiting or running) or delete (finished) the jobs of ``ids``,
        else those the filters match (at most 10,000 a call); ``dry_run`` only counts them."""
        return await self._run(self._calls.bulk(action, ids, filters, dry_run))

    async def dead_jobs(self, limit: int = 100) -> list[DeadJob]:
        """The oldest ``limit`` jobs of the dead-letter queue, left there."""
        return await self._run(self._calls.dead_jobs(limit))

    async def get_dead(self, job_id: str) -> DeadJob:
        """One dead job, with its traceback and the whole job."""
        return await self._run(self._calls.dead_job(job_id))

    async def replay(self, job_id: str) -> Submission:
        """Queue a dead job again, its attempts reset."""
        return await self._run(self._calls.replay(job_id))

    async def replay_all(self, per_second: float | None = None) -> int:
        """Queue every dead job again; with ``per_second``, in the background at that pace."""
        return await self._run(self._calls.replay_all(per_second))

    async def purge_dead(self) -> int:
        """Delete every dead job; how many there were."""
        return await self._run(self._calls.purge_dead())

    async def dead_groups(self, scan: int | None = None) -> list[DeadGroup]:
        """The oldest ``scan`` (10,000) dead jobs grouped by failure, the biggest group first."""
        return await self._run(self._calls.dead_groups(scan))

    async def replay_group(self, fingerprint: str, per_second: float | None = None) -> int:
        """Replay a group's dead jobs in the background (paced); how many it will replay."""
        return await self._run(self._calls.replay_group(fingerprint, per_second))

    async def purge_group(self, fingerprint: str) -> int:
        """Delete a group's dead jobs; how many there were."""
        return await self._run(self._calls.purge_group(fingerprint))

    async def replay_selected(self, ids: Sequence[str], per_second: float | None = None) -> int:
        """Replay these dead jobs in the background (paced); how many ids it will replay."""
        return await self._run(self._calls.replay_selected(ids, per_second))

    async def list_workers(self, *, limit: int = 100, cursor: str | None = None) -> Page[Worker]:
        """One page of live workers, by id."""
        return await self._run(self._calls.list_workers(limit, cursor))

    def iter_workers(self, *, page_size: int = 100) -> AsyncIterator[Worker]:
        """Every live worker, by id, a page at a time (``async for``)."""
        return _pages(lambda cursor: self.list_workers(limit=page_size, cursor=cursor))

    async def get_worker(self, worker_id: str) -> Worker:
        """One live worker."""
        return await self._run(self._calls.worker(worker_id))

    async def command_worker(self, worker_id: str, command: WorkerCommand) -> None:
        """Send ``pause``, ``resume`` or ``drain``; the worker applies it within a heartbeat."""
        await self._run(self._calls.command(worker_id, command))

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _run(self, operation: Operation[T]) -> T:
        """Drive ``operation``: send what it asks, sleep when it says, until it returns."""
        outcome: Outcome = None
        while not isinstance(step := advance(operation, outcome), Done):
            outcome = await self._perform(step)
        return step.value

    async def _perform(self, step: Step) -> Outcome:
        if isinstance(step, Pause):
            await asyncio.sleep(step.seconds)
            return None
        try:
            return await self._http.send(step.request(self._http))
        except httpx.TransportError as exc:
            return exc


async def _pages(fetch: Callable[[str | None], Awaitable[Page[T]]]) -> AsyncIterator[T]:
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        for item in page.items:
            yield item
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
