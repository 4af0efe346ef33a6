"""Conversions between the control plane's protobuf messages and jobqueue's own values.

What a worker sends is checked on the way in (:func:`report_from_message`): each string has a
length limit and printable characters only, job types follow the HTTP API's rule, lists are
capped, enum values must be known; anything else is an InvalidWorker naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from jobqueue.control import worker_pb2 as pb
from jobqueue.errors import InvalidWorker
from jobqueue.names import job_type_problem, label_problem
from jobqueue.registry import Command, WorkerInfo, WorkerReport, WorkerState
from jobqueue.registry.fleet import ServedTypes
from jobqueue.worker.stats import WorkerStats

MAX_HOST_CHARS = 255
MAX_VERSION_CHARS = 64
MAX_QUEUE_CHARS = 200
MAX_BROKER_CHARS = 4096  # an embedded broker is named by its file's absolute path
MAX_JOB_ID_CHARS = 128
MAX_CURSOR_CHARS = 128
MAX_JOB_TYPES = 1000
MAX_JOB_IDS = 10_000

_ProblemOf = Callable[[str], "str | None"]

_STATE_TO_PB: dict[str, pb.WorkerState.ValueType] = {
    WorkerState.ACTIVE: pb.WORKER_STATE_ACTIVE,
    WorkerState.PAUSED: pb.WORKER_STATE_PAUSED,
    WorkerState.DRAINING: pb.WORKER_STATE_DRAINING,
    WorkerState.DRAINED: pb.WORKER_STATE_DRAINED,
}
_STATE_FROM_PB: dict[int, WorkerState] = {
    pb.WORKER_STATE_UNSPECIFIED: WorkerState.ACTIVE,  # the original worker does not say
    pb.WORKER_STATE_ACTIVE: WorkerState.ACTIVE,
    pb.WORKER_STATE_PAUSED: WorkerState.PAUSED,
    pb.WORKER_STATE_DRAINING: WorkerState.DRAINING,
    pb.WORKER_STATE_DRAINED: WorkerState.DRAINED,
}
_COMMAND_TO_PB: dict[Command | None, pb.Command.ValueType] = {
    None: pb.COMMAND_NONE,
    Command.PAUSE: pb.COMMAND_PAUSE,
    Command.RESUME: pb.COMMAND_RESUME,
    Command.DRAIN: pb.COMMAND_DRAIN,
}
_COMMAND_FROM_PB: dict[int, Command | None] = {v: k for k, v in _COMMAND_TO_PB.items()}


def details_from_stats(stats: WorkerStats) -> pb.WorkerDetails:
    """The details part of a registration or heartbeat, from what the worker reports."""
    return pb.WorkerDetails(
        concurrency=stats.concurrency,
        job_types=stats.job_types,
        queue=stats.queue,
        host=stats.host,
        pid=stats.pid,
        version=stats.version,
        started_at_unix=stats.started_at_unix,
        processed=stats.processed,
        failed=stats.failed,
        job_ids=stats.job_ids,
        state=_STATE_TO_PB.get(stats.state, pb.WORKER_STATE_UNSPECIFIED),
        broker=stats.broker,
    )


def report_from_message(load: int, details: pb.WorkerDetails) -> WorkerReport:
    """A report from a request's load and details (all defaults when the peer sent none).

    Raises InvalidWorker, naming the field, for values that break the rules (a negative load or
    count, an over-long or unprintable string, too many job types or ids, an unknown state).
    """
    check_details(details)
    return WorkerReport(
        load=load,
        concurrency=details.concurrency,
        job_types=tuple(details.job_types),
        queue=details.queue,
        host=details.host,
        pid=details.pid,
        version=details.version,
        started_at_unix=details.started_at_unix,
        processed=details.processed,
        failed=details.failed,
        job_ids=tuple(details.job_ids),
        state=_STATE_FROM_PB.get(details.state, WorkerState.ACTIVE),
        broker=details.broker,
    )


def check_details(details: pb.WorkerDetails) -> None:
    """Raise InvalidWorker naming the first field of ``details`` that breaks the rules."""
    for field, value, max_chars in (
        ("host", details.host, MAX_HOST_CHARS),
        ("version", details.version, MAX_VERSION_CHARS),
        ("queue", details.queue, MAX_QUEUE_CHARS),
        ("broker", details.broker, MAX_BROKER_CHARS),
    ):
        _check(f"details.{field}", label_problem(value, max_chars))
    _check_list("details.job_types", details.job_types, MAX_JOB_TYPES, job_type_problem)
    _check_list("details.job_ids", details.job_ids, MAX_JOB_IDS, _job_id_problem)
    if details.state not in _STATE_FROM_PB:
        raise InvalidWorker(f"details.state: unknown value {details.state}")


def check_cursor(cursor: str) -> None:
    """Raise InvalidWorker unless a heartbeat's ``cancels_cursor`` is short and printable."""
    _check("cancels_cursor", label_problem(cursor, MAX_CURSOR_CHARS))


def _check_list(field: str, values: Sequence[str], max_items: int, problem_of: _ProblemOf) -> None:
    if len(values) > max_items:
        raise InvalidWorker(f"{field}: must hold at most {max_items} items, got {len(values)}")
    for index, value in enumerate(values):
        _check(f"{field}[{index}]", problem_of(value))


def _job_id_problem(value: str) -> str | None:
    return label_problem(value, MAX_JOB_ID_CHARS, required=True)


def _check(field: str, problem: str | None) -> None:
    if problem is not None:
        raise InvalidWorker(f"{field}: {problem}")


def worker_message(info: WorkerInfo) -> pb.Worker:
    """The ``Worker`` message for a live worker; ``last_seen_unix`` in whole seconds."""
    report = info.report
    details = pb.WorkerDetails(
        concurrency=report.concurrency,
        job_types=report.job_types,
        queue=report.queue,
        host=report.host,
        pid=report.pid,
        version=report.version,
        started_at_unix=report.started_at_unix,
        processed=report.processed,
        failed=report.failed,
        job_ids=report.job_ids,
        state=_STATE_TO_PB[report.state],
        broker=report.broker,
    )
    return pb.Worker(
        worker_id=info.worker_id,
        last_seen_unix=int(info.last_seen_unix),
        load=report.load,
        details=details,
        seen_ago_s=info.seen_ago_s,
        registered_at_unix=info.registered_at_unix,
        pending_command=_COMMAND_TO_PB[info.pending_command],
        last_seen_unix_precise=info.last_seen_unix,
    )


def command_to_message(command: Command | None) -> pb.Command.ValueType:
    """The protobuf enum value for a command (``COMMAND_NONE`` for None)."""
    return _COMMAND_TO_PB[command]


def command_from_message(value: int) -> Command | None:
    """The command a reply carries, or None (none, or a value this version does not know)."""
    return _COMMAND_FROM_PB.get(value)


def fleet_message(served: ServedTypes) -> pb.FleetTypes:
    """The ``FleetTypes`` a reply carries."""
    return pb.FleetTypes(job_types=sorted(served.types), any_type=served.any_type)


def fleet_from_message(fleet: pb.FleetTypes) -> ServedTypes:
    """What a reply's ``FleetTypes`` says the fleet serves."""
    return ServedTypes(frozenset(fleet.job_types), fleet.any_type)
