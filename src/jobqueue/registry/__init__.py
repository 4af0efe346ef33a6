"""The worker registry: the Registry protocol, the values it trades in, and ``from_url``.

The registry is the API's view of the fleet. Workers register and heartbeat; a worker not heard
from for ``ttl_s`` seconds is expired. Its contract, checked for every backend by
``jobqueue.testing.registry`` (the conformance suite):

- ``register`` and ``heartbeat`` record the worker as seen now, with what it reported. A
  heartbeat from an id the registry does not know (never seen, expired, or lost in an API
  restart) registers it again: a live worker is never ignored.
- An expired worker is absent from every read (``get``, ``workers``) at once, whether or not
  ``sweep`` has run yet; ``sweep`` only frees its storage. So a silent worker is gone from every
  view within ``ttl_s``, and its storage within ``ttl_s`` plus the sweep period.
- ``send_command`` leaves one command waiting for a live worker (the last one sent wins); the
  next ``heartbeat`` takes it, so each command is delivered once. A command lives and dies with
  its worker's entry: deregistering or expiring drops it.
- A worker that deregisters as ``drained`` stays listed, in state ``drained`` and taking no
  command, for ``DRAINED_KEEP_S`` or until the same id registers again: an operator sees that
  it left on request rather than vanished.
- Ids and reports are validated: an empty id, an id over ``MAX_WORKER_ID_CHARS`` characters, an
  id with an unprintable character or a ``/``, a negative load or count raise
  :class:`~jobqueue.errors.InvalidWorker`.
- A registry holds at most ``max_workers`` live workers: past it, registering (or a heartbeat
  from) a new id raises :class:`~jobqueue.errors.RegistryFull`; a known worker refreshes as ever.
- ``workers(after, limit)`` lists a page: the live workers whose id sorts after ``after``, in
  order of id, at most ``limit``; so a listing's cost is its page's, however large the fleet.
- A backend that cannot reach its store raises :class:`~jobqueue.errors.RegistryUnavailable`.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from jobqueue.brokers import redact_url
from jobqueue.config import MAX_WORKERS, WORKER_TTL_S
from jobqueue.errors import ConfigError, InvalidWorker, RegistryFull
from jobqueue.names import MAX_WORKER_ID_CHARS, worker_id_problem

__all__ = [
    "DRAINED_KEEP_S",
    "MAX_LIST_ITEMS",
    "MAX_WORKER_ID_CHARS",
    "Command",
    "HeartbeatResult",
    "Registry",
    "WorkerInfo",
    "WorkerReport",
    "WorkerState",
    "check_worker_id",
    "drained_report",
    "from_url",
    "registry_full",
]

MAX_LIST_ITEMS = 10_000
DRAINED_KEEP_S = 3600.0


class WorkerState(enum.StrEnum):
    """What a worker says it is doing."""

    ACTIVE = "active"
    PAUSED = "paused"
    DRAINING = "draining"
    DRAINED = "drained"


class Command(enum.StrEnum):
    """What the API can ask a worker to do, delivered in a heartbeat reply."""

    PAUSE = "pause"
    RESUME = "resume"
    DRAIN = "drain"


@dataclass(frozen=True, slots=True)
class WorkerReport:
    """What a worker says about itself when it registers or heartbeats.

    The original worker reports only ``load`` (0 idle, 1 busy); the rest keeps its defaults.
    ``load`` is the number of jobs in flight.
    """

    load: int = 0
    concurrency: int = 0
    job_types: tuple[str, ...] = ()
    queue: str = ""
    host: str = ""
    pid: int = 0
    version: str = ""
    started_at_unix: float = 0.0
    processed: int = 0
    failed: int = 0
    job_ids: tuple[str, ...] = ()
    state: WorkerState = WorkerState.ACTIVE
    broker: str = ""

    def __post_init__(self) -> None:
        for name in ("load", "concurrency", "pid", "processed", "failed"):
            if getattr(self, name) < 0:
                raise InvalidWorker(f"{name} must not be negative, got {getattr(self, name)}")
        if not math.isfinite(self.started_at_unix) or self.started_at_unix < 0:
            raise InvalidWorker(f"started_at_unix must be a time, got {self.started_at_unix}")
        for name in ("job_types", "job_ids"):
            if len(getattr(self, name)) > MAX_LIST_ITEMS:
                raise InvalidWorker(f"{name} must hold at most {MAX_LIST_ITEMS} items")

    def to_dict(self) -> dict[str, object]:
        """The report as JSON-ready values (tuples become lists)."""
        # Spelled out: dataclasses.asdict deep-copies, a cost paid on every heartbeat.
        return {
            "load": self.load,
            "concurrency": self.concurrency,
            "job_types": list(self.job_types),
            "queue": self.queue,
            "host": self.host,
            "pid": self.pid,
            "version": self.version,
            "started_at_unix": self.started_at_unix,
            "processed": self.processed,
            "failed": self.failed,
            "job_ids": list(self.job_ids),
            "state": str(self.state),
            "broker": self.broker,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkerReport:
        """The inverse of :meth:`to_dict`; missing keys take their defaults."""
        return cls(
            load=int(data.get("load", 0)),
            concurrency=int(data.get("concurrency", 0)),
            job_types=tuple(data.get("job_types", ())),
            queue=str(data.get("queue", "")),
            host=str(data.get("host", "")),
            pid=int(data.get("pid", 0)),
            version=str(data.get("version", "")),
            started_at_unix=float(data.get("started_at_unix", 0.0)),
            processed=int(data.get("processed", 0)),
            failed=int(data.get("failed", 0)),
            job_ids=tuple(data.get("job_ids", ())),
            state=WorkerState(data.get("state", WorkerState.ACTIVE)),
            broker=str(data.get("broker", "")),
        )


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """One live worker as the registry sees it: its last report and when it was heard from."""

    worker_id: str
    report: WorkerReport
    last_seen_unix: float
    registered_at_unix: float
    seen_ago_s: float
    pending_command: Command | None = None

    @property
    def state(self) -> WorkerState:
        """The state the worker last reported."""
        return self.report.state

    def to_dict(self) -> dict[str, object]:
        """Every field, flat, as JSON-ready values (what ``GET /workers`` answers)."""
        return {
            "worker_id": self.worker_id,
            **self.report.to_dict(),
            "last_seen_unix": self.last_seen_unix,
            "seen_ago_s": self.seen_ago_s,
            "registered_at_unix": self.registered_at_unix,
            "pending_command": None if self.pending_command is None else str(self.pending_command),
        }


@dataclass(frozen=True, slots=True)
class HeartbeatResult:
    """What recording a heartbeat found: whether the worker was known, and a command for it."""

    known: bool
    command: Command | None = None


def check_worker_id(worker_id: str) -> None:
    """Raise InvalidWorker unless the id is 1 to ``MAX_WORKER_ID_CHARS`` printable characters,
    none a ``/`` (see :func:`jobqueue.names.worker_id_problem`)."""
    problem = worker_id_problem(worker_id)
    if problem is not None:
        raise InvalidWorker(f"worker_id: {problem}")


def registry_full(max_workers: int) -> RegistryFull:
    """The error for a new worker past the registry's limit."""
    return RegistryFull(
        f"the worker registry holds its limit of {max_workers} workers: "
        "a new worker id is refused until one leaves or expires"
    )


