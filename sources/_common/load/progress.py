"""What each load covers and what has landed, kept in dlt resource state (stored in the
destination, so a fresh machine resumes where the last run stopped).

Per query the state holds `loaded_through` (the last day the nightly sync has loaded), the day
ranges every load of it has covered (`covered`, see covered.py) and, while a `--from/--to`
backfill is under way, how far it got. A run's window plan is made once per
invocation (`RunControl.plans`) and loaded in chunks, one dlt load each: a chunk ends after
`windows_per_load` windows per query, once `checkpoint_seconds` have passed since it began or once
a resource took nearly `LOAD_ROWS` rows, whichever comes first, so a crash loses at most the chunk in
flight however slow the API, and the rerun starts after the last chunk that landed. A backfill never moves `loaded_through`.
"""

import datetime as dt
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterator, Optional

from metricsync.sources._common.load import covered
from metricsync.sources._common.load.arrow import Converter
from metricsync.sources._common.load.prefetch import FetchFn, PaceFn, Prefetcher
from metricsync.sources._common.load.tally import RunTally
from metricsync.sources._common.load.windows import (
    Window,
    incremental_start,
    period_start,
    plan_windows,
    utc_today,
    widen,
)

CHECKPOINT_SECONDS = 60.0
LOAD_ROWS = 500_000  # rows (tombstones included) one resource hands to a load at most
EARLY_LOAD_SECONDS = 1.0  # paced: the run's first load ends this soon (definitions, new tables) ...
EARLY_LOAD_REST_SECONDS = 5.0  # ... when its windows still to fetch take at least this long at the pace
REMEMBERED = 60  # windows per query whose last answer's row count the state keeps (the newest)


Plan = dict[tuple[str, str], list[Window]]  # (resource, query name) -> windows
WindowKey = tuple[str, Hashable]  # (resource, `prefetch.unit_key`: query name and window)


@dataclass
class RunControl:
    """Passed by the runner to a source: the kind of run and, back, which resources have more."""

    backfill: Optional[tuple[dt.date, dt.date]] = None
    windows_per_load: Optional[int] = None
    today: dt.date = field(default_factory=lambda: utc_today())
    plans: Plan = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)  # resources whose plan holds windows for another load
    loads: int = 0
    queries: Optional[set[str]] = None  # `--queries`: only these query names (None: all)
    tally: RunTally = field(default_factory=RunTally)
    # `verify`: each query's full plan is recorded here, (resource, query) -> windows, and no
    # window is fetched (None: a normal run)
    plan_only: Optional[Plan] = None
    checkpoint_seconds: float = CHECKPOINT_SECONDS  # set by the source from its setting
    load_rows: int = field(default_factory=lambda: LOAD_ROWS)  # rows a resource takes per load at most
    clock: Callable[[], float] = time.monotonic  # when chunks began and expire (tests pass a fake one)
    prefetchers: dict[str, Prefetcher] = field(default_factory=dict)
    converters: dict[str, Converter] = field(default_factory=dict)  # resource -> rows to Arrow, this load
    pace: Optional[PaceFn] = None  # the provider's requests per second while paced, else None (the runner's)
    window_rows: dict[WindowKey, int] = field(default_factory=dict)  # -> rows of a window fetched
    answered: dict[WindowKey, int] = field(default_factory=dict)  # -> the API's rows (no tombstones)
    cuts: dict[str, float] = field(default_factory=dict)  # resource -> when its last chunk ended (`clock`)
    # resources loaded together (accounts, batched.py): each yields nothing once its fetches have
    # started, so dlt starts the next resource's before this one's first answer
    start_together: bool = False
    # accounts loaded together (one resource per table for the group): each account's resource
    # state is kept under `<resource><state_suffix>` ("": the resource's own, dlt's current one)
    state_suffix: str = ""
    stats: Optional[Any] = None  # the client's request counters for this run (None: the provider's)
    # answers that do not depend on the account (Whop's wallet schema), asked for once by the
    # accounts loaded together (batched.py gives them one dict); a source alone has its own
    shared: dict = field(default_factory=dict)

    def selects(self, query_name: str) -> bool:
        return self.queries is None or query_name in self.queries

    @property
    def backfill_key(self) -> str:
        return f"{self.backfill[0]}..{self.backfill[1]}" if self.backfill else ""

    def prefetcher(self, resource: str, fetch: FetchFn, workers: int) -> Prefetcher:
        """The resource's fetcher for the whole run (made by its first load)."""
        if resource not in self.prefetchers:
            self.prefetchers[resource] = Prefetcher(fetch, workers, pace=self.pace)
        return self.prefetchers[resource]

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """Page chains wait while the warehouse loads (see `Prefetcher.quiet`)."""
        for prefetcher in self.prefetchers.values():
            prefetcher.quiet(True)
        try:
            yield
        finally:
            for prefetcher in self.prefetchers.values():
                prefetcher.quiet(False)

    def close(self, wait: bool = True) -> None:
        """Stop fetching ahead (the runner calls it when the run ends, however it ends; without
        `wait` after an interrupt, leaving requests in flight to the exiting process)."""
        for prefetcher in self.prefetchers.values():
            prefetcher.close(wait)
        self.prefetchers.clear()


