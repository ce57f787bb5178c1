"""Unit tests for date windows, per-query load progress (chunked loads, backfills, resumption) and
the bounded thread pool."""

import datetime as dt
import threading
import time

import pytest
from metricsync.sources._common import (
    ConfigError,
    QueryProgress,
    RunControl,
    Window,
    canonical_granularity,
    period_start,
    plan_windows,
    run_concurrently,
    to_date,
)
from metricsync.sources._common.load.resource import in_window
from metricsync.sources._common.load.windows import incremental_start, next_period

D = dt.date


def w(start: str, end: str) -> Window:
    return Window(D.fromisoformat(start), D.fromisoformat(end))


# -- periods ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "day, granularity, expected",
    [
        pytest.param(D(2024, 3, 13), "day", D(2024, 3, 13), id="day"),
        pytest.param(D(2024, 3, 13), "week", D(2024, 3, 11), id="week-wednesday"),
        pytest.param(D(2024, 3, 17), "weekly", D(2024, 3, 11), id="week-sunday"),
        pytest.param(D(2024, 3, 11), "week", D(2024, 3, 11), id="week-monday"),
        pytest.param(D(2025, 1, 1), "week", D(2024, 12, 30), id="week-across-new-year"),
        pytest.param(D(2024, 2, 29), "month", D(2024, 2, 1), id="month-leap-day"),
        pytest.param(D(2024, 3, 13), "Monthly", D(2024, 3, 1), id="month-alias-case"),
        pytest.param(D(2024, 12, 31), "year", D(2024, 1, 1), id="year"),
    ],
)
def test_period_start(day, granularity, expected):
    assert period_start(day, granularity) == expected


@pytest.mark.parametrize(
    "start, granularity, count, expected",
    [
        pytest.param(D(2024, 2, 28), "day", 2, D(2024, 3, 1), id="day-over-leap"),
        pytest.param(D(2024, 12, 30), "week", 1, D(2025, 1, 6), id="week"),
        pytest.param(D(2024, 11, 1), "month", 3, D(2025, 2, 1), id="months-over-year"),
        pytest.param(D(2024, 1, 1), "yearly", 2, D(2026, 1, 1), id="years"),
    ],
)
def test_next_period(start, granularity, count, expected):
    assert next_period(start, granularity, count) == expected


@pytest.mark.parametrize(
    "value, expected",
    [pytest.param("DAILY", "day", id="alias"), pytest.param("week", "week", id="canonical")],
)
def test_canonical_granularity(value, expected):
    assert canonical_granularity(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("hour", id="hour"),
        pytest.param("", id="empty"),
        pytest.param(None, id="none"),
        pytest.param("quarter", id="quarter"),
    ],
)
def test_canonical_granularity_errors(value):
    with pytest.raises(ConfigError) as caught:
        canonical_granularity(value, "acme")
    assert str(caught.value) == f"acme: unknown granularity {value!r} - use one of day, week, month, year"


@pytest.mark.parametrize(
    "value, expected",
    [
        pytest.param(D(2024, 3, 13), D(2024, 3, 13), id="date"),
        pytest.param(dt.datetime(2024, 3, 13, 23, 59), D(2024, 3, 13), id="datetime"),
        pytest.param("2024-03-13", D(2024, 3, 13), id="iso-text"),
        pytest.param("2024-03-13T10:00:00Z", D(2024, 3, 13), id="iso-datetime-text"),
    ],
)
def test_to_date(value, expected):
    assert to_date(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("2024-13-01", id="month-13"),
        pytest.param("2024-02-30", id="feb-30"),
        pytest.param("13/03/2024", id="not-iso"),
        pytest.param("yesterday", id="word"),
        pytest.param("", id="empty"),
        pytest.param(None, id="none"),
    ],
)
def test_to_date_errors(value):
    with pytest.raises(ConfigError) as caught:
        to_date(value, "acme", "start_date")
    assert str(caught.value) == f"acme: start_date {value!r} is not an ISO date (YYYY-MM-DD)"


