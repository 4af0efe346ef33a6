"""Cron expressions: the five fields, the aliases, a sixth field of seconds, zones, and both
daylight saving transitions (a gap fires once after it, a repeated hour once, not twice)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobqueue.errors import InvalidSchedule
from jobqueue.schedule.expression import Cron

BERLIN = "Europe/Berlin"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def iso(moments: list[datetime]) -> list[str]:
    return [moment.strftime("%Y-%m-%d %H:%M:%S") for moment in moments]


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("@hourly", ["2026-06-01 13:00:00", "2026-06-01 14:00:00"]),
        ("@daily", ["2026-06-02 00:00:00", "2026-06-03 00:00:00"]),
        ("@weekly", ["2026-06-07 00:00:00", "2026-06-14 00:00:00"]),  # Sundays
        ("@monthly", ["2026-07-01 00:00:00", "2026-08-01 00:00:00"]),
        ("@yearly", ["2027-01-01 00:00:00", "2028-01-01 00:00:00"]),
    ],
)
def test_aliases(alias: str, expected: list[str]) -> None:
    assert iso(Cron.parse(alias).next_runs(utc(2026, 6, 1, 12, 30), 2)) == expected


def test_five_fields_and_a_sixth_of_seconds() -> None:
    weekdays = Cron.parse("0 6 * * 1-5")
    assert iso(weekdays.next_runs(utc(2026, 6, 5, 7), 2)) == [  # a Friday, after 06:00
        "2026-06-08 06:00:00",
        "2026-06-09 06:00:00",
    ]
    every_ten_s = Cron.parse("* * * * * */10")
    assert every_ten_s.has_seconds
    assert iso(every_ten_s.next_runs(utc(2026, 6, 1, 12, 0, 5), 3)) == [
        "2026-06-01 12:00:10",
        "2026-06-01 12:00:20",
        "2026-06-01 12:00:30",
    ]
    assert Cron.parse("  */15   *  * * * ").expression == "*/15 * * * *"


def test_a_zone_moves_the_ticks_by_its_offset() -> None:
    six = Cron.parse("0 6 * * *", BERLIN)
    assert iso(six.next_runs(utc(2026, 1, 10), 1)) == ["2026-01-10 05:00:00"]  # CET, UTC+1
    assert iso(six.next_runs(utc(2026, 7, 10), 1)) == ["2026-07-10 04:00:00"]  # CEST, UTC+2
    tokyo = Cron.parse("0 9 * * *", "Asia/Tokyo")
    assert iso(tokyo.next_runs(utc(2026, 7, 9, 12), 1)) == ["2026-07-10 00:00:00"]


def test_spring_forward_a_time_in_the_gap_fires_once_right_after_it() -> None:
    # 2026-03-29, the last Sunday of March: Berlin's clocks jump from 02:00 to 03:00
    daily = Cron.parse("30 2 * * *", BERLIN)
    runs = daily.next_runs(utc(2026, 3, 27, 12), 4)
    assert iso(runs) == [
        "2026-03-28 01:30:00",  # 02:30 CET
        "2026-03-29 01:00:00",  # 03:00 CEST: the first instant after the gap
        "2026-03-30 00:30:00",  # 02:30 CEST
        "2026-03-31 00:30:00",
    ]
    half_hourly_at_night = Cron.parse("*/30 1-3 * * *", BERLIN)
    night = half_hourly_at_night.next_runs(utc(2026, 3, 28, 23), 4)
    assert iso(night) == [  # 01:00, 01:30 CET, then 03:00, 03:30 CEST: 02:xx never exists
        "2026-03-29 00:00:00",
        "2026-03-29 00:30:00",
        "2026-03-29 01:00:00",
        "2026-03-29 01:30:00",
    ]


def test_autumn_back_a_repeated_time_fires_once_not_twice() -> None:
    # 2026-10-25, the last Sunday of October: 03:00 CEST becomes 02:00 CET, 02:xx happens twice
    daily = Cron.parse("30 2 * * *", BERLIN)
    runs = daily.next_runs(utc(2026, 10, 24, 12), 3)
    assert iso(runs) == [
        "2026-10-25 00:30:00",  # 02:30 CEST, the first pass; 02:30 CET (01:30 UTC) is skipped
        "2026-10-26 01:30:00",  # 02:30 CET
        "2026-10-27 01:30:00",
    ]


def test_autumn_back_a_schedule_of_every_hour_fires_by_the_real_clock() -> None:
    hourly = Cron.parse("0 * * * *", BERLIN)
    runs = hourly.next_runs(utc(2026, 10, 24, 23, 30), 4)
    assert iso(runs) == [  # 01:00 CEST, 02:00 CEST, 02:00 CET, 03:00 CET: one an hour
        "2026-10-25 00:00:00",
        "2026-10-25 01:00:00",
        "2026-10-25 02:00:00",
        "2026-10-25 03:00:00",
    ]


def test_the_latest_tick_at_or_before_a_moment() -> None:
    daily = Cron.parse("30 2 * * *", BERLIN)
    assert daily.last_at_or_before(utc(2026, 10, 25, 3)) == utc(2026, 10, 25, 0, 30)
    assert daily.last_at_or_before(utc(2026, 10, 25, 0, 30)) == utc(2026, 10, 25, 0, 30)


@pytest.mark.parametrize(
    ("expression", "zone", "named"),
    [
        ("", "UTC", "''"),
        ("* * * *", "UTC", "4 fields"),
        ("* * * * * * *", "UTC", "7 fields"),
        ("60 * * * *", "UTC", "'60 * * * *'"),
        ("* * 32 * *", "UTC", "'* * 32 * *'"),
        ("@fortnightly", "UTC", "'@fortnightly'"),
        ("0 0 30 2 *", "UTC", "never fires"),
        ("* * * * *", "Europe/Atlantis", "'Europe/Atlantis'"),
        ("* * * * *", "../../etc/passwd", "'../../etc/passwd'"),
    ],
)
def test_invalid_expressions_and_zones_are_named(expression: str, zone: str, named: str) -> None:
    with pytest.raises(InvalidSchedule, match=named.replace("*", r"\*").replace(".", r"\.")):
        Cron.parse(expression, zone)
