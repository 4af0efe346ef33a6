"""``--workers`` / ``JOBQUEUE_WORKERS``: a count or MIN:MAX, and the scaling settings."""

from __future__ import annotations

import pytest

from jobqueue.errors import ConfigError
from jobqueue.scaling import Bounds, parse_workers
from jobqueue.scaling.settings import DEFAULT_BOUNDS, ScalingSettings


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3", 3), (" 2 ", 2), ("2:8", Bounds(2, 8)), ("0:4", Bounds(0, 4)), ("4:4", Bounds(4, 4))],
)
def test_a_count_is_fixed_and_min_max_are_bounds(text: str, expected: int | Bounds) -> None:
    assert parse_workers(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("4:2", "--workers '4:2': MIN is above MAX"),
        ("0:0", "--workers '0:0': MAX must be 1 to 64"),
        ("1:65", "--workers '1:65': MAX must be 1 to 64"),
        ("0", "--workers must be 1 to 64 workers, got '0'"),
        ("a:b", "--workers must be a count (3) or MIN:MAX (2:8) of whole numbers, got 'a:b'"),
        ("-1:3", "--workers must be a count (3) or MIN:MAX (2:8) of whole numbers, got '-1:3'"),
        ("1:2:3", "--workers must be a count (3) or MIN:MAX (2:8) of whole numbers, got '1:2:3'"),
        ("", "--workers must be a count (3) or MIN:MAX (2:8) of whole numbers, got ''"),
        ("٣", "--workers must be a count (3) or MIN:MAX (2:8) of whole numbers, got '٣'"),
    ],
)
def test_anything_else_is_one_line_naming_the_setting(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_workers(text)
    assert str(raised.value) == message


def test_bounds_clamp() -> None:
    assert [Bounds(1, 4).clamp(n) for n in (0, 1, 3, 9)] == [1, 1, 3, 4]
    assert str(Bounds(2, 8)) == "2:8"


def test_the_settings_come_from_the_environment() -> None:
    settings = ScalingSettings.from_env(
        {
            "JOBQUEUE_WORKERS": "2:8",
            "JOBQUEUE_SCALE_TARGET_DRAIN_S": "10",
            "JOBQUEUE_SCALE_MAX_WAIT_S": "5",
            "JOBQUEUE_SCALE_INTERVAL_S": "0.5",
            "JOBQUEUE_SCALE_COOLDOWN_S": "0",
            "JOBQUEUE_CONCURRENCY": "3",
        }
    )
    assert settings.bounds == Bounds(2, 8)
    assert (settings.rule.target_drain_s, settings.rule.max_wait_s) == (10.0, 5.0)
    assert (settings.interval_s, settings.cooldown_s, settings.concurrency) == (0.5, 0.0, 3)
    assert settings.policy().cooldown_s == 0.0


def test_a_fixed_count_leaves_the_apis_default_bounds() -> None:
    assert ScalingSettings.from_env({"JOBQUEUE_WORKERS": "3"}).bounds == DEFAULT_BOUNDS
    assert ScalingSettings.from_env({}).bounds == DEFAULT_BOUNDS


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("JOBQUEUE_SCALE_COOLDOWN_S", "soon", "JOBQUEUE_SCALE_COOLDOWN_S must be a number of"),
        ("JOBQUEUE_SCALE_INTERVAL_S", "0", "JOBQUEUE_SCALE_INTERVAL_S must be positive"),
        ("JOBQUEUE_SCALE_MAX_WAIT_S", "nan", "JOBQUEUE_SCALE_MAX_WAIT_S must be a number of"),
        ("JOBQUEUE_WORKERS", "9:1", "JOBQUEUE_WORKERS '9:1': MIN is above MAX"),
        ("JOBQUEUE_CONCURRENCY", "0", "JOBQUEUE_CONCURRENCY must be a whole number"),
    ],
)
def test_a_bad_variable_is_named(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        ScalingSettings.from_env({name: value})