# -- window plans ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start, end, granularity, max_periods, today, expected",
    [
        pytest.param(
            D(2024, 1, 17),
            D(2024, 6, 30),
            "month",
            2,
            D(2024, 12, 1),
            [w("2024-01-01", "2024-03-01"), w("2024-03-01", "2024-05-01"), w("2024-05-01", "2024-07-01")],
            id="mid-month-start-aligned-down",
        ),
        pytest.param(
            D(2024, 1, 1),
            D(2024, 1, 10),
            "day",
            4,
            D(2024, 12, 1),
            [w("2024-01-01", "2024-01-05"), w("2024-01-05", "2024-01-09"), w("2024-01-09", "2024-01-11")],
            id="max-length-days",
        ),
        pytest.param(
            D(2024, 3, 1),
            D(2024, 12, 31),
            "week",
            1,
            D(2024, 3, 13),
            [w("2024-02-26", "2024-03-04"), w("2024-03-04", "2024-03-11"), w("2024-03-11", "2024-03-14")],
            id="weeks-clamped-to-today",
        ),
        pytest.param(
            D(2024, 1, 31),
            D(2025, 6, 1),
            "month",
            1,
            D(2024, 3, 13),
            [w("2024-01-01", "2024-02-01"), w("2024-02-01", "2024-03-01"), w("2024-03-01", "2024-03-14")],
            id="months-last-ends-today-plus-one",
        ),
        pytest.param(
            D(2023, 7, 4),
            D(2024, 3, 13),
            "year",
            5,
            D(2024, 3, 13),
            [w("2023-01-01", "2024-03-14")],
            id="year-one-window",
        ),
        pytest.param(
            D(2024, 1, 1),
            D(2024, 1, 3),
            "day",
            0,
            D(2024, 3, 13),
            [w("2024-01-01", "2024-01-02"), w("2024-01-02", "2024-01-03"), w("2024-01-03", "2024-01-04")],
            id="max-periods-zero-means-one",
        ),
        pytest.param(D(2024, 4, 1), D(2024, 5, 1), "day", 7, D(2024, 3, 13), [], id="start-after-today"),
    ],
)
def test_plan_windows(start, end, granularity, max_periods, today, expected):
    windows = plan_windows(start, end, granularity, max_periods, today)
    assert windows == expected
    assert all(period_start(x.start, granularity) == x.start for x in windows)
    assert all(a.end == b.start for a, b in zip(windows, windows[1:]))


def test_window_helpers():
    window = w("2024-03-01", "2024-04-01")
    assert window.last_day == D(2024, 3, 31) and str(window) == "2024-03-01..2024-03-31"
    assert in_window(D(2024, 3, 1), window) and in_window(D(2024, 3, 31), window)
    assert not in_window(D(2024, 4, 1), window) and not in_window(D(2024, 2, 29), window)


@pytest.mark.parametrize(
    "loaded_through, start_date, lookback, granularity, expected",
    [
        pytest.param(None, D(2024, 1, 17), 7, "month", D(2024, 1, 1), id="first-run-aligns-start-date"),
        pytest.param(None, D(2024, 1, 17), 7, "day", D(2024, 1, 17), id="first-run-day"),
        pytest.param(D(2024, 3, 13), D(2023, 1, 1), 7, "day", D(2024, 3, 6), id="lookback-days"),
        pytest.param(D(2024, 3, 13), D(2023, 1, 1), 7, "week", D(2024, 3, 4), id="lookback-then-monday"),
        pytest.param(D(2024, 3, 13), D(2023, 1, 1), 30, "month", D(2024, 2, 1), id="lookback-then-month-start"),
        pytest.param(D(2024, 3, 13), D(2023, 1, 1), 0, "month", D(2024, 3, 1), id="no-lookback"),
        pytest.param(D(2024, 3, 13), D(2023, 1, 1), -5, "day", D(2024, 3, 13), id="negative-lookback-is-zero"),
        pytest.param(D(2024, 1, 5), D(2024, 1, 3), 30, "day", D(2024, 1, 3), id="never-before-start-date"),
    ],
)
def test_incremental_start(loaded_through, start_date, lookback, granularity, expected):
    assert incremental_start(loaded_through, start_date, lookback, granularity) == expected


