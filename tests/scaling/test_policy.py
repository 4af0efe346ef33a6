"""The cool-down policy: up at once, down only after a whole cool-down below, a step at a time,
never below the peak of the window."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobqueue.errors import ConfigError
from jobqueue.scaling import ScalePolicy


def test_scaling_up_is_at_once() -> None:
    policy = ScalePolicy(cooldown_s=60)
    assert policy.target(0.0, current=1, desired=4) == 4


def test_scaling_down_waits_a_whole_cool_down_after_the_last_higher_demand() -> None:
    policy = ScalePolicy(cooldown_s=10)
    assert policy.target(0.0, current=4, desired=4) == 4
    assert policy.target(5.0, current=4, desired=1) == 4
    assert policy.target(10.0, current=4, desired=1) == 4  # the demand of 0 s is in the window
    assert policy.target(10.5, current=4, desired=1) == 3


def test_a_new_policy_watches_a_whole_window_before_it_scales_down() -> None:
    policy = ScalePolicy(cooldown_s=10)
    assert policy.target(100.0, current=4, desired=1) == 4
    assert policy.target(109.0, current=4, desired=1) == 4
    assert policy.target(110.0, current=4, desired=1) == 3


def test_scaling_down_goes_a_step_at_a_time() -> None:
    policy = ScalePolicy(cooldown_s=0, down_step=1)
    assert policy.target(0.0, current=5, desired=1) == 4
    assert policy.target(1.0, current=4, desired=1) == 3


def test_a_bigger_step_stops_at_the_windows_peak() -> None:
    policy = ScalePolicy(cooldown_s=10, down_step=5)
    policy.target(0.0, current=6, desired=6)
    policy.target(5.0, current=6, desired=3)
    assert policy.target(12.0, current=6, desired=1) == 3  # 3 was asked for 7 s ago
    assert policy.target(16.0, current=3, desired=1) == 1


def test_a_burst_inside_the_cool_down_restarts_it() -> None:
    policy = ScalePolicy(cooldown_s=10)
    policy.target(0.0, current=2, desired=1)
    policy.target(8.0, current=2, desired=2)
    assert policy.target(12.0, current=2, desired=1) == 2
    assert policy.target(18.5, current=2, desired=1) == 1


@pytest.mark.parametrize("fields", [{"cooldown_s": -1.0}, {"down_step": 0}])
def test_nonsense_settings_are_refused(fields: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        ScalePolicy(**fields)  # type: ignore[arg-type]


steps = st.lists(
    st.tuples(st.floats(min_value=0, max_value=30), st.integers(min_value=0, max_value=20)),
    min_size=1,
    max_size=60,
)


@given(steps, st.floats(min_value=0, max_value=60), st.integers(min_value=1, max_value=5))
def test_the_fleet_never_shrinks_below_a_demand_of_the_last_cool_down(
    gaps: list[tuple[float, int]], cooldown_s: float, down_step: int
) -> None:
    policy = ScalePolicy(cooldown_s=cooldown_s, down_step=down_step)
    now, current, seen = 0.0, 1, []
    for gap, desired in gaps:
        now += gap
        seen.append((now, desired))
        target = policy.target(now, current, desired)
        recent = [wanted for at, wanted in seen if at >= now - cooldown_s]
        assert target >= desired
        if target < current:
            assert target >= max(recent)
            assert current - target <= down_step
        else:
            assert target in (current, desired)
        current = target