class Chunk:
    """One load's budget: full once the next window (its size when fetched already, else the
    largest it took) would take it past `control.load_rows` rows, so what dlt and the warehouse
    handle per load (extract files, the merge's staging table) is the same however long the
    backfill; late once `seconds` have passed since it began. It begins where the resource's
    previous chunk ended (the time last read there), so the previous load's normalize and load
    count towards it: a load commits every `seconds`, and a crash loses little more than that.

    While the API paces the requests (`control.pace()` gives their rate), the run's first load is
    also late after `EARLY_LOAD_SECONDS` when the windows it has still to fetch would take
    `EARLY_LOAD_REST_SECONDS` or more: the definitions and the new tables then land while the
    rest is fetched (see prefetch.py), and the run's last load, after the last answer, holds the
    windowed rows alone."""

    def __init__(self, control: RunControl, seconds: float, resource: str) -> None:
        self.clock, self.seconds, self.max_rows = control.clock, seconds, control.load_rows
        self.pace = control.pace if control.loads == 0 else None
        self.cuts, self.resource = control.cuts, resource
        began = self.cuts.pop(resource, None)
        self.began = self.clock() if began is None else began
        self.rows = self.largest = 0

    def took(self, rows: int) -> None:
        self.rows += rows
        self.largest = max(self.largest, rows)

    def full(self, next_rows: Optional[int] = None) -> bool:
        """Whether the next window (`next_rows` rows when known) would take it past `max_rows`."""
        if self.rows + (self.largest if next_rows is None else next_rows) > self.max_rows:
            self.cuts.pop(self.resource, None)  # the time was not read at the end: the next chunk reads it
            return True
        return False

    def late(self, rest: int = 0) -> bool:
        """Whether the load ends on time after the window at hand (`rest`: its windows not taken yet)."""
        now = self.cuts[self.resource] = self.clock()
        held = now - self.began
        if held >= self.seconds:
            return True
        if self.pace is None or held < EARLY_LOAD_SECONDS or not rest:
            return False
        rate = self.pace()
        return rate is not None and rate != 0 and rest / rate >= EARLY_LOAD_REST_SECONDS


