"""The retry policy: capped exponential backoff with equal jitter."""

from __future__ import annotations

import random

import pytest

from jobqueue.errors import ConfigError
from jobqueue.worker.backoff import RetryPolicy


def test_ceilings_double_per_attempt_until_the_cap() -> None:
    policy = RetryPolicy(base_s=1.0, cap_s=10.0)
    assert [policy.ceiling_s(n) for n in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_each_delay_lies_between_half_its_ceiling_and_its_ceiling() -> None:
    policy = RetryPolicy(base_s=0.5, cap_s=60.0, rng=random.Random(7))
    for attempt in range(12):
        ceiling = policy.ceiling_s(attempt)
        for _ in range(50):
            assert ceiling / 2 <= policy.delay_s(attempt) <= ceiling


def test_below_the_cap_each_delay_is_at_least_the_longest_one_before_it() -> None:
    policy = RetryPolicy(base_s=0.1, cap_s=1000.0, rng=random.Random(1))
    for attempt in range(10):
        assert policy.delay_s(attempt + 1) >= policy.ceiling_s(attempt)


def test_jitter_spreads_the_delays_of_one_attempt() -> None:
    policy = RetryPolicy(base_s=1.0, cap_s=60.0, rng=random.Random(3))
    assert len({policy.delay_s(4) for _ in range(20)}) > 1


def test_a_huge_attempt_number_gets_the_cap_not_an_overflow() -> None:
    assert RetryPolicy(base_s=1.0, cap_s=30.0).ceiling_s(5000) == 30.0


@pytest.mark.parametrize(("base_s", "cap_s"), [(0.0, 1.0), (-1.0, 1.0), (2.0, 1.0)])
def test_a_bad_policy_is_a_config_error(base_s: float, cap_s: float) -> None:
    with pytest.raises(ConfigError):
        RetryPolicy(base_s=base_s, cap_s=cap_s)
