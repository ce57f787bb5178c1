"""Weeks the API labels by their Sunday (the sandbox's `week_start` switch), with `start_date` on
a Sunday or a Saturday: only whole weeks are stored (each holding its 7 days, or the days so far of
the running week), from the Sunday week that holds `start_date`; never a week before it, or a week
holding part of its days."""

import datetime as dt
from decimal import Decimal

import pytest
from support import configure, today

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WALLET = {"name": "weekly", "group_by": "week"}
METRIC = {"name": "users_weekly", "resource": "members:new_users", "granularity": "weekly"}


def start_on(weekday: str) -> dt.date:
    """The latest `weekday` at least 15 days before today."""
    day = TODAY - dt.timedelta(days=15)
    return day - dt.timedelta(days=(day.weekday() - WEEKDAYS.index(weekday)) % 7)


def sunday_week(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=(day.weekday() + 1) % 7)


# every weekday, both ways, at the plan's level: tests/loading/test_windows_progress.py
@pytest.mark.parametrize("weekday, mode", [("sunday", "nightly"), ("sunday", "backfill"), ("saturday", "nightly")])
def test_sunday_labelled_weeks_are_stored_whole_from_the_week_of_start_date(
    sandbox, run, monkeypatch, isolated, weekday, mode
):
    whop = sandbox.by_name["whop"]
    whop.settings["week_start"] = "sunday"
    start = start_on(weekday)
    configure(
        monkeypatch,
        "whop",
        api_key=whop.api_key,
        base_url=f"{sandbox.url}/api/v1",
        wallet_queries=[WALLET],
        metric_queries=[METRIC],
        start_date=start.isoformat(),
    )
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "weeks.duckdb"))
    result = run("whop", backfill=(start, TODAY) if mode == "backfill" else None)
    assert result.ok, result.message

    first = sunday_week(start)
    weeks = [first + dt.timedelta(weeks=n) for n in range((TODAY - first).days // 7 + 1)]
    # each week's own days: all 7, or (the running week) those up to today
    wallet, metric = {}, {}
    for week in weeks:
        last = min(week + dt.timedelta(days=6), TODAY)
        wallet.update(whop.wallet_totals(week, last, "week"))
        metric.update(whop.metric_totals(METRIC["resource"], "weekly", [], week, last + dt.timedelta(days=1)))
    import duckdb

    with duckdb.connect(str(isolated / "weeks.duckdb"), read_only=True) as con:
        stored_wallet = con.execute(
            "select period, currency, amount, line_count from whop.wallet_time_series"
        ).fetchall()
        stored_metric = con.execute("select period, breakdown_key, value from whop.metric_results").fetchall()
    assert {(p, c): (Decimal(a), n) for p, c, a, n in stored_wallet} == wallet
    assert len(stored_wallet) == len(wallet)
    assert {(p, k): Decimal(v) for p, k, v in stored_metric} == {(p, "{}"): v for (p, _combo), v in metric.items()}
    assert sorted({p for p, *_ in stored_metric}) == weeks
