"""The scaling rule: enough slots for the running jobs and the backlog's drain, one more when a
job waits too long, never outside the bounds."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobqueue.errors import ConfigError
from jobqueue.scaling import Bounds, ScalingInputs, ScalingRule, decide
from jobqueue.scaling.rule import mean_run_s

RULE = ScalingRule(target_drain_s=30.0, max_wait_s=30.0)
WIDE = Bounds(0, 1_000_000)


def inputs(**given: float | int | None) -> ScalingInputs:
    """Inputs of an idle queue with two workers of concurrency 4, changed by ``given``."""
    fields: dict[str, float | int | None] = {
        "depth": 0,
        "oldest_ready_age_s": 0.0,
        "throughput_per_s": 0.0,
        "in_flight": 0,
        "workers": 2,
        "concurrency": 4,
        **given,
    }
    return ScalingInputs(**fields)  # type: ignore[arg-type]


def test_an_idle_queue_wants_the_minimum() -> None:
    assert decide(inputs(), Bounds(1, 8), RULE).desired == 1
    assert decide(inputs(), Bounds(0, 8), RULE).desired == 0
    assert decide(inputs(), Bounds(0, 8), RULE).reason == "idle"


def test_running_jobs_keep_the_workers_that_run_them() -> None:
    busy = inputs(in_flight=8, throughput_per_s=4.0)
    assert decide(busy, WIDE, RULE).desired == 2  # 8 slots of 4


def test_a_backlog_of_slow_jobs_with_no_pace_yet_counts_a_slot_per_job() -> None:
    burst = inputs(depth=30, in_flight=4, workers=1, throughput_per_s=0.0)
    assert decide(burst, WIDE, RULE).desired == math.ceil(34 / 4)
    assert decide(burst, Bounds(1, 4), RULE).desired == 4
    assert decide(burst, Bounds(1, 4), RULE).reason == "backlog; held at max 4"


def test_the_backlog_is_drained_within_the_target_at_the_fleets_pace() -> None:
    # 8 running, 2 jobs/s finished: a job takes 4 s; 300 ready within 30 s is 40 more slots
    fleet = inputs(depth=300, in_flight=8, throughput_per_s=2.0)
    assert decide(fleet, WIDE, RULE).desired == (8 + 300 * 4 // 30) // 4


def test_fast_jobs_need_few_workers_however_many_wait() -> None:
    fast = inputs(depth=1000, in_flight=4, throughput_per_s=2000.0)  # 2 ms a job
    assert decide(fast, WIDE, RULE).desired == 1  # 1000 * 0.002 / 30 of a slot rounds to none


def test_a_job_waiting_too_long_asks_for_one_more_worker_than_now() -> None:
    late = inputs(depth=1, in_flight=8, workers=3, throughput_per_s=100.0, oldest_ready_age_s=31.0)
    decision = decide(late, WIDE, RULE)
    assert decision.desired == 4
    assert decision.reason == "oldest ready job waited 31.0s > 30s"


def test_the_age_rule_needs_a_job_that_is_ready() -> None:
    assert decide(inputs(oldest_ready_age_s=500.0), Bounds(1, 8), RULE).desired == 1


def test_unknown_figures_are_read_as_slow_jobs() -> None:
    unknown = inputs(depth=5, throughput_per_s=None, oldest_ready_age_s=None, workers=0)
    assert decide(unknown, WIDE, RULE).desired == 2  # 5 slots of 4


def test_the_mean_run_time_is_littles_law_or_unknown() -> None:
    assert mean_run_s(inputs(in_flight=8, throughput_per_s=2.0)) == 4.0
    assert mean_run_s(inputs(in_flight=8, throughput_per_s=0.0)) is None
    assert mean_run_s(inputs(in_flight=0, throughput_per_s=3.0)) is None
    assert mean_run_s(inputs(in_flight=1, throughput_per_s=None)) is None


@pytest.mark.parametrize(
    "fields",
    [{"depth": -1}, {"in_flight": -1}, {"workers": -1}, {"concurrency": 0}],
)
def test_impossible_inputs_are_refused(fields: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        inputs(**fields)


@pytest.mark.parametrize("fields", [{"target_drain_s": 0.0}, {"max_wait_s": -1.0}])
def test_a_rule_without_positive_times_is_refused(fields: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        ScalingRule(**fields)


counts = st.integers(min_value=0, max_value=10_000)
maybe_seconds = st.none() | st.floats(min_value=0, max_value=1e6, allow_nan=False)
maybe_pace = st.none() | st.floats(min_value=0, max_value=1e6, allow_nan=False)
any_inputs = st.builds(
    ScalingInputs,
    depth=counts,
    oldest_ready_age_s=maybe_seconds,
    throughput_per_s=maybe_pace,
    in_flight=counts,
    workers=st.integers(min_value=0, max_value=500),
    concurrency=st.integers(min_value=1, max_value=256),
)
any_bounds = st.tuples(st.integers(0, 50), st.integers(1, 500)).map(
    lambda pair: Bounds(min(pair), max(pair[1], pair[0], 1))
)
any_rule = st.builds(
    ScalingRule,
    target_drain_s=st.floats(min_value=0.1, max_value=3600),
    max_wait_s=st.floats(min_value=0.1, max_value=3600),
)


@given(any_inputs, any_bounds, any_rule)
def test_the_answer_is_always_within_the_bounds(
    given_inputs: ScalingInputs, bounds: Bounds, rule: ScalingRule
) -> None:
    assert bounds.min <= decide(given_inputs, bounds, rule).desired <= bounds.max


@given(any_inputs, any_rule)
def test_never_more_workers_than_the_jobs_there_fill_unless_one_waits_too_long(
    given_inputs: ScalingInputs, rule: ScalingRule
) -> None:
    jobs = given_inputs.depth + given_inputs.in_flight
    most = math.ceil(jobs / given_inputs.concurrency)
    if given_inputs.depth and (given_inputs.oldest_ready_age_s or 0) > rule.max_wait_s:
        most = max(most, given_inputs.workers + 1)
    assert decide(given_inputs, WIDE, rule).desired <= most


@given(any_inputs, any_rule)
def test_work_waiting_or_running_always_wants_a_worker(
    given_inputs: ScalingInputs, rule: ScalingRule
) -> None:
    desired = decide(given_inputs, WIDE, rule).desired
    assert (desired >= 1) == bool(given_inputs.depth or given_inputs.in_flight)


@given(any_inputs, any_rule, st.integers(min_value=1, max_value=1000))
def test_more_ready_jobs_never_want_fewer_workers(
    given_inputs: ScalingInputs, rule: ScalingRule, more: int
) -> None:
    deeper = ScalingInputs(
        **{**_fields(given_inputs), "depth": given_inputs.depth + more}  # type: ignore[arg-type]
    )
    assert decide(deeper, WIDE, rule).desired >= decide(given_inputs, WIDE, rule).desired


@given(any_inputs, any_rule, st.floats(min_value=0, max_value=1e6))
def test_an_older_oldest_job_never_wants_fewer_workers(
    given_inputs: ScalingInputs, rule: ScalingRule, later_s: float
) -> None:
    age = (given_inputs.oldest_ready_age_s or 0.0) + later_s
    older = ScalingInputs(**{**_fields(given_inputs), "oldest_ready_age_s": age})  # type: ignore[arg-type]
    assert decide(older, WIDE, rule).desired >= decide(given_inputs, WIDE, rule).desired


@given(any_inputs, any_rule)
def test_the_running_jobs_always_keep_their_slots(
    given_inputs: ScalingInputs, rule: ScalingRule
) -> None:
    needed = math.ceil(given_inputs.in_flight / given_inputs.concurrency)
    assert decide(given_inputs, WIDE, rule).desired >= needed


def _fields(value: ScalingInputs) -> dict[str, object]:
    return {name: getattr(value, name) for name in ScalingInputs.__dataclass_fields__}
