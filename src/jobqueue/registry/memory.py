"""The in-process worker registry: the default, for one API process."""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from jobqueue.config import MAX_WORKERS, WORKER_TTL_S
from jobqueue.registry import (
    DRAINED_KEEP_S,
    Command,
    HeartbeatResult,
    WorkerInfo,
    WorkerReport,
    check_worker_id,
    drained_report,
    registry_full,
)

__all__ = ["InMemoryRegistry"]


@dataclass(frozen=True, slots=True)
class _Entry:
    report: WorkerReport
    seen_at: float  # on the monotonic clock, for expiry
    last_seen_unix: float  # on the wall clock, for people
    registered_at_unix: float
    command: Command | None = None
    kept_until: float | None = None  # a drained worker's entry: listed until then (monotonic)


class InMemoryRegistry:
    """A dict of workers in the API process's memory, expired on a monotonic clock.

    ``clock`` (monotonic seconds) decides expiry and ``wall_clock`` (Unix seconds) stamps the
    times shown to people; tests pass controlled clocks. Every method runs without awaiting,
    so each one is atomic on the event loop. At most ``max_workers`` are held: a new id past
    that raises RegistryFull.
    """

    def __init__(
        self,
        ttl_s: float = WORKER_TTL_S,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        max_workers: int = MAX_WORKERS,
    ) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._wall_clock = wall_clock
        self._max_workers = max_workers
        self._entries: dict[str, _Entry] = {}

    @property
    def ttl_s(self) -> float:
        """Seconds of silence after which a worker is expired."""
        return self._ttl_s

    async def register(self, worker_id: str, report: WorkerReport) -> bool:
        """Record the worker as seen now; True when it was not known before."""
        return self._record(worker_id, report) is None

    async def heartbeat(self, worker_id: str, report: WorkerReport) -> HeartbeatResult:
        """Record the worker as seen now and take the command waiting for it."""
        previous = self._record(worker_id, report)
        if previous is None:
            return HeartbeatResult(known=False)
        entry = self._entries[worker_id]
        self._entries[worker_id] = replace(entry, command=None)
        return HeartbeatResult(known=True, command=entry.command)

    async def deregister(self, worker_id: str, drained: bool = False) -> bool:
        """Forget the worker and its waiting command (keep it listed as drained, with
        ``drained``); True when it was live."""
        entry = self._live(self._entries.pop(worker_id, None))
        if entry is not None and drained:
            self._entries[worker_id] = replace(
                entry,
                report=drained_report(entry.report),
                command=None,
                kept_until=self._clock() + DRAINED_KEEP_S,
            )
        return entry is not None

    async def get(self, worker_id: str) -> WorkerInfo | None:
        """The live worker with this id, or None."""
        entry = self._live(self._entries.get(worker_id))
        return None if entry is None else self._info(worker_id, entry)

    async def workers(self, after: str = "", limit: int | None = None) -> list[WorkerInfo]:
        """The live workers whose id sorts after ``after``, ordered by id, at most ``limit``."""
        ids = sorted(self._entries)
        page: list[WorkerInfo] = []
        for worker_id in ids[bisect.bisect_right(ids, after) if after else 0 :]:
            if limit is not None and len(page) >= limit:
                break
            entry = self._live(self._entries[worker_id])
            if entry is not None:
                page.append(self._info(worker_id, entry))
        return page

    async def send_command(self, worker_id: str, command: Command) -> bool:
        """Leave a command for the worker's next heartbeat; False when it is not live."""
        entry = self._live(self._entries.get(worker_id))
        if entry is None or entry.kept_until is not None:
            return False
        self._entries[worker_id] = replace(entry, command=command)
        return True

    async def sweep(self) -> int:
        """Remove the expired workers; how many were removed."""
        return self._remove_expired()

    async def close(self) -> None:
        """Nothing to release."""

    def _record(self, worker_id: str, report: WorkerReport) -> _Entry | None:
        """Store the worker as seen now; the live entry it replaced, if any."""
        check_worker_id(worker_id)
        previous = self._live(self._entries.get(worker_id))
        if previous is None:
            self._make_room()
        if previous is not None and previous.kept_until is not None:
            previous = None  # a drained worker coming back is a new registration
        now_unix = self._wall_clock()
        self._entries[worker_id] = _Entry(
            report=report,
            seen_at=self._clock(),
            last_seen_unix=now_unix,
            registered_at_unix=now_unix if previous is None else previous.registered_at_unix,
            command=None if previous is None else previous.command,
        )
        return previous

    def _make_room(self) -> None:
        """Raise RegistryFull unless a new worker fits, expired entries not counted."""
        if len(self._entries) >= self._max_workers:
            self._remove_expired()  # only when full: a sweep is a pass over every entry
        if len(self._entries) >= self._max_workers:
            raise registry_full(self._max_workers)

    def _remove_expired(self) -> int:
        expired = [wid for wid, e in self._entries.items() if self._live(e) is None]
        for worker_id in expired:
            del self._entries[worker_id]
        return len(expired)

    def _live(self, entry: _Entry | None) -> _Entry | None:
        if entry is None:
            return None
        if entry.kept_until is not None:
            return entry if self._clock() < entry.kept_until else None
        return None if self._clock() - entry.seen_at >= self._ttl_s else entry

    def _info(self, worker_id: str, entry: _Entry) -> WorkerInfo:
        return WorkerInfo(
            worker_id=worker_id,
            report=entry.report,
            last_seen_unix=entry.last_seen_unix,
            registered_at_unix=entry.registered_at_unix,
            seen_ago_s=max(0.0, self._clock() - entry.seen_at),
            pending_command=entry.command,
        )