class Registry(Protocol):
    """Where the API keeps the fleet: who is alive, what each reported, commands waiting."""

    @property
    def ttl_s(self) -> float:
        """Seconds of silence after which a worker is expired."""
        ...

    async def register(self, worker_id: str, report: WorkerReport) -> bool:
        """Record the worker as seen now with ``report``; True when it was not known before.

        Registering a known worker refreshes it and keeps its registration time and any waiting
        command. Raises InvalidWorker for a bad id, RegistryFull for a new id when
        ``max_workers`` live workers are registered.
        """
        ...

    async def heartbeat(self, worker_id: str, report: WorkerReport) -> HeartbeatResult:
        """Record the worker as seen now with ``report``, and take the command waiting for it.

        An unknown id is registered (``known`` is False in the result). The command returned
        is removed, so the next heartbeat does not get it again. Raises InvalidWorker for a bad
        id, RegistryFull as :meth:`register` does.
        """
        ...

    async def deregister(self, worker_id: str, drained: bool = False) -> bool:
        """Forget the worker and any command waiting for it; True when it was known.

        With ``drained``, keep listing it in state ``drained`` (no load, no jobs) for
        ``DRAINED_KEEP_S``, taking no commands.
        """
        ...

    async def get(self, worker_id: str) -> WorkerInfo | None:
        """The live worker with this id, or None (unknown or expired)."""
        ...

    async def workers(self, after: str = "", limit: int | None = None) -> list[WorkerInfo]:
        """The live workers whose id sorts after ``after`` (every one for ``""``), ordered by
        id, at most ``limit`` (None: no limit); expired ones are never included."""
        ...

    async def send_command(self, worker_id: str, command: Command) -> bool:
        """Leave ``command`` for the worker's next heartbeat; False when it is not live (or
        drained).

        A command already waiting is replaced: the last one sent wins.
        """
        ...

    async def sweep(self) -> int:
        """Remove expired workers and their waiting commands; how many were removed."""
        ...

    async def close(self) -> None:
        """Release connections; the registry is not used afterwards."""
        ...


def from_url(
    url: str = "", ttl_s: float = WORKER_TTL_S, max_workers: int = MAX_WORKERS
) -> Registry:
    """Build the registry a URL names: empty or ``memory://`` in process, ``redis://`` shared;
    it holds at most ``max_workers`` live workers."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else url.lower()
    if scheme in ("", "memory"):
        from jobqueue.registry.memory import InMemoryRegistry

        return InMemoryRegistry(ttl_s=ttl_s, max_workers=max_workers)
    if scheme in ("redis", "rediss", "unix"):
        from jobqueue.registry.redis import RedisRegistry

        return RedisRegistry.from_url(url, ttl_s=ttl_s, max_workers=max_workers)
    raise ConfigError(
        f"unsupported registry URL {redact_url(url)!r}: use redis://host:port/db or leave it empty"
    )


def drained_report(report: WorkerReport) -> WorkerReport:
    """What a drained worker's entry shows: its last report, idle, in state ``drained``."""
    return dataclasses.replace(report, state=WorkerState.DRAINED, load=0, job_ids=())
