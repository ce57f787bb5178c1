"""Date windows: backfill slicing, alignment to period boundaries, lookback, clamping to today.

A window is a half-open range of dates [start, end). Every window starts on the first day of a
period of the granularity (Monday for weeks) and ends on the first day of a later one, so no
request covers part of a period and no stored period is ever replaced by a partial answer; only
the last window may end inside a period, at today (that period is not over yet). A range that
starts or ends inside a period is widened to the whole period (`widen`).
"""

import datetime as dt
import os
import re
from dataclasses import dataclass
from typing import Iterator, Optional

import pendulum
from metricsync.sources._common.errors import ConfigError

GRANULARITIES = {
    "day": "day",
    "daily": "day",
    "week": "week",
    "weekly": "week",
    "week_sunday": "week_sunday",  # weeks Sunday to Saturday, as an API that labels them so (learned, in state)
    "month": "month",
    "monthly": "month",
    "year": "year",
    "yearly": "year",
}


def canonical_granularity(value: str, provider: str = "metricsync") -> str:
    try:
        return GRANULARITIES[str(value).lower()]
    except KeyError:
        raise ConfigError(f"{provider}: unknown granularity {value!r} - use one of day, week, month, year") from None


def to_date(value, provider: str = "metricsync", name: str = "date") -> dt.date:
    """A `date` from a date, datetime or ISO string; a clear ConfigError otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        parsed = pendulum.parse(str(value), exact=True)
    except Exception:
        parsed = None
    if isinstance(parsed, dt.datetime):
        return parsed.date()
    if isinstance(parsed, dt.date):
        return parsed
    raise ConfigError(f"{provider}: {name} {value!r} is not an ISO date (YYYY-MM-DD)")


CLOCK_VARIABLE = "METRICSYNC_TODAY"  # a test aid: the date the whole of metricsync (and the sandbox) takes as today


def clock_date() -> Optional[dt.date]:
    """The date `METRICSYNC_TODAY` sets (None when unset); a value that is not YYYY-MM-DD is a ConfigError."""
    value = os.environ.get(CLOCK_VARIABLE, "").strip()
    if not value:
        return None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return dt.date.fromisoformat(value)
    except ValueError:
        pass
    raise ConfigError(
        f"metricsync: {CLOCK_VARIABLE}={value!r} is not a date - set it as YYYY-MM-DD "
        f"(e.g. {CLOCK_VARIABLE}=2028-02-29) or unset it to use today's date"
    )


def utc_now() -> dt.datetime:
    """The one clock, in UTC: the real time, on the date `METRICSYNC_TODAY` names if it is set
    (the time of day stays real, so durations and timeouts still pass): with
    `METRICSYNC_TODAY=2028-02-29` at 13:05 UTC it is 2028-02-29 13:05 UTC."""
    now = dt.datetime.now(dt.timezone.utc)
    day = clock_date()
    return now if day is None else dt.datetime.combine(day, now.timetz())


def clock_shift_days() -> int:
    """How many days `METRICSYNC_TODAY` moves the clock from the real UTC date (0 when unset):
    dlt stamps loads by the real clock, so the transform moves those stamps by as much."""
    day = clock_date()
    return 0 if day is None else (day - dt.datetime.now(dt.timezone.utc).date()).days


def utc_today() -> dt.date:
    """Windows are planned in UTC, whatever the machine's time zone: a machine ahead of UTC must
    not plan a window that starts after the API's "now"."""
    return utc_now().date()


def period_start(day: dt.date, granularity: str) -> dt.date:
    """The first day of the period of `granularity` that contains `day`."""
    g = canonical_granularity(granularity)
    d = pendulum.date(day.year, day.month, day.day)
    if g == "day":
        return day
    if g == "week_sunday":
        return day - dt.timedelta(days=(day.weekday() + 1) % 7)
    start = d.start_of({"week": "week", "month": "month", "year": "year"}[g])
    return dt.date(start.year, start.month, start.day)


def next_period(start: dt.date, granularity: str, count: int = 1) -> dt.date:
    g = canonical_granularity(granularity)
    d = pendulum.date(start.year, start.month, start.day)
    moved = d.add(
        **{{"day": "days", "week": "weeks", "week_sunday": "weeks", "month": "months", "year": "years"}[g]: count}
    )
    return dt.date(moved.year, moved.month, moved.day)


def period_end(day: dt.date, granularity: str) -> dt.date:
    """The last day of the period of `granularity` that contains `day`."""
    return next_period(period_start(day, granularity), granularity) - dt.timedelta(days=1)


def widen(first: dt.date, last: dt.date, granularity: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """[first, last] (inclusive) widened to whole periods: `first` down to its period's first day,
    `last` up to its period's last day, but never past `today`.

    >>> widen(dt.date(2025, 5, 10), dt.date(2025, 6, 15), "month", dt.date(2026, 1, 1))
    (datetime.date(2025, 5, 1), datetime.date(2025, 6, 30))
    """
    return period_start(first, granularity), min(period_end(last, granularity), today)


@dataclass(frozen=True, order=True)
class Window:
    start: dt.date
    end: dt.date  # exclusive

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    def __str__(self) -> str:
        return f"{self.start}..{self.last_day}"


def latest_period(granularity: str = "day") -> Window:
    """The period (of `granularity`) holding yesterday in UTC: one bucket, already under way (what
    `check` asks for to prove a key)."""
    start = period_start(utc_today() - dt.timedelta(days=1), granularity)
    return Window(start, next_period(start, granularity))


def plan_windows(
    start: dt.date,
    end: dt.date,
    granularity: str,
    max_periods: int,
    today: Optional[dt.date] = None,
) -> list[Window]:
    """Split [start, end] (both inclusive) into aligned windows of at most `max_periods` periods.

    The range is widened to whole periods (`widen`), then clamped to `today`.
    """
    today = today or utc_today()
    cursor, last = widen(start, end, granularity, today)
    last = min(last, today)
    windows: list[Window] = []
    while cursor <= last:
        stop = min(next_period(cursor, granularity, max(1, max_periods)), last + dt.timedelta(days=1))
        windows.append(Window(cursor, stop))
        cursor = stop
    return windows


def incremental_start(
    loaded_through: Optional[dt.date], start_date: dt.date, lookback_days: int, granularity: str
) -> dt.date:
    """Where a nightly run starts: the last loaded day minus the lookback, aligned down to its
    period start (recent periods are revised upstream), or the configured start date."""
    if loaded_through is None:
        return period_start(start_date, granularity)
    base = max(start_date, loaded_through - dt.timedelta(days=max(0, int(lookback_days))))
    return period_start(base, granularity)


def days(start: dt.date, end_inclusive: dt.date) -> Iterator[dt.date]:
    day = start
    while day <= end_inclusive:
        yield day
        day += dt.timedelta(days=1)
