"""Replaying dead jobs by id in the background, at a pace if asked, and purging a group.

A replay runs as a task the API owns, a chunk of ids at a time: each chunk is replayed by the
broker (durably queued, then its dead copies removed) and recorded in the store as queued
again. A process that stops midway leaves the rest dead, to be replayed later; a stop asked
for by :meth:`Replays.close` lets the chunk in hand finish first, so the store hears of every
job the broker queued again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Sequence

from jobqueue.brokers import Broker
from jobqueue.job import Job
from jobqueue.store import Store
from jobqueue.triage.groups import members_of

log = logging.getLogger("jobqueue.triage")

CHUNK = 100
"""Ids replayed per broker call when no pace is asked for (or the pace is faster than this
per second)."""


async def record_requeued(store: Store | None, jobs: Sequence[Job]) -> None:
    """Tell the store that ``jobs`` are queued again (best effort: they are, whatever it says)."""
    if store is None or not jobs:
        return
    try:
        await store.record_requeued(jobs)
    except Exception as exc:
        log.warning("%d replayed job(s) not recorded as queued: %s", len(jobs), exc)


def chunk_size(per_second: float | None) -> int:
    """Ids per broker call: about a second's worth at the pace, at most :data:`CHUNK`."""
    if per_second is None:
        return CHUNK
    return max(1, min(CHUNK, math.floor(per_second)))


async def group_ids(broker: Broker, fingerprint: str, scan_limit: int) -> list[str] | None:
    """The distinct ids of the group's dead jobs that are jobs (among the oldest
    ``scan_limit``), oldest first; None when no dead job has that fingerprint."""
    members = members_of(await broker.dead_jobs(scan_limit), fingerprint)
    if not members:
        return None
    return list(dict.fromkeys(dead.message_id for dead in members if dead.job is not None))


async def purge_group(broker: Broker, fingerprint: str, scan_limit: int) -> int | None:
    """Delete the group's dead jobs (among the oldest ``scan_limit``); how many went, or None
    when no dead job has that fingerprint."""
    members = members_of(await broker.dead_jobs(scan_limit), fingerprint)
    if not members:
        return None
    return await broker.purge_dead_ids([dead.message_id for dead in members])


class Replays:
    """The API's background replays over one broker and store."""

    def __init__(self, broker: Broker, store: Store | None) -> None:
        self._broker = broker
        self._store = store
        self._tasks: set[asyncio.Task[int]] = set()
        self._stopping = asyncio.Event()

    @property
    def running(self) -> int:
        """How many replays are under way."""
        return len(self._tasks)

    def start(self, ids: Sequence[str], per_second: float | None = None) -> None:
        """Replay the dead jobs ``ids`` in the background, ``per_second`` at most if given."""
        if not ids or self._stopping.is_set():
            return
        task = asyncio.create_task(self._replay(list(ids), per_second))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        """Return once every replay under way has ended."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Stop every replay after the chunk it is replaying; the rest stay dead."""
        self._stopping.set()
        await self.wait()

    async def _replay(self, ids: list[str], per_second: float | None) -> int:
        async def recorded(jobs: list[Job]) -> None:
            await record_requeued(self._store, jobs)

        done = 0
        try:
            done = await replay_at_pace(self._broker, ids, per_second, recorded, self._stopping)
        except Exception as exc:  # a broker outage ends the replay; the rest stay dead
            log.warning("replay of %d dead job(s) stopped: %s", len(ids), exc)
        log.info("replayed %d of %d dead job(s) asked for", done, len(ids))
        return done


async def replay_at_pace(
    broker: Broker,
    ids: Sequence[str],
    per_second: float | None,
    replayed: Callable[[list[Job]], Awaitable[None]],
    stopping: asyncio.Event | None = None,
) -> int:
    """Replay the dead jobs ``ids`` a chunk at a time, ``per_second`` at most if given, calling
    ``replayed`` with each chunk's jobs; ends early once ``stopping`` is set. How many were
    replayed."""
    stopping = stopping or asyncio.Event()
    loop = asyncio.get_running_loop()
    started, size, done = loop.time(), chunk_size(per_second), 0
    for start in range(0, len(ids), size):
        if per_second is not None:
            await _wait_unless_stopped(stopping, started + start / per_second - loop.time())
        if stopping.is_set():
            break
        jobs = await broker.replay_ids(ids[start : start + size])
        await replayed(jobs)
        done += len(jobs)
    return done


async def _wait_unless_stopped(stopping: asyncio.Event, wait_s: float) -> None:
    """Wait ``wait_s``, or less when ``stopping`` is set meanwhile."""
    if wait_s > 0:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                await stopping.wait()
