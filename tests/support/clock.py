"""The tests' clock: today by the one clock the runner and the sandbox read (METRICSYNC_TODAY),
and the tests' own period arithmetic."""

import datetime as dt
import os

from metricsync.sandbox.data import utc_now  # noqa: E402

# a run starting this close to 00:00 UTC waits for it (the longest suite run seen on a busy 2-core machine: ~25 min)
MIDNIGHT_GUARD = dt.timedelta(minutes=30)


def today() -> dt.date:
    """Today (UTC) by the one clock the runner and the sandbox read: the real date, or the date
    `METRICSYNC_TODAY` sets (README "Testing"). Call it in a test module, not at conftest import:
    `pytest_configure` may first wait for midnight."""
    return utc_now().date()


def clock_env() -> dict:
    """`METRICSYNC_TODAY` when set, for a child process given a minimal environment (a cron line's)."""
    return {k: v for k, v in os.environ.items() if k == "METRICSYNC_TODAY"}


def seconds_to_wait_for_midnight(now: dt.datetime, guard: dt.timedelta = MIDNIGHT_GUARD) -> float:
    """How long a run starting at `now` (UTC) waits so that it does not cross 00:00 UTC: test modules,
    the sandbox and the runner each take "today" from the UTC clock, and a run crossing midnight would
    compare one day's expectations with the next day's loads. 0 outside the last `guard` of the day."""
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    left = (midnight - now).total_seconds()
    return left + 5 if left < guard.total_seconds() else 0.0


def period_floor(day: dt.date, granularity: str) -> dt.date:
    """The first day of `day`'s day/week/month/year (weeks start on Monday, as the sandbox's): the
    tests' own arithmetic, so that `sources/`'s window planning is checked against it, not with it.

    >>> period_floor(dt.date(2024, 3, 13), "week")
    datetime.date(2024, 3, 11)
    """
    if granularity == "week":
        return day - dt.timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    if granularity == "year":
        return day.replace(month=1, day=1)
    assert granularity == "day", granularity
    return day
