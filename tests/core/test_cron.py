"""Cron schedules: parsing, next ticks, time zones and DST, against a brute-force oracle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turbocat_core.cron import CronSchedule, validate_schedule
from turbocat_core.errors import ValidationFailed

T = datetime(2026, 1, 1, tzinfo=UTC)  # a Thursday


def nxt(expr: str, after: datetime = T, tz: str = "UTC") -> datetime:
    tick = CronSchedule.parse(expr, tz).next_after(after)
    assert tick is not None
    return tick


def test_common_schedules():
    assert nxt("*/15 * * * *") == T + timedelta(minutes=15)
    assert nxt("0 9 * * MON-FRI") == datetime(2026, 1, 1, 9, tzinfo=UTC)
    assert nxt("0 9 * * sat,sun") == datetime(2026, 1, 3, 9, tzinfo=UTC)
    assert nxt("30 2 1 */3 *") == datetime(2026, 1, 1, 2, 30, tzinfo=UTC)
    assert nxt("0 0 29 FEB *") == datetime(2028, 2, 29, tzinfo=UTC)
    assert nxt("@hourly") == T + timedelta(hours=1)
    assert nxt("*/5 * * * * *") == T + timedelta(seconds=5)  # six fields: seconds first
    assert nxt("0 12 * * 7") == datetime(2026, 1, 4, 12, tzinfo=UTC)  # 7 is Sunday


def test_either_day_field_may_match_when_both_are_restricted():
    # The 13th or any Friday: Friday 2 Jan comes before the 13th.
    assert nxt("0 0 13 * FRI") == datetime(2026, 1, 2, tzinfo=UTC)


def test_time_zones_and_daylight_saving():
    paris = "Europe/Paris"
    assert nxt("0 9 * * *", tz=paris) == datetime(2026, 1, 1, 8, tzinfo=UTC)  # UTC+1 in winter
    assert nxt("0 9 * * *", datetime(2026, 7, 1, tzinfo=UTC), paris) == datetime(
        2026, 7, 1, 7, tzinfo=UTC
    )
    # 02:30 does not exist on 29 March 2026 in Paris: that day has no tick.
    spring = CronSchedule.parse("30 2 * * *", paris)
    ticks = spring.ticks_between(
        datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC)
    )
    assert [t.astimezone(ZoneInfo(paris)).date().day for t in ticks] == [28, 30]
    # 02:30 happens twice on 25 October 2026: the tick fires once.
    autumn = CronSchedule.parse("30 2 * * *", paris)
    ticks = autumn.ticks_between(
        datetime(2026, 10, 24, 12, tzinfo=UTC), datetime(2026, 10, 26, 12, tzinfo=UTC)
    )
    assert [t.astimezone(ZoneInfo(paris)).day for t in ticks] == [25, 26]


@pytest.mark.parametrize(
    ("expr", "tz", "field"),
    [
        ("61 * * * *", "UTC", "schedule_cron"),
        ("* * * *", "UTC", "schedule_cron"),
        ("*/0 * * * *", "UTC", "schedule_cron"),
        ("5-1 * * * *", "UTC", "schedule_cron"),
        ("0 0 31 FEB *", "UTC", "schedule_cron"),  # never happens
        ("0 0 * * FUNDAY", "UTC", "schedule_cron"),
        ("0 0 * * *", "Mars/Olympus", "schedule_timezone"),
    ],
)
def test_bad_schedules_name_the_field(expr, tz, field):
    with pytest.raises(ValidationFailed) as caught:
        CronSchedule.parse(expr, tz)
    assert caught.value.details[0].field == field


def test_a_workflow_schedule_needs_a_cron_when_enabled():
    with pytest.raises(ValidationFailed):
        validate_schedule(True, None, "UTC")
    validate_schedule(False, None, "UTC")
    validate_schedule(True, "@daily", "America/New_York")


def brute_force(schedule: CronSchedule, after: datetime, limit: int) -> list[datetime]:
    """Every minute in order, the slow obvious way (UTC schedules, no seconds field)."""
    ticks, moment = [], after.replace(second=0, microsecond=0)
    while len(ticks) < limit:
        moment += timedelta(minutes=1)
        if (
            moment.minute in schedule.minutes
            and moment.hour in schedule.hours
            and schedule._day_matches(moment.replace(tzinfo=None))
        ):
            ticks.append(moment)
    return ticks


field = st.one_of(
    st.just("*"),
    st.integers(0, 5).map(str),
    st.integers(1, 6).map(lambda n: f"*/{n}"),
    st.tuples(st.integers(0, 3), st.integers(3, 6)).map(lambda r: f"{r[0]}-{r[1]}"),
)


@given(st.tuples(field, field), st.integers(0, 10_000))
def test_ticks_match_a_brute_force_search(minute_hour, offset_minutes):
    minute, hour = minute_hour
    schedule = CronSchedule.parse(f"{minute} {hour} * * *")
    after = T + timedelta(minutes=offset_minutes, seconds=17)
    end = after + timedelta(days=3)
    expected = [tick for tick in brute_force(schedule, after, 5) if tick <= end]
    assert schedule.ticks_between(after, end, limit=5) == expected
