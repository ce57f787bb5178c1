"""Deterministic numbers for the emulators: a hash of the key, the day and that day's revision."""

import datetime as dt
import hashlib
import os
import re
import threading

DATA_START = dt.date(2022, 1, 1)


CLOCK_VARIABLE = "METRICSYNC_TODAY"  # the date the runner takes as today too (a test aid)


def utc_now() -> dt.datetime:
    """The sandbox's default clock: UTC, like the runner's, whatever the machine's `TZ`, on the
    date `METRICSYNC_TODAY` (YYYY-MM-DD) names if it is set, the time of day real."""
    now = dt.datetime.now(dt.timezone.utc)
    value = os.environ.get(CLOCK_VARIABLE, "").strip()
    if not value:
        return now
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError(
            f"metricsync.sandbox: {CLOCK_VARIABLE}={value!r} is not a date - set it as YYYY-MM-DD or unset it"
        )
    return dt.datetime.combine(dt.date.fromisoformat(value), now.timetz())


class Revisions:
    """Which days have been revised upstream, and how many times (shared by all emulators)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_day: dict[dt.date, int] = {}

    def revise_recent(self, days: int, today: dt.date) -> list[dt.date]:
        changed = [today - dt.timedelta(days=i) for i in range(max(0, days))]
        with self._lock:
            for day in changed:
                self._by_day[day] = self._by_day.get(day, 0) + 1
        return changed

    def restate(self, days: int, ago: int, today: dt.date) -> list[dt.date]:
        """Revise `days` consecutive days ending `ago` days before `today`: old periods, far beyond
        any lookback, restated upstream (refunds, disputes, recomputed metrics), e.g.
        `restate(6, 40, today)` changes the six days ending 40 days ago."""
        changed = [today - dt.timedelta(days=ago + i) for i in range(max(0, days))]
        with self._lock:
            for day in changed:
                self._by_day[day] = self._by_day.get(day, 0) + 1
        return sorted(changed)

    def of(self, day: dt.date) -> int:
        return self._by_day.get(day, 0)

    def reset(self) -> None:
        with self._lock:
            self._by_day.clear()


def number(*parts: object, modulo: int) -> int:
    """A stable pseudo-random integer in [0, modulo) for the given key parts."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % modulo