# -- progress --------------------------------------------------------------------------------------

TODAY = D(2024, 3, 13)
START = D(2024, 1, 1)


def load(
    state: dict,
    control: RunControl,
    per_load: int = 100,
    lookback: int = 0,
    granularity: str = "day",
    max_periods: int = 10,
    commit: bool = True,
    query: str = "q1",
) -> list[Window]:
    """One dlt load of one query as `windowed_rows` does it: plan, (fetch), commit."""
    progress = QueryProgress(state, "res", query, control)
    windows = progress.next_windows(START, lookback, granularity, max_periods, per_load)
    if commit:
        progress.commit()
    return windows


def run_all(state: dict, control: RunControl, **kw) -> list[list[Window]]:
    """Loads until the resource has nothing pending, as the runner does."""
    loads = []
    while True:
        loads.append(load(state, control, **kw))
        if not control.pending:
            return loads
        assert control.pending == {"res"}
        control.pending = set()


def entry(state: dict, query: str = "q1") -> dict:
    return state["queries"][query]


@pytest.mark.parametrize(
    "per_load, control_per_load, expected_loads",
    [
        pytest.param(2, None, 4, id="source-default"),
        pytest.param(100, 3, 3, id="runner-override"),
        pytest.param(8, None, 1, id="all-in-one"),
        pytest.param(7, None, 2, id="one-left-over"),
    ],
)
def test_chunked_incremental_loads(per_load, control_per_load, expected_loads):
    state: dict = {}
    control = RunControl(today=TODAY, windows_per_load=control_per_load)
    loads = run_all(state, control, per_load=per_load)
    assert len(loads) == expected_loads
    windows = [x for chunk in loads for x in chunk]
    assert windows == plan_windows(START, TODAY, "day", 10, TODAY)
    assert len(windows) == 8  # 73 days in windows of 10 days
    assert entry(state)["loaded_through"] == "2024-03-13"


def test_chunk_sets_pending_and_commit_records_last_day():
    state: dict = {}
    control = RunControl(today=TODAY)
    first = load(state, control, per_load=2)
    assert first == [w("2024-01-01", "2024-01-11"), w("2024-01-11", "2024-01-21")]
    assert control.pending == {"res"}
    assert entry(state)["loaded_through"] == "2024-01-20"


def test_uncommitted_load_does_not_advance_and_the_plan_is_made_once_per_invocation():
    state: dict = {}
    control = RunControl(today=TODAY)
    load(state, control, per_load=2, commit=False)
    assert "loaded_through" not in entry(state)
    second = load(state, control, per_load=2)
    assert second[0] == w("2024-01-21", "2024-01-31")  # continues the invocation's plan


def test_commit_only_moves_loaded_through_forward():
    state = {"queries": {"q1": {"loaded_through": "2024-03-10"}}}
    control = RunControl(today=TODAY)
    first = load(state, control, per_load=1, lookback=30, granularity="week", max_periods=1)
    assert first == [w("2024-02-05", "2024-02-12")]  # 2024-02-09 aligned down to Monday
    assert entry(state)["loaded_through"] == "2024-03-10"
    control.pending = set()
    run_all(state, control, per_load=1, lookback=30, granularity="week", max_periods=1)
    assert entry(state)["loaded_through"] == "2024-03-13"


def test_nightly_run_restarts_from_loaded_through_minus_lookback():
    state = {"queries": {"q1": {"loaded_through": "2024-03-12"}}}
    loads = run_all(state, RunControl(today=TODAY), lookback=3, max_periods=2)
    assert [x for chunk in loads for x in chunk] == [
        w("2024-03-09", "2024-03-11"),
        w("2024-03-11", "2024-03-13"),
        w("2024-03-13", "2024-03-14"),
    ]


BACKFILL = (D(2023, 1, 15), D(2023, 4, 10))
BACKFILL_KEY = "2023-01-15..2023-04-10"


