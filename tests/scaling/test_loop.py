"""The scaling loop over a pool: up at once to the decision, down a step at a time after the
cool-down, never below MIN, holding while the inputs cannot be read."""

from __future__ import annotations

from dataclasses import dataclass, field

from jobqueue.scaling import Bounds, ScalePolicy, ScalingInputs
from jobqueue.scaling.loop import Autoscaler, inputs_from


@dataclass
class Pool:
    """Counts workers; what the supervisor does with processes, without processes."""

    count: int
    retired: int = 0
    log: list[str] = field(default_factory=list)

    def serving(self) -> int:
        return self.count

    def add_worker(self) -> None:
        self.count += 1
        self.log.append("add")

    def retire_worker(self) -> None:
        self.count -= 1
        self.retired += 1
        self.log.append("retire")


@dataclass
class Clock:
    """A clock the test moves."""

    now: float = 0.0

    def __call__(self) -> float:
        return self.now


def backlog(depth: int, in_flight: int = 0) -> ScalingInputs:
    """Inputs of a queue with ``depth`` slow jobs ready (no pace yet)."""
    return ScalingInputs(depth, 0.0, 0.0, in_flight, 0, 2)


def test_a_burst_grows_the_pool_at_once_and_idleness_shrinks_it_a_step_at_a_time() -> None:
    clock, feed = Clock(), [backlog(30)]
    scaler = Autoscaler(
        Bounds(1, 4),
        lambda: feed[0],
        concurrency=2,
        policy=ScalePolicy(cooldown_s=3),
        interval_s=1,
        clock=clock,
    )
    pool = Pool(1)

    scaler.tick(pool)
    assert pool.count == 4
    feed[0] = backlog(0)
    counts = []
    for second in range(1, 9):
        clock.now = float(second)
        scaler.tick(pool)
        counts.append(pool.count)

    assert counts == [4, 4, 4, 3, 2, 1, 1, 1]  # the burst's demand leaves the window at 3 s


def test_the_loop_decides_once_per_interval() -> None:
    clock, reads = Clock(), []

    def source() -> ScalingInputs:
        reads.append(clock.now)
        return backlog(0)

    scaler = Autoscaler(Bounds(1, 4), source, concurrency=2, interval_s=5, clock=clock)
    for step in range(11):
        clock.now = step * 1.0
        scaler.tick(Pool(1))
    assert reads == [0.0, 5.0, 10.0]


def test_a_pool_below_its_minimum_is_filled_even_without_inputs() -> None:
    scaler = Autoscaler(Bounds(2, 4), lambda: None, concurrency=2, clock=Clock())
    pool = Pool(0)
    scaler.tick(pool)
    assert pool.count == 2


def test_unreadable_inputs_hold_the_count() -> None:
    scaler = Autoscaler(Bounds(1, 4), lambda: None, concurrency=2, clock=Clock())
    pool = Pool(3)
    scaler.tick(pool)
    assert (pool.count, pool.log) == (3, [])


def test_the_pools_own_count_and_concurrency_are_decided_with() -> None:
    # the API saw no worker of concurrency 8; the pool runs 2 of concurrency 1: 5 slots needed
    seen = ScalingInputs(3, 0.0, 0.0, 2, 0, 8)
    scaler = Autoscaler(Bounds(1, 10), lambda: seen, concurrency=1, clock=Clock())
    pool = Pool(2)
    scaler.tick(pool)
    assert pool.count == 5


def test_inputs_are_read_from_the_scaling_document() -> None:
    document = {
        "depth": 3,
        "oldest_ready_age_s": None,
        "throughput_per_s": 1.5,
        "in_flight": 2,
        "workers": 1,
        "concurrency": 4,
    }
    assert inputs_from(document) == ScalingInputs(3, None, 1.5, 2, 1, 4)