class QueryProgress:
    """One query's windows for this load, and their commit to the resource state."""

    def __init__(self, state: dict, resource: str, query_name: str, control: RunControl):
        self.entry = state.setdefault("queries", {}).setdefault(query_name, {})
        self.resource, self.query_name, self.control = resource, query_name, control
        self.windows: list[Window] = []
        self.per_load = 0
        self.max_periods = 1
        self.first: Optional[dt.date] = None  # the first day this invocation asked for, before alignment
        self.answers: dict = {}  # window text -> the API's rows in this load's answer of it

    @property
    def loaded_through(self) -> Optional[dt.date]:
        value = self.entry.get("loaded_through")
        return dt.date.fromisoformat(value) if value else None

    def _full_plan(self, start_date: dt.date, lookback_days: int, granularity: str, max_periods: int) -> list[Window]:
        control = self.control
        if control.backfill:
            first, last = control.backfill
            control.tally.widened(self.query_name, (first, last), widen(first, last, granularity, control.today))
            done = self.entry.get("backfills", {}).get(control.backfill_key)
            if done:
                first = dt.date.fromisoformat(done) + dt.timedelta(days=1)
            self.first = first
            plan = plan_windows(first, last, granularity, max_periods, control.today)
            control.tally.planned(plan, first if done else None)
            return plan
        # the day itself, and aligned: a week learnt to start on Sunday begins on a Sunday start_date,
        # not on the Sunday before the Monday the windows were first cut on (see `learn_week_start`)
        self.first = incremental_start(self.loaded_through, start_date, lookback_days, "day")
        start = incremental_start(self.loaded_through, start_date, lookback_days, granularity)
        plan = plan_windows(start, control.today, granularity, max_periods, control.today)
        control.tally.planned(plan)
        return plan

    def next_windows(
        self, start_date: dt.date, lookback_days: int, granularity: str, max_periods: int, per_load: int
    ) -> list[Window]:
        """The windows of this load: the next `per_load` of the invocation's plan (none for a
        query left out by `--queries`)."""
        if not self.control.selects(self.query_name):
            return []
        self.entry["granularity"] = granularity  # for `status --stale`: how old its newest period may be
        if granularity == "week" and self.entry.get("week_start") == "sunday":
            granularity = "week_sunday"  # learned from the API's labels (see `learn_week_start`)
        self.max_periods = max_periods
        key = (self.resource, self.query_name)
        if key not in self.control.plans:
            self.control.plans[key] = self._full_plan(start_date, lookback_days, granularity, max_periods)
            if self.control.plan_only is not None:
                self.control.plan_only[key], self.control.plans[key] = self.control.plans[key], []
        plan = self.control.plans[key]
        self.per_load = per_load = self.control.windows_per_load or per_load
        self.windows, self.control.plans[key] = plan[:per_load], plan[per_load:]
        if self.control.plans[key]:
            self.control.pending.add(self.resource)
        return self.windows

    def keep(self, fetched: int) -> None:
        """The chunk ended after its first `fetched` windows (time was up): the others go back to
        the front of the plan, for the next load."""
        key = (self.resource, self.query_name)
        rest, self.windows = self.windows[fetched:], self.windows[:fetched]
        if rest:
            self.control.plans[key] = rest + self.control.plans.get(key, [])
            self.control.pending.add(self.resource)

    def learn_week_start(self, week_start: str, window: Window, taken: int) -> None:
        """The API labels weeks from `week_start` (its answer for `window`, not loaded): keep it in
        state and cut this query's windows on that day from `window` on, in the next load; the
        windows of this load after the first `taken` are dropped."""
        self.entry["week_start"] = week_start
        key = (self.resource, self.query_name)
        rest = self.windows[taken:] + self.control.plans.get(key, [])
        self.windows = self.windows[:taken]
        granularity = "week_sunday" if week_start == "sunday" else "week"
        start = max(period_start(window.start, granularity), period_start(self.first or window.start, granularity))
        plan = plan_windows(start, rest[-1].last_day, granularity, self.max_periods, self.control.today)
        self.control.plans[key] = plan
        self.control.tally.windows_total += len(plan) - len(rest)
        self.control.pending.add(self.resource)

    def upcoming(self) -> list[Window]:
        """The windows the next load will take (to fetch them ahead)."""
        return self.control.plans.get((self.resource, self.query_name), [])[: self.per_load]

    def answered(self, window: Window, rows: int) -> None:
        """The API answered `window` with `rows` rows (told, and remembered, on `commit`)."""
        self.answers[str(window)] = rows

    def commit(self) -> None:
        """Record that every window of this load landed (call at the end of the generator)."""
        if not self.windows:
            return
        for label, held in remember(self.entry.setdefault("answers", {}), self.answers):
            self.control.tally.emptied.append(
                {"table": self.resource, "query": self.query_name, "window": label, "rows": 0, "usual": held}
            )
        last_day = self.windows[-1].last_day
        for window in self.windows:
            self.entry["covered"] = covered.add(self.entry.get("covered"), window.start, window.last_day)
        if self.control.backfill:
            backfills = self.entry.setdefault("backfills", {})
            if self.control.plans.get((self.resource, self.query_name)):
                backfills[self.control.backfill_key] = last_day.isoformat()
            else:
                backfills.pop(self.control.backfill_key, None)
            return
        if self.loaded_through is None or last_day > self.loaded_through:
            self.entry["loaded_through"] = last_day.isoformat()


def remember(remembered: dict, answers: dict) -> list[tuple[str, int]]:
    """Each window of `answers` (window text -> rows) that came back empty while the windows it
    holds answered rows last time, with those rows; `remembered` (the query's state) then holds
    the new answers in place of the windows they overlap, the newest `REMEMBERED` windows only.

    >>> state = {"2026-12-01..2026-12-07": 12}
    >>> remember(state, {"2026-12-01..2026-12-07": 0}), state
    ([('2026-12-01..2026-12-07', 12)], {'2026-12-01..2026-12-07': 0})
    """
    emptied = []
    for window, rows in answers.items():
        first, last = window.split("..")
        inside = [known for known in remembered if first <= known.split("..")[0] and known.split("..")[1] <= last]
        held = sum(remembered[known] for known in inside)
        if rows == 0 and held:
            emptied.append((window, held))
        for known in [k for k in remembered if k.split("..")[0] <= last and first <= k.split("..")[1]]:
            del remembered[known]
        remembered[window] = rows
    for known in sorted(remembered)[:-REMEMBERED]:
        del remembered[known]
    return emptied
