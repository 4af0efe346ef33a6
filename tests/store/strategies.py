"""Hypothesis strategies for job histories: valid lives of a job, delivered in any order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from jobqueue.job import Job
from jobqueue.store.events import EventKind, JobEvent
from jobqueue.testing.store import at_attempt, event, full_history

T0 = datetime(2030, 1, 1, tzinfo=UTC)
JOB = Job("email", {"to": "a@b.c"}, id="job-1", max_attempts=5, created_at="2030-01-01T00:00:00Z")


def seconds(n: float) -> datetime:
    """``n`` seconds after :data:`T0`."""
    return T0 + timedelta(seconds=n)


@st.composite
def histories(draw: st.DrawFn) -> list[JobEvent]:
    """A valid history: some retried attempts, then success, death or cancellation."""
    failures = draw(st.integers(min_value=0, max_value=3))
    ending = draw(st.sampled_from(["succeeded", "dead", "cancelled"]))
    start = seconds(draw(st.integers(min_value=0, max_value=1000)))
    if ending != "cancelled":
        return full_history(JOB, failures, ending, start)
    history = full_history(JOB, failures, "succeeded", start)[:-1]
    stop = event(at_attempt(JOB, failures), EventKind.CANCELLED, history[-1].at + timedelta(1))
    return [*history, stop]


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[JobEvent], list[JobEvent]]:
    """A history so far (maybe unfinished), and its events shuffled, some delivered twice."""
    history = draw(histories())
    history = history[: draw(st.integers(min_value=1, max_value=len(history)))]
    repeats = draw(st.lists(st.sampled_from(history), max_size=len(history)))
    delivered = draw(st.permutations(history + repeats))
    return history, delivered
