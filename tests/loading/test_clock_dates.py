"""The one clock, `METRICSYNC_TODAY`, and what is planned on each hostile date (tests/hostile_dates.txt).

Every part reads the date `METRICSYNC_TODAY` sets (the runner, the sandbox, the transform's load
times); a value that is not a date stops every command in one line (exit 2). On each hostile date a
nightly run plans the windows written out below by hand, and a day in a time zone whose clocks change
that day is its 23 or 25 local hours.
"""

import datetime as dt
from pathlib import Path

import pytest
from support import ROOT, configure

D = dt.date.fromisoformat
HOSTILE_DATES = [
    line.split()[0]
    for line in (ROOT / "tests" / "hostile_dates.txt").read_text().splitlines()
    if line[:1].isdigit()
]

# date: the period holding yesterday (`latest_period`, what `check` asks for) by week and month, then
# a nightly run's windows (one period each) after a load through yesterday with a 7-day lookback,
# weeks from Monday, weeks from Sunday and months, the last one ending today
EXPECTED = {
    "2026-12-31": (
        "2026-12-28..2027-01-03",
        "2026-12-01..2026-12-31",
        "2026-12-21..2026-12-27 2026-12-28..2026-12-31",
        "2026-12-20..2026-12-26 2026-12-27..2026-12-31",
        "2026-12-01..2026-12-31",
    ),
    "2027-01-01": (
        "2026-12-28..2027-01-03",
        "2026-12-01..2026-12-31",
        "2026-12-21..2026-12-27 2026-12-28..2027-01-01",
        "2026-12-20..2026-12-26 2026-12-27..2027-01-01",
        "2026-12-01..2026-12-31 2027-01-01..2027-01-01",
    ),
    "2027-01-03": (
        "2026-12-28..2027-01-03",
        "2027-01-01..2027-01-31",
        "2026-12-21..2026-12-27 2026-12-28..2027-01-03",
        "2026-12-20..2026-12-26 2026-12-27..2027-01-02 2027-01-03..2027-01-03",
        "2026-12-01..2026-12-31 2027-01-01..2027-01-03",
    ),
    "2027-02-28": (
        "2027-02-22..2027-02-28",
        "2027-02-01..2027-02-28",
        "2027-02-15..2027-02-21 2027-02-22..2027-02-28",
        "2027-02-14..2027-02-20 2027-02-21..2027-02-27 2027-02-28..2027-02-28",
        "2027-02-01..2027-02-28",
    ),
    "2027-03-01": (
        "2027-02-22..2027-02-28",
        "2027-02-01..2027-02-28",
        "2027-02-15..2027-02-21 2027-02-22..2027-02-28 2027-03-01..2027-03-01",
        "2027-02-21..2027-02-27 2027-02-28..2027-03-01",
        "2027-02-01..2027-02-28 2027-03-01..2027-03-01",
    ),
    "2027-03-14": (
        "2027-03-08..2027-03-14",
        "2027-03-01..2027-03-31",
        "2027-03-01..2027-03-07 2027-03-08..2027-03-14",
        "2027-02-28..2027-03-06 2027-03-07..2027-03-13 2027-03-14..2027-03-14",
        "2027-03-01..2027-03-14",
    ),
    "2027-03-28": (
        "2027-03-22..2027-03-28",
        "2027-03-01..2027-03-31",
        "2027-03-15..2027-03-21 2027-03-22..2027-03-28",
        "2027-03-14..2027-03-20 2027-03-21..2027-03-27 2027-03-28..2027-03-28",
        "2027-03-01..2027-03-28",
    ),
    "2027-04-30": (
        "2027-04-26..2027-05-02",
        "2027-04-01..2027-04-30",
        "2027-04-19..2027-04-25 2027-04-26..2027-04-30",
        "2027-04-18..2027-04-24 2027-04-25..2027-04-30",
        "2027-04-01..2027-04-30",
    ),
    "2027-10-31": (
        "2027-10-25..2027-10-31",
        "2027-10-01..2027-10-31",
        "2027-10-18..2027-10-24 2027-10-25..2027-10-31",
        "2027-10-17..2027-10-23 2027-10-24..2027-10-30 2027-10-31..2027-10-31",
        "2027-10-01..2027-10-31",
    ),
    "2027-11-07": (
        "2027-11-01..2027-11-07",
        "2027-11-01..2027-11-30",
        "2027-10-25..2027-10-31 2027-11-01..2027-11-07",
        "2027-10-24..2027-10-30 2027-10-31..2027-11-06 2027-11-07..2027-11-07",
        "2027-10-01..2027-10-31 2027-11-01..2027-11-07",
    ),
    "2028-02-28": (
        "2028-02-21..2028-02-27",
        "2028-02-01..2028-02-29",
        "2028-02-14..2028-02-20 2028-02-21..2028-02-27 2028-02-28..2028-02-28",
        "2028-02-20..2028-02-26 2028-02-27..2028-02-28",
        "2028-02-01..2028-02-28",
    ),
    "2028-02-29": (
        "2028-02-28..2028-03-05",
        "2028-02-01..2028-02-29",
        "2028-02-21..2028-02-27 2028-02-28..2028-02-29",
        "2028-02-20..2028-02-26 2028-02-27..2028-02-29",
        "2028-02-01..2028-02-29",
    ),
    "2028-03-01": (
        "2028-02-28..2028-03-05",
        "2028-02-01..2028-02-29",
        "2028-02-21..2028-02-27 2028-02-28..2028-03-01",
        "2028-02-20..2028-02-26 2028-02-27..2028-03-01",
        "2028-02-01..2028-02-29 2028-03-01..2028-03-01",
    ),
    "2028-12-31": (
        "2028-12-25..2028-12-31",
        "2028-12-01..2028-12-31",
        "2028-12-18..2028-12-24 2028-12-25..2028-12-31",
        "2028-12-17..2028-12-23 2028-12-24..2028-12-30 2028-12-31..2028-12-31",
        "2028-12-01..2028-12-31",
    ),
}

