"""The day ranges a query's loads have covered, kept in its resource state (`covered`) with the
load that covered them, so `verify` knows exactly what was loaded (and what never was) even
after a crash: a range lands in state in the same load as its rows and tombstones.

Ranges are inclusive ISO day pairs, sorted, overlapping and adjacent ones joined:

>>> import datetime as dt
>>> add([["2026-01-01", "2026-01-31"]], dt.date(2026, 2, 1), dt.date(2026, 2, 28))
[['2026-01-01', '2026-02-28']]
>>> add([["2026-03-01", "2026-03-31"]], dt.date(2026, 1, 1), dt.date(2026, 1, 31))
[['2026-01-01', '2026-01-31'], ['2026-03-01', '2026-03-31']]
"""

import datetime as dt
from typing import Optional

ONE_DAY = dt.timedelta(days=1)


def parse(ranges: Optional[list]) -> list[tuple[dt.date, dt.date]]:
    """The stored ranges as (first, last) dates."""
    return [(dt.date.fromisoformat(first), dt.date.fromisoformat(last)) for first, last in ranges or []]


def add(ranges: Optional[list], first: dt.date, last: dt.date) -> list[list[str]]:
    """`ranges` with [first, last] added (joined with those it overlaps or touches)."""
    merged: list = []
    for start, end in sorted([*parse(ranges), (first, last)]):
        if merged and start <= merged[-1][1] + ONE_DAY:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [[start.isoformat(), end.isoformat()] for start, end in merged]


def contains(ranges: list[tuple[dt.date, dt.date]], day: dt.date) -> bool:
    return any(first <= day <= last for first, last in ranges)


def overlaps(ranges: list[tuple[dt.date, dt.date]], start: dt.date, end: dt.date) -> bool:
    """Whether a range holds a day of [start, end) (a window's days)."""
    return any(first < end and last >= start for first, last in ranges)
