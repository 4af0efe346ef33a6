"""Cron expressions in a time zone: parsing (croniter) and the ticks they make, DST included.

Accepted: the standard five fields (minute hour day-of-month month day-of-week), an optional
sixth field of seconds *after* them (croniter's order: ``*/10 * * * * *`` is every ten
seconds), and the aliases ``@yearly`` (``@annually``), ``@monthly``, ``@weekly``, ``@daily``
(``@midnight``) and ``@hourly``.

Ticks are computed on the wall clock of the schedule's zone, with these rules for daylight
saving time (croniter's own for the gap, ours for the repeat, as Vixie cron does):

* spring forward: a wall time that does not exist that day (02:30 in Europe/Berlin on the last
  Sunday of March) fires once, at the first instant after the gap (03:00 local);
* autumn back: a wall time that happens twice (02:30 on the last Sunday of October) fires once,
  at its first occurrence, unless the hour field is ``*``: a schedule that fires every hour
  (or more often) fires by the real clock, in both passes of the repeated hour.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from jobqueue.errors import InvalidSchedule

ALIASES = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
MAX_EXPRESSION_LENGTH = 200
MAX_ZONE_LENGTH = 64
_FAR_S = 5 * 366 * 24 * 3600  # a schedule that never fires within five years is refused


def zone_of(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (``Europe/Berlin``, ``UTC``); :class:`InvalidSchedule` else."""
    if not name or len(name) > MAX_ZONE_LENGTH or name.startswith(("/", ".")) or ".." in name:
        raise InvalidSchedule(f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidSchedule(f"unknown time zone {name!r}") from None


@dataclass(frozen=True, slots=True)
class Cron:
    """A validated cron expression and its zone; :meth:`parse` builds one."""

    expression: str
    zone: str
    _tz: ZoneInfo = field(repr=False, compare=False)
    _wall_clock: bool = field(repr=False, compare=False)

    @classmethod
    def parse(cls, expression: str, zone: str = "UTC") -> Cron:
        """Check ``expression`` and ``zone``; :class:`InvalidSchedule` naming what is wrong."""
        text = " ".join(expression.split())
        tz = zone_of(zone)
        _check_expression(text, expression)
        fields = text.split(" ")
        wall_clock = not (len(fields) >= 5 and fields[1] == "*") and text.lower() != "@hourly"
        cron = cls(text, zone, tz, wall_clock)
        if cron.next_after(datetime.now(UTC)) is None:
            raise InvalidSchedule(f"cron expression {expression!r} never fires")
        return cron

    @property
    def has_seconds(self) -> bool:
        """Whether the expression has the sixth field, of seconds."""
        return len(self.expression.split(" ")) == 6

    def next_after(self, moment: datetime) -> datetime | None:
        """The first tick strictly after ``moment`` (aware UTC), or None within five years."""
        return next(self.ticks_after(moment), None)

    def next_runs(self, moment: datetime, count: int) -> list[datetime]:
        """The next ``count`` ticks after ``moment``."""
        runs: list[datetime] = []
        if count <= 0:
            return runs
        for tick in self.ticks_after(moment):
            runs.append(tick)
            if len(runs) >= count:
                break
        return runs

    def ticks_after(self, moment: datetime) -> Iterator[datetime]:
        """Every tick after ``moment``, in order, as aware UTC datetimes (DST rules above)."""
        start = moment.astimezone(self._tz)
        horizon = moment + timedelta(seconds=_FAR_S)
        it = croniter(self.expression, start)
        previous: datetime | None = None
        while True:
            try:
                local: datetime = it.get_next(datetime)
            except CroniterBadDateError:  # no such date in croniter's search range
                return
            tick = local.astimezone(UTC)
            if tick > horizon:
                return
            if tick <= moment or (previous is not None and tick <= previous):
                continue
            if self._wall_clock and _is_second_pass(local, self._tz):
                continue
            previous = tick
            yield tick

    def last_at_or_before(self, moment: datetime) -> datetime | None:
        """The latest tick at or before ``moment`` (within five years), by the same rules."""
        start = (moment + timedelta(microseconds=1)).astimezone(self._tz)
        floor = moment - timedelta(seconds=_FAR_S)
        it = croniter(self.expression, start)
        while True:
            try:
                local: datetime = it.get_prev(datetime)
            except CroniterBadDateError:
                return None
            tick = local.astimezone(UTC)
            if tick < floor:
                return None
            if tick <= moment and not (self._wall_clock and _is_second_pass(local, self._tz)):
                return tick


def _check_expression(text: str, given: str) -> None:
    if not text or len(given) > MAX_EXPRESSION_LENGTH:
        raise InvalidSchedule(f"invalid cron expression {given!r}: empty or too long")
    if text.startswith("@"):
        if text.lower() not in ALIASES:
            known = ", ".join(sorted(ALIASES))
            raise InvalidSchedule(f"invalid cron expression {given!r}: the aliases are {known}")
        return
    count = len(text.split(" "))
    if count not in (5, 6):
        raise InvalidSchedule(
            f"invalid cron expression {given!r}: it has {count} fields, not 5 "
            "(minute hour day month weekday) or 6 (with seconds last)"
        )
    if not croniter.is_valid(text):
        raise InvalidSchedule(f"invalid cron expression {given!r}")


def _is_second_pass(local: datetime, tz: ZoneInfo) -> bool:
    """Whether ``local`` is the second occurrence of a wall time the clock went back over."""
    wall = local.replace(tzinfo=None)
    first = wall.replace(fold=0).replace(tzinfo=tz)
    second = wall.replace(fold=1).replace(tzinfo=tz)
    if first.utcoffset() == second.utcoffset():
        return False
    return local.utcoffset() == second.utcoffset()
