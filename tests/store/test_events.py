"""The event rules: positions, the merge, the wire form, and order-independence (hypothesis)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobqueue.errors import DecodeError
from jobqueue.job import JobState
from jobqueue.store import JobRecord
from jobqueue.store import events as ev
from jobqueue.store.events import EventKind, JobEvent
from jobqueue.testing.store import at_attempt, attempt_events, event, full_history
from tests.store.strategies import JOB, T0, deliveries, seconds


def final(history: list[JobEvent]) -> ev.Tracked:
    state = ev.fold(history)
    assert state is not None
    return state


def test_positions_order_phases_within_an_attempt_and_attempts_before_finals() -> None:
    order = [
        ev.rank(EventKind.RUNNING, 0),
        ev.rank(EventKind.PROGRESS, 0),
        ev.rank(EventKind.FAILED_ATTEMPT, 0),
        ev.rank(EventKind.RETRYING, 0),
        ev.rank(EventKind.RUNNING, 1),
        ev.rank(EventKind.RETRYING, 10**9),
        ev.rank(EventKind.SUCCEEDED, 0),
    ]
    assert order == sorted(order)
    assert len(set(order)) == len(order)
    assert ev.rank(EventKind.RUNNING, 0) > ev.QUEUED_RANK
    for kind in ev.TERMINAL_KINDS:
        assert ev.rank(kind, 3) == ev.TERMINAL_RANK


def test_an_event_round_trips_through_its_wire_form() -> None:
    item = ev.retrying(JOB, "w1", seconds(30), error="boom")
    assert JobEvent.from_wire(item.to_wire()) == item
    assert ev.decode_events(ev.encode_events([item, item])) == [item, item]


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"{}",
        b"[1]",
        b'[{"event_id": "e"}]',
        b'[{"event_id": "e", "job_id": "j", '
        b'"kind": "exploded", "attempt": 0, "at": "2030-01-01T00:00:00Z", "job_type": "t"}]',
    ],
)
def test_a_malformed_event_batch_is_a_decode_error(body: bytes) -> None:
    with pytest.raises(DecodeError):
        ev.decode_events(body)


def test_an_event_needs_an_aware_time_and_a_sane_attempt() -> None:
    good = ev.running(JOB, "w1")
    with pytest.raises(ValueError, match="timezone"):
        dataclasses.replace(good, at=datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="attempt"):
        dataclasses.replace(good, attempt=-1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        ev.progress(JOB, "w1", 1.5)


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        (EventKind.PROGRESS, {}),
        (EventKind.PROGRESS, {"fraction": "half"}),
        (EventKind.PROGRESS, {"fraction": True}),
        (EventKind.PROGRESS, {"fraction": -0.1}),
        (EventKind.PROGRESS, {"fraction": 0.5, "message": 7}),
        (EventKind.RETRYING, {"next_attempt_at": "tomorrow"}),
        (EventKind.RETRYING, {"next_attempt_at": 1700000000}),
    ],
)
def test_an_event_whose_data_cannot_be_applied_is_refused(
    kind: EventKind, data: dict[str, object]
) -> None:
    with pytest.raises(ValueError, match=r"fraction|message|next_attempt_at|between|isoformat"):
        event(JOB, kind, T0, **data)
    wire = event(JOB, EventKind.RUNNING, T0).to_wire() | {"kind": kind.value, "data": data}
    with pytest.raises(DecodeError):
        JobEvent.from_wire(wire)


def test_the_store_kinds_cannot_be_folded() -> None:
    with pytest.raises(ValueError, match="written by the store"):
        ev.initial(event(JOB, EventKind.QUEUED, T0))


def test_a_history_to_success_ends_succeeded_with_result_and_last_error() -> None:
    state = final(full_history(JOB, failures=2, final="succeeded", start=T0))
    assert state.state is JobState.SUCCEEDED
    assert (state.attempts, state.result, state.error) == (3, {"attempt": 2}, "boom 1")
    assert state.started_at == T0
    assert state.next_attempt_at is None
    assert state.finished_at is not None


def test_a_retrying_job_shows_when_it_runs_next() -> None:
    state = final(attempt_events(JOB, 0, T0, "retrying"))
    assert state.state is JobState.RETRYING
    assert state.next_attempt_at == T0 + timedelta(milliseconds=50, seconds=1)
    assert state.progress == 0.5


def test_a_death_keeps_the_error_that_exhausted_the_attempts() -> None:
    state = final(full_history(JOB, failures=1, final="dead", start=T0))
    assert (state.state, state.error, state.attempts) == (JobState.DEAD, "boom 1", 2)


def test_a_death_without_a_run_shows_its_reason_and_counts_no_attempt() -> None:
    state = final([ev.dead(JOB, "w1", "unknown_type")])
    assert (state.state, state.error, state.attempts) == (JobState.DEAD, "unknown_type", 0)


def test_a_death_with_its_own_error_shows_that_error() -> None:
    history = [*attempt_events(JOB, 0, T0, "dead")[:-1], ev.dead(JOB, "w1", "rejected", "nope")]
    assert final(history).error == "nope"


def test_the_first_final_state_is_never_left() -> None:
    cancelled = event(JOB, EventKind.CANCELLED, seconds(1), reason="requested")
    succeeded = event(JOB, EventKind.SUCCEEDED, seconds(2), result=1)
    state = final([cancelled, succeeded])
    assert (state.state, state.result, state.finished_at) == (JobState.CANCELLED, None, seconds(1))


def test_a_newer_attempt_hides_the_progress_of_an_older_one() -> None:
    first = attempt_events(JOB, 0, T0, "retrying")
    rerun = event(at_attempt(JOB, 1), EventKind.RUNNING, seconds(5))
    assert final([*first, rerun]).progress is None
    assert final([rerun, *first]).progress is None


def test_the_latest_progress_report_of_an_attempt_wins_whatever_the_order() -> None:
    history = attempt_events(JOB, 0, T0, "succeeded")
    assert final(history).progress_message == "half of 0"
    assert final(history[::-1]).progress_message == "half of 0"


def test_a_redelivered_attempt_moves_the_job_to_the_newer_worker() -> None:
    first = event(JOB, EventKind.RUNNING, seconds(1), worker="crashed")
    second = event(JOB, EventKind.RUNNING, seconds(9), worker="w2")
    assert final([first, second]).worker_id == "w2"
    assert final([second, first]).worker_id == "w2"


def test_a_duplicate_event_id_is_folded_once() -> None:
    history = attempt_events(JOB, 0, T0, "retrying")
    assert final(history + history) == final(history)


def test_events_fold_onto_a_queued_job() -> None:
    start = ev.queued(T0 - timedelta(seconds=1))
    history = attempt_events(JOB, 0, T0, "succeeded")
    state = ev.fold(history, start)
    assert state is not None
    assert state.state is JobState.SUCCEEDED
    assert ev.fold([], start) == start


@settings(max_examples=300, deadline=None, database=None)
@given(deliveries())
def test_any_delivery_order_with_duplicates_gives_the_in_order_state(
    case: tuple[list[JobEvent], list[JobEvent]],
) -> None:
    history, delivered = case
    assert ev.fold(delivered) == ev.fold(history)


@settings(max_examples=300, deadline=None, database=None)
@given(deliveries(), st.lists(st.integers(min_value=1, max_value=5), min_size=1))
def test_folding_batches_first_then_merging_them_gives_the_same_state(
    case: tuple[list[JobEvent], list[JobEvent]], sizes: list[int]
) -> None:
    """What the SQL store does: fold each batch's new events, then merge into the stored row."""
    history, delivered = case
    stored = ev.queued(T0 - timedelta(seconds=1))
    seen: set[str] = set()
    position = 0
    while position < len(delivered):
        size = sizes[position % len(sizes)]
        batch = [e for e in delivered[position : position + size] if e.event_id not in seen]
        seen.update(e.event_id for e in batch)
        position += size
        proposed = ev.fold(batch)
        if proposed is not None:
            stored = ev.merge(stored, proposed)
    assert stored == ev.fold(history, ev.queued(T0 - timedelta(seconds=1)))


def test_a_record_reads_as_json_with_the_jobs_wire_fields_first() -> None:
    record = JobRecord(
        id="j",
        type="email",
        state=JobState.SUCCEEDED,
        attempts=1,
        max_attempts=3,
        created_at=T0,
        updated_at=seconds(2),
        started_at=seconds(1),
        finished_at=seconds(2),
        worker_id="w1",
        progress=1.0,
        progress_message="done",
        result={"big": 2**70},
        error=None,
        next_attempt_at=None,
        cancel_requested=False,
        idempotency_key="k",
        payload={"to": "a@b.c"},
    )
    wire = record.to_wire()
    assert list(wire)[:4] == ["id", "type", "payload", "attempts"]
    assert wire["state"] == "succeeded"
    assert wire["finished_at"] == "2030-01-01T00:00:02.000000Z"
    assert wire["result"] == {"big": 2**70}
    assert wire["next_attempt_at"] is None
    assert record.finished