def test_backfill_records_then_clears_progress_and_never_moves_loaded_through():
    state = {"queries": {"q1": {"loaded_through": "2024-03-10"}}}
    control = RunControl(backfill=BACKFILL, today=TODAY)
    kw = dict(per_load=1, granularity="month", max_periods=1)
    assert load(state, control, **kw) == [w("2023-01-01", "2023-02-01")]
    assert entry(state)["backfills"] == {BACKFILL_KEY: "2023-01-31"}
    control.pending = set()
    assert load(state, control, **kw) == [w("2023-02-01", "2023-03-01")]
    assert entry(state)["backfills"] == {BACKFILL_KEY: "2023-02-28"}
    control.pending = set()
    rest = run_all(state, control, **kw)
    assert rest == [[w("2023-03-01", "2023-04-01")], [w("2023-04-01", "2023-05-01")]]
    assert entry(state)["backfills"] == {}
    assert entry(state)["loaded_through"] == "2024-03-10"


def test_interrupted_backfill_resumes_after_the_last_committed_window():
    state: dict = {}
    kw = dict(per_load=1, granularity="month", max_periods=1)
    first_run = RunControl(backfill=BACKFILL, today=TODAY)
    load(state, first_run, **kw)
    first_run.pending = set()
    load(state, first_run, commit=False, **kw)  # the second load crashed before its commit
    assert entry(state)["backfills"] == {BACKFILL_KEY: "2023-01-31"}

    rerun = RunControl(backfill=BACKFILL, today=TODAY)
    loads = run_all(state, rerun, **kw)
    assert loads == [[w("2023-02-01", "2023-03-01")], [w("2023-03-01", "2023-04-01")], [w("2023-04-01", "2023-05-01")]]
    assert entry(state)["backfills"] == {}
    assert "loaded_through" not in entry(state)


def test_other_backfill_ranges_and_queries_are_independent():
    state: dict = {}
    kw = dict(per_load=1, granularity="month", max_periods=1)
    load(state, RunControl(backfill=BACKFILL, today=TODAY), **kw)
    other = RunControl(backfill=(D(2023, 1, 1), D(2023, 1, 31)), today=TODAY)
    assert load(state, other, **kw) == [w("2023-01-01", "2023-02-01")]
    assert load(state, RunControl(backfill=BACKFILL, today=TODAY), query="q2", **kw)[0].start == D(2023, 1, 1)
    assert entry(state)["backfills"] == {BACKFILL_KEY: "2023-01-31"}


# -- run_concurrently ------------------------------------------------------------------------------


class Tracker:
    def __init__(self, delay: float = 0.01, fail_on=None):
        self.delay, self.fail_on = delay, fail_on
        self.lock = threading.Lock()
        self.running = self.peak = self.started = 0

    def __call__(self, item: int) -> int:
        with self.lock:
            self.started += 1
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            time.sleep(self.delay)
            if item == self.fail_on:
                raise ValueError(f"unit {item} failed")
            return item * item
        finally:
            with self.lock:
                self.running -= 1


@pytest.mark.parametrize(
    "workers", [pytest.param(1, id="serial"), pytest.param(3, id="three"), pytest.param(0, id="zero-means-one")]
)
def test_run_concurrently_bounds_work_and_returns_every_result(workers):
    fn = Tracker()
    results = []
    for consumed, (item, result) in enumerate(run_concurrently(fn, range(20), workers), start=1):
        assert fn.started <= consumed + 2 * max(1, workers)  # bounded backlog of unconsumed units
        results.append((item, result))
    assert sorted(results) == [(i, i * i) for i in range(20)]
    assert fn.peak == max(1, workers)


def test_run_concurrently_raises_the_first_failure_and_stops_starting_units():
    fn = Tracker(fail_on=2)
    with pytest.raises(ValueError, match="unit 2 failed"):
        list(run_concurrently(fn, range(200), 3))
    assert fn.started < 200


