"""One clock: "today" is the UTC date for the runner, the CLI and the sandbox, whatever `TZ` says.

Each test runs under a `TZ` whose local date differs from the UTC date right now (UTC+14 in the
UTC afternoon, UTC-11 in the UTC morning), and the sandbox's clock is pinned a few seconds before
midnight UTC, so a component taking its date from the machine's zone asks for, or serves, a day
that is not today in UTC.
"""

import datetime as dt
import os
import time
from typing import Iterator

import pytest
from metricsync.sandbox.data import utc_now
from support import configure

UTC = dt.timezone.utc


@pytest.fixture
def other_date_zone() -> Iterator[dt.date]:
    """Switch this process to a `TZ` whose local date is not the UTC date; returns the UTC date."""
    now = utc_now()  # the one clock: the real time of day, on METRICSYNC_TODAY if set
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Pacific/Kiritimati" if now.hour >= 10 else "Pacific/Pago_Pago"  # UTC+14 / UTC-11
    time.tzset()
    try:
        yield now.date()
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.fixture
def near_midnight(sandbox, other_date_zone):
    """The sandbox's clock pinned at 23:59:50 UTC of today (UTC); returns that date."""
    pinned = dt.datetime.combine(other_date_zone, dt.time(23, 59, 50), UTC)
    sandbox.clock = lambda: pinned
    return other_date_zone


def test_the_zone_really_has_another_date(other_date_zone):
    assert dt.date.today() != other_date_zone  # else the tests below prove nothing


def test_the_sandbox_serves_and_revises_its_own_utc_day(sandbox, near_midnight):
    assert sandbox.today == near_midnight and {e.today for e in sandbox.emulators} == {near_midnight}
    sandbox.revise(1)
    assert [sandbox.revisions.of(near_midnight + dt.timedelta(days=d)) for d in (-1, 0, 1)] == [0, 1, 0]


def test_statsig_asks_for_days_up_to_the_utc_date(sandbox, run, monkeypatch, near_midnight):
    configure(
        monkeypatch,
        "statsig",
        api_key="console-sandbox-statsig",
        base_url=sandbox.url,
        start_date=(near_midnight - dt.timedelta(days=2)).isoformat(),
    )
    result = run("statsig")
    assert result.ok, result.message
    asked = {r.arg("date") for r in sandbox.seen("/console/v1/metrics/values")}
    assert asked == {(near_midnight - dt.timedelta(days=d)).isoformat() for d in (2, 1, 0)}


def test_a_backfill_without_to_ends_on_the_utc_date(sandbox, monkeypatch, isolated, capsys, near_midnight):
    from metricsync.cli import main

    first = near_midnight - dt.timedelta(days=4)
    configure(
        monkeypatch,
        "whop",
        api_key="whop_sandbox_key",
        base_url=f"{sandbox.url}/api/v1",
        wallet_queries=[{"name": "daily_all", "group_by": "day"}],
    )
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "clock.duckdb"))
    code = main(
        ["run", "whop", "--from", first.isoformat(), "--pipelines-dir", str(isolated / "p"), "--progress", "none"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith(f"whop: ok - backfill {first}..{near_midnight}, ")
    spans = {(r.arg("from"), r.arg("to")) for r in sandbox.seen("/api/v1/stats/time_series")}
    assert spans == {(first.isoformat(), near_midnight.isoformat())}


def test_a_backfill_from_the_local_date_is_in_the_future(sandbox, monkeypatch, isolated, capsys, near_midnight):
    """Where the local date is ahead of UTC, `--from <local date>` is still in the future."""
    from metricsync.cli import main

    configure(monkeypatch, "whop", api_key="whop_sandbox_key", base_url=f"{sandbox.url}/api/v1")
    tomorrow = near_midnight + dt.timedelta(days=1)
    code = main(["run", "whop", "--from", tomorrow.isoformat(), "--pipelines-dir", str(isolated / "p")])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        f"metricsync: --from {tomorrow} is in the future - use a date on or before {near_midnight}"
    )
    assert sandbox.seen("/") == []


@pytest.mark.parametrize(
    "now, wait",
    [
        ("2026-11-30T23:59:50", 15.0),  # 10 s before midnight: waits past it
        ("2026-11-30T23:30:01", 1804.0),  # just inside the 30-minute guard
        ("2026-11-30T23:29:59", 0.0),  # just outside it: starts at once
        ("2026-12-01T00:00:00", 0.0),  # at midnight: a whole day ahead
        ("2026-12-31T23:45:00", 905.0),  # across a year's end
    ],
)
def test_a_run_that_would_cross_midnight_utc_waits_for_it(now, wait):
    from support import seconds_to_wait_for_midnight

    assert seconds_to_wait_for_midnight(dt.datetime.fromisoformat(now).replace(tzinfo=UTC)) == wait
