"""Dead jobs grouped by error fingerprint, the biggest group first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from jobqueue.brokers import Broker, DeadJob
from jobqueue.store.events import parse_time
from jobqueue.triage.fingerprint import error_message, error_type, fingerprint, masked_message

DEFAULT_SCAN = 10_000
"""Dead jobs looked at by default, oldest first."""
MAX_SCAN = 50_000
"""The most a grouping reads at once: every dead job read is held in memory, body included."""


@dataclass(frozen=True, slots=True)
class DeadGroup:
    """Dead jobs of one job type that died of the same error; the sample is the latest."""

    fingerprint: str
    job_type: str | None
    error_type: str
    message: str
    count: int
    first_seen_unix: float | None
    last_seen_unix: float | None
    sample_job_id: str
    sample_error: str | None
    sample_traceback: str | None


@dataclass(frozen=True, slots=True)
class Triaged:
    """A dead job with the parts of its fingerprint worked out."""

    dead: DeadJob
    job_type: str | None
    error_type: str
    message: str
    fingerprint: str
    failed_unix: float | None


def triaged(dead: DeadJob) -> Triaged:
    """``dead`` with its job type (None for a body that is not a job), exception type, masked
    message and fingerprint."""
    job = dead.job
    job_type = job.type if job is not None else None
    type_name = error_type(dead.death)
    message = masked_message(error_message(dead.death, type_name))
    return Triaged(
        dead,
        job_type,
        type_name,
        message,
        fingerprint(job_type or "", type_name, message),
        _unix(dead.death.failed_at),
    )


def group_dead_jobs(dead_jobs: Iterable[DeadJob]) -> list[DeadGroup]:
    """Group ``dead_jobs`` by fingerprint: the biggest group first, then the latest seen."""
    members: dict[str, list[Triaged]] = {}
    for dead in dead_jobs:
        item = triaged(dead)
        members.setdefault(item.fingerprint, []).append(item)
    groups = [_group(items) for items in members.values()]
    return sorted(groups, key=lambda g: (-g.count, -(g.last_seen_unix or 0.0), g.fingerprint))


async def dead_groups(broker: Broker, scan_limit: int = DEFAULT_SCAN) -> list[DeadGroup]:
    """The oldest ``scan_limit`` dead jobs of ``broker``, grouped."""
    return group_dead_jobs(await broker.dead_jobs(max(1, min(scan_limit, MAX_SCAN))))


def members_of(dead_jobs: Iterable[DeadJob], fingerprint_hex: str) -> list[DeadJob]:
    """The dead jobs whose fingerprint is ``fingerprint_hex``, in their order."""
    return [dead for dead in dead_jobs if triaged(dead).fingerprint == fingerprint_hex]


def _group(items: list[Triaged]) -> DeadGroup:
    times = [item.failed_unix for item in items if item.failed_unix is not None]
    latest = max(reversed(items), key=lambda item: item.failed_unix or 0.0)
    first = items[0]
    return DeadGroup(
        fingerprint=first.fingerprint,
        job_type=first.job_type,
        error_type=first.error_type,
        message=first.message,
        count=len(items),
        first_seen_unix=min(times) if times else None,
        last_seen_unix=max(times) if times else None,
        sample_job_id=latest.dead.message_id,
        sample_error=latest.dead.death.error,
        sample_traceback=latest.dead.death.traceback,
    )


def _unix(stamp: str) -> float | None:
    try:
        return parse_time(stamp).timestamp() if stamp else None
    except ValueError:
        return None