# a day whose local clocks change: (day, zone) -> its `starts_at` and `ends_at` in a Stripe query
DST_DAYS = {
    ("2027-03-14", "America/New_York"): ("2027-03-14T05:00:00Z", "2027-03-15T04:00:00Z"),  # 23 hours
    ("2027-03-28", "Europe/Berlin"): ("2027-03-27T23:00:00Z", "2027-03-28T22:00:00Z"),  # 23 hours
    ("2027-10-31", "Europe/Berlin"): ("2027-10-30T22:00:00Z", "2027-10-31T23:00:00Z"),  # 25 hours
    ("2027-11-07", "America/New_York"): ("2027-11-07T04:00:00Z", "2027-11-08T05:00:00Z"),  # 25 hours
}


def test_every_hostile_date_has_its_expected_plan():
    assert sorted(EXPECTED) == HOSTILE_DATES


@pytest.mark.parametrize("day", HOSTILE_DATES)
def test_the_runner_the_sandbox_and_the_transform_read_the_set_date(day, monkeypatch):
    from metricsync.sandbox import Sandbox
    from metricsync.sources._common.load.progress import RunControl
    from metricsync.sources._common.load.windows import clock_shift_days, utc_now, utc_today

    monkeypatch.setenv("METRICSYNC_TODAY", day)
    real = dt.datetime.now(dt.timezone.utc)
    assert utc_today() == RunControl().today == Sandbox().today == D(day)
    assert abs(utc_now() - dt.datetime.combine(D(day), real.timetz())) < dt.timedelta(seconds=5)
    assert clock_shift_days() == (D(day) - real.date()).days


@pytest.mark.parametrize("day", HOSTILE_DATES)
def test_a_nightly_run_plans_whole_periods_up_to_the_set_date(day, monkeypatch):
    from metricsync.sources._common.load.windows import incremental_start, latest_period, plan_windows

    monkeypatch.setenv("METRICSYNC_TODAY", day)
    today = D(day)
    latest_week, latest_month, *nightly = EXPECTED[day]
    assert (str(latest_period("week")), str(latest_period("month"))) == (latest_week, latest_month)
    assert str(latest_period("day")) == f"{today - dt.timedelta(days=1)}..{today - dt.timedelta(days=1)}"
    for granularity, expected in zip(("week", "week_sunday", "month"), nightly):
        start = incremental_start(today - dt.timedelta(days=1), D("2026-01-01"), 7, granularity)
        assert " ".join(map(str, plan_windows(start, today, granularity, 1))) == expected, granularity


@pytest.mark.parametrize("day, zone", list(DST_DAYS))
def test_a_day_whose_clocks_change_is_asked_for_from_midnight_to_midnight(day, zone):
    from metricsync.sources._common.load.windows import Window
    from metricsync.sources.stripe_analytics.helpers import window_range

    window = Window(D(day), D(day) + dt.timedelta(days=1))
    later = dt.datetime.combine(D(day) + dt.timedelta(days=2), dt.time(), dt.timezone.utc)
    assert window_range(window, zone, later) == DST_DAYS[(day, zone)]


@pytest.mark.parametrize("value", ["2027-02-30", "28/02/2027", "20270228", "tomorrow", "2027-2-28"])
def test_a_clock_that_is_not_a_date_stops_the_command_in_one_line(value, monkeypatch, capsys):
    from metricsync.cli import main

    monkeypatch.setenv("METRICSYNC_TODAY", value)
    assert main(["describe", "whop"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert f"METRICSYNC_TODAY={value!r} is not a date - set it as YYYY-MM-DD (e.g. METRICSYNC_TODAY=2028-02-29)" in err


def test_the_date_the_error_suggests_runs_a_backfill_to_it(sandbox, monkeypatch, isolated, capsys):
    """`METRICSYNC_TODAY=2028-02-29`, as the error above suggests: the run ends on the leap day."""
    from metricsync.cli import main

    monkeypatch.setenv("METRICSYNC_TODAY", "2028-02-29")
    configure(monkeypatch, "statsig", api_key="console-sandbox-statsig", base_url=sandbox.url)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "leap.duckdb"))
    code = main(
        ["run", "statsig", "--from", "2028-02-27", "--pipelines-dir", str(isolated / "p"), "--progress", "none"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("statsig: ok - backfill 2028-02-27..2028-02-29, ")
    asked = {r.arg("date") for r in sandbox.seen("/console/v1/metrics/values")}
    assert asked == {"2028-02-27", "2028-02-28", "2028-02-29"}