def test_each_load_records_the_ranges_it_covered():
    """`covered` grows with each committed load (chunks of a backfill join into one range; an
    uncommitted load adds nothing); a backfill elsewhere is a second range, and one that fills the
    days between joins them."""
    state: dict = {}
    control = RunControl(today=TODAY, backfill=(D(2024, 1, 1), D(2024, 1, 20)))
    run_all(state, control, per_load=1, max_periods=5)  # four loads of five days
    assert entry(state)["covered"] == [["2024-01-01", "2024-01-20"]]
    load(state, RunControl(today=TODAY, backfill=(D(2024, 2, 1), D(2024, 2, 10))), commit=False)
    assert entry(state)["covered"] == [["2024-01-01", "2024-01-20"]]
    load(state, RunControl(today=TODAY, backfill=(D(2024, 2, 1), D(2024, 2, 10))))
    assert entry(state)["covered"] == [["2024-01-01", "2024-01-20"], ["2024-02-01", "2024-02-10"]]
    load(state, RunControl(today=TODAY, backfill=(D(2024, 1, 21), D(2024, 1, 31))))
    assert entry(state)["covered"] == [["2024-01-01", "2024-02-10"]]


@pytest.mark.parametrize("backfill", [False, True], ids=["nightly", "backfill"])
@pytest.mark.parametrize(
    "start_date", [D(2024, 2, 11) + dt.timedelta(days=n) for n in range(7)], ids=lambda day: day.strftime("%a")
)
def test_weeks_learnt_to_start_on_sunday_are_planned_from_the_sunday_week_of_the_first_day(start_date, backfill):
    """The windows were cut on Mondays before the first answer; re-cut on Sundays, they begin with the
    Sunday week holding the first day asked for (a Sunday start_date: that very Sunday)."""
    control = RunControl(today=TODAY, backfill=(start_date, TODAY) if backfill else None)
    progress = QueryProgress({}, "res", "q1", control)
    cut = progress.next_windows(start_date, 0, "week", 52, 100)
    assert cut[0].start.weekday() == 0  # Monday
    progress.learn_week_start("sunday", cut[0], 0)
    replanned = control.plans[("res", "q1")]
    sunday = start_date - dt.timedelta(days=(start_date.weekday() + 1) % 7)
    assert replanned[0].start == sunday and replanned[-1].end == TODAY + dt.timedelta(days=1)
    assert progress.entry["week_start"] == "sunday"


W1, W2, WEEK = "2026-12-01..2026-12-03", "2026-12-04..2026-12-07", "2026-12-01..2026-12-07"


@pytest.mark.parametrize(
    "remembered, answers, emptied, after",
    [
        pytest.param({W1: 5}, {W1: 0}, [(W1, 5)], {W1: 0}, id="held-rows-now-empty"),
        pytest.param({W1: 0}, {W1: 0}, [], {W1: 0}, id="empty-still-empty"),
        pytest.param({W1: 5}, {W1: 3}, [], {W1: 3}, id="fewer-rows-not-empty"),
        pytest.param({}, {W1: 0}, [], {W1: 0}, id="never-answered"),
        pytest.param({W1: 5, W2: 2}, {WEEK: 0}, [(WEEK, 7)], {WEEK: 0}, id="a-larger-window-holding-them"),
        pytest.param({WEEK: 7}, {W2: 0}, [], {W2: 0}, id="part-of-a-window-cannot-tell"),
    ],
)
def test_remember_tells_a_window_that_held_rows_and_came_back_empty(remembered, answers, emptied, after):
    from metricsync.sources._common.load.progress import remember

    assert remember(remembered, answers) == emptied
    assert remembered == after


def test_remember_keeps_the_newest_windows_only():
    from metricsync.sources._common.load.progress import REMEMBERED, remember

    days = [dt.date(2026, 1, 1) + dt.timedelta(days=n) for n in range(REMEMBERED + 5)]
    remembered = {f"{day}..{day}": 1 for day in days[:-1]}
    remember(remembered, {f"{days[-1]}..{days[-1]}": 1})
    assert sorted(remembered) == [f"{day}..{day}" for day in days[-REMEMBERED:]]
