"""Cron schedules: parse a cron expression in a time zone, and find its next ticks.

Five fields (minute hour day-of-month month day-of-week), or six with seconds first (for
tests and fine schedules). Each field takes ``*``, numbers, ranges ``a-b``, steps ``*/n`` or
``a-b/n``, lists ``a,b``, and names for months (JAN-DEC) and days (SUN-SAT; 0 and 7 are
Sunday); ``@hourly``, ``@daily``, ``@weekly``, ``@monthly``, ``@yearly`` too. When both
day fields are restricted, a day matches either (as in Vixie cron). Times are wall-clock
times in the schedule's IANA zone: a tick in a gap skipped by a DST change does not happen,
and a tick in a repeated hour happens once (at its first occurrence).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from turbocat_core.errors import ValidationFailed

_MONTHS: Final = {
    n: i
    for i, n in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
_DAYS: Final = {n: i for i, n in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_ALIASES: Final = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_FIELDS: Final = (  # name, low, high, names
    ("second", 0, 59, None),
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day of month", 1, 31, None),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
MAX_EXPRESSION: Final = 256
_SEARCH_DAYS: Final = 366 * 5  # enough for any satisfiable schedule (Feb 29 on a Monday...)


def _field(
    text: str, name: str, low: int, high: int, names: dict[str, int] | None
) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"{name}: bad step {step_text!r}")
            step = int(step_text)
        if body == "*":
            start, end = low, high
        else:
            first, dash, last = body.partition("-")
            start = _number(first, name, low, high, names)
            end = _number(last, name, low, high, names) if dash else (high if step_text else start)
            if end < start:
                raise ValueError(f"{name}: range {body!r} runs backwards")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _number(text: str, name: str, low: int, high: int, names: dict[str, int] | None) -> int:
    if names is not None and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ValueError(f"{name}: {text!r} is not a number")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{name}: {value} is outside {low}-{high}")
    return value


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A parsed schedule; build it with :meth:`parse`."""

    expression: str
    timezone: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(
        cls, expression: str, timezone: str = "UTC", field: str = "schedule_cron"
    ) -> CronSchedule:
        """``ValidationFailed`` naming ``field`` (or ``schedule_timezone``) when it is wrong."""
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationFailed.field(
                "schedule_timezone", f"{timezone!r} is not an IANA time zone (e.g. Europe/Paris)"
            ) from None
        text = " ".join(expression.split())
        if len(text) > MAX_EXPRESSION:
            raise ValidationFailed.field(field, "is too long")
        parts = _ALIASES.get(text.lower(), text).split(" ")
        if len(parts) == 5:
            parts = ["0", *parts]
        if len(parts) != 6:
            raise ValidationFailed.field(
                field, "needs 5 fields (minute hour day month weekday), or 6 with seconds first"
            )
        try:
            values = [_field(part, *spec) for part, spec in zip(parts, _FIELDS, strict=True)]
        except ValueError as error:
            raise ValidationFailed.field(field, f"{expression!r}: {error}") from None
        weekdays = frozenset(0 if day == 7 else day for day in values[5])
        schedule = cls(
            expression=expression,
            timezone=timezone,
            seconds=values[0],
            minutes=values[1],
            hours=values[2],
            days=values[3],
            months=values[4],
            weekdays=weekdays,
            any_day=parts[3] == "*",
            any_weekday=parts[5] == "*",
        )
        if schedule.next_after(datetime(2000, 1, 1, tzinfo=UTC)) is None:
            raise ValidationFailed.field(field, f"{expression!r} never happens")
        return schedule

    def _day_matches(self, day: datetime) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.any_day and self.any_weekday:
            return True
        if self.any_day:
            return in_week
        if self.any_weekday:
            return in_month
        return in_month or in_week

    def next_after(self, moment: datetime) -> datetime | None:
        """The first tick strictly after ``moment`` (aware), in UTC; ``None`` if it never comes."""
        zone = ZoneInfo(self.timezone)
        local = moment.astimezone(zone).replace(microsecond=0, tzinfo=None) + timedelta(seconds=1)
        day = local.replace(hour=0, minute=0, second=0)
        start: datetime | None = local
        for _ in range(_SEARCH_DAYS):
            if self._day_matches(day):
                for candidate in self._times(day, start):
                    tick = _resolve(candidate, zone)
                    if tick is not None and tick > moment:
                        return tick
            day += timedelta(days=1)
            start = None
        return None

    def _times(self, day: datetime, start: datetime | None) -> Iterator[datetime]:
        """The day's times in order, from ``start`` (its time of day) when given."""
        for hour in sorted(self.hours):
            if start is not None and hour < start.hour:
                continue
            same_hour = start is not None and hour == start.hour
            for minute in sorted(self.minutes):
                if same_hour and start is not None and minute < start.minute:
                    continue
                same_minute = same_hour and start is not None and minute == start.minute
                for second in sorted(self.seconds):
                    if same_minute and start is not None and second < start.second:
                        continue
                    yield day.replace(hour=hour, minute=minute, second=second)

    def ticks_between(self, after: datetime, until: datetime, limit: int = 1000) -> list[datetime]:
        """Every tick in ``(after, until]``, at most ``limit`` (oldest first)."""
        ticks: list[datetime] = []
        moment = after
        while len(ticks) < limit:
            tick = self.next_after(moment)
            if tick is None or tick > until:
                break
            ticks.append(tick)
            moment = tick
        return ticks


def _resolve(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """A wall-clock time in ``zone`` as UTC: ``None`` in a DST gap, the first in a repeat."""
    first = wall.replace(tzinfo=zone, fold=0)
    round_trip = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if round_trip != wall:
        return None  # skipped by a spring-forward change
    return first.astimezone(UTC)


def validate_schedule(enabled: bool, expression: str | None, timezone: str) -> None:
    """A workflow's schedule at save: a cron is needed when enabled, and must parse."""
    if expression is not None:
        CronSchedule.parse(expression, timezone)
    elif enabled:
        raise ValidationFailed.field("schedule_cron", "is required when scheduleEnabled is true")
    else:
        CronSchedule.parse("@daily", timezone)  # still check the time zone
