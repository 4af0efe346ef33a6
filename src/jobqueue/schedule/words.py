"""A cron expression in words, for the common forms (``0 6 * * 1-5``: "every weekday at 06:00");
None for the others, which the dashboard then shows as they are."""

from __future__ import annotations

import re

DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_DAY_NAMES = {name[:3].lower(): index for index, name in enumerate(DAYS)}
_NUMBER = re.compile(r"^\d{1,2}$")
_STEP = re.compile(r"^\*/(\d{1,2})$")
ALIASES = {
    "@hourly": "every hour",
    "@daily": "every day at 00:00",
    "@midnight": "every day at 00:00",
    "@weekly": "every Sunday at 00:00",
    "@monthly": "on day 1 of every month at 00:00",
    "@yearly": "every year on 1 January at 00:00",
    "@annually": "every year on 1 January at 00:00",
}


def describe(expression: str) -> str | None:
    """``expression`` in words, or None when it is not one of the forms known here."""
    text = " ".join(expression.split()).lower()
    if text in ALIASES:
        return ALIASES[text]
    fields = text.split(" ")
    if len(fields) == 6:
        return _with_seconds(fields)
    if len(fields) != 5:
        return None
    return _every(fields) or _at_a_time(fields)


def _plural(count: str, unit: str) -> str:
    return f"every {unit}" if int(count) == 1 else f"every {int(count)} {unit}s"


def _with_seconds(fields: list[str]) -> str | None:
    if fields[:5] != ["*"] * 5:
        return None
    if fields[5] == "*":
        return "every second"
    step = _STEP.match(fields[5])
    return _plural(step.group(1), "second") if step else None


def _every(fields: list[str]) -> str | None:
    minute, hour, rest = fields[0], fields[1], fields[2:]
    if rest != ["*", "*", "*"]:
        return None
    if minute == "*" and hour == "*":
        return "every minute"
    step = _STEP.match(minute)
    if step and hour == "*":
        return _plural(step.group(1), "minute")
    hour_step = _STEP.match(hour)
    if minute == "0" and hour_step:
        return _plural(hour_step.group(1), "hour")
    if _NUMBER.match(minute) and hour == "*":
        return f"every hour at minute {int(minute)}"
    return None


def _at_a_time(fields: list[str]) -> str | None:
    minute, hour, day, month, weekday = fields
    if not (_NUMBER.match(minute) and _NUMBER.match(hour)) or month != "*":
        return None
    at = f"at {int(hour):02d}:{int(minute):02d}"
    if day == "*" and weekday == "*":
        return f"every day {at}"
    if day == "*":
        days = _weekdays(weekday)
        return None if days is None else f"{days} {at}"
    if weekday == "*" and _NUMBER.match(day):
        return f"on day {int(day)} of every month {at}"
    return None


def _weekdays(field: str) -> str | None:
    if field in ("1-5", "mon-fri"):
        return "every weekday"
    if field in ("0,6", "6,0", "sat,sun", "sun,sat"):
        return "every Saturday and Sunday"
    names: list[str] = []
    for part in field.split(","):
        index = _day_index(part)
        if index is None:
            return None
        names.append(DAYS[index])
    if len(names) == 1:
        return f"every {names[0]}"
    return "on " + ", ".join(names[:-1]) + f" and {names[-1]}"


def _day_index(part: str) -> int | None:
    if part in _DAY_NAMES:
        return _DAY_NAMES[part]
    if _NUMBER.match(part) and int(part) <= 7:
        return int(part) % 7
    return None
