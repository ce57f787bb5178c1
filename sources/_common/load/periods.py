"""The periods of one window's answer: which rows lie in the window, which are labelled off the
requested granularity's boundary, and which day the API starts its weeks on (`PeriodCheck`, used
by the providers' row shaping; `WeekStartLearned`, caught by the windowed-resource loop)."""

import logging
from typing import Any

from metricsync.sources._common.errors import ApiError
from metricsync.sources._common.load.windows import Window, period_start

logger = logging.getLogger("metricsync.windows")


class WeekStartLearned(Exception):
    """A window's answer labels weeks from another day than the windows were cut on: the answer
    is not loaded, and the query's windows are cut on `week_start` from then on."""

    def __init__(self, week_start: str) -> None:
        super().__init__(week_start)
        self.week_start = week_start


WEEK_STARTS = {0: "monday", 6: "sunday"}


class PeriodCheck:
    """Sorts one window's rows by the period the API labelled them with.

    A row outside the window is dropped (it belongs to another request's answer); a row whose
    label is not the start of a period of the requested granularity (e.g. weeks labelled from
    Sunday) is kept under the API's own label, never moved onto an aligned period it would
    overwrite. Both are counted; rows outside the window (a provider's inclusive `to`, learned
    once) are logged once per query and process at INFO, misaligned ones per window as a warning."""

    told: set = set()  # (provider, query) whose rows outside the window were logged

    @classmethod
    def forget(cls, provider: str) -> None:
        """A new run of `provider` logs what it learns again (the runner calls it)."""
        cls.told = {told for told in cls.told if told[0] != provider}

    def __init__(self, provider: str, query_name: str, window: Window, granularity: str):
        self.provider, self.query_name, self.window, self.granularity = provider, query_name, window, granularity
        self.outside = self.misaligned = 0
        self.verdicts: dict = {}

    def keep(self, day: Any) -> bool:
        verdict = self.verdicts.get(day)
        if verdict is None:  # each day is judged once per window (a page repeats it on every row)
            verdict = self.verdicts[day] = self.judge(day)
        if verdict == "outside":
            self.outside += 1
            return False
        if verdict == "misaligned":
            self.misaligned += 1
        return True

    def judge(self, day: Any) -> str:
        """ "outside" the window, "misaligned" or "kept"."""
        if not in_window(day, self.window):
            return "outside"
        if self.granularity in ("week", "weekly"):
            self.check_week(day)
            return "kept"
        return "kept" if period_start(day, self.granularity) == day else "misaligned"

    def check_week(self, day: Any) -> None:
        """Weeks as the API labels them: from Monday or from Sunday (windows are cut on the day
        learned, `WeekStartLearned` when it differs); any other label fails the query."""
        reading = WEEK_STARTS.get(day.weekday())
        if reading is None:
            raise ApiError(
                self.provider,
                f"query {self.query_name!r}",
                200,
                f"a week is labelled {day} (a {day:%A}), neither a Monday nor a Sunday",
                hint="report it with this line",
            )
        if reading != WEEK_STARTS[self.window.start.weekday()]:
            raise WeekStartLearned(reading)

    def log(self) -> None:
        if self.outside and (self.provider, self.query_name) not in PeriodCheck.told:
            PeriodCheck.told.add((self.provider, self.query_name))
            logger.info(
                "%s: query %r: dropped %d row(s) dated outside the requested window %s (logged once)",
                self.provider,
                self.query_name,
                self.outside,
                self.window,
            )
        if self.misaligned:
            logger.warning(
                "%s: query %r: %d row(s) in window %s are dated off the %s boundary; kept under the API's own date",
                self.provider,
                self.query_name,
                self.misaligned,
                self.window,
                self.granularity,
            )


def in_window(day: Any, window: Window) -> bool:
    return window.start <= day < window.end
