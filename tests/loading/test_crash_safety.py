"""A real process killed with SIGKILL mid-backfill, then the same command again; one run at a time."""

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

from support import ROOT, today
from support.processes import child_process
from support.warehouses import duckdb_query

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
BACKFILL = (TODAY - dt.timedelta(days=730), TODAY - dt.timedelta(days=1))
WALLET = [{"name": "daily_all", "group_by": "day"}]
# Whop's day windows are 92 days (README `max_periods`), from the first day of the backfill: 730 days, 8 windows
WINDOW_STARTS = [BACKFILL[0] + dt.timedelta(days=92 * i) for i in range(8)]


def child_env(sandbox, workdir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "SOURCES__WHOP__API_KEY": "whop_sandbox_key",
            "SOURCES__WHOP__BASE_URL": f"{sandbox.url}/api/v1",
            "SOURCES__WHOP__WALLET_QUERIES": json.dumps(WALLET),
            "SOURCES__WHOP__MAX_CONCURRENCY": "1",
            "DESTINATION__DUCKDB__CREDENTIALS": str(workdir / "crash.duckdb"),
        }
    )
    return env


@contextlib.contextmanager
def start_backfill(sandbox, workdir: Path, log: str) -> Iterator[subprocess.Popen]:
    """The backfill in its own process (group), ended when the `with` block ends; output to `log`."""
    command = [
        sys.executable,
        "-m",
        "metricsync",
        "run",
        "whop",
        "--from",
        BACKFILL[0].isoformat(),
        "--to",
        BACKFILL[1].isoformat(),
        "--windows-per-load",
        "1",
        "--pipelines-dir",
        str(workdir / "pipelines"),
    ]
    with (
        open(workdir / log, "w") as out,
        child_process(
            command, cwd=workdir, env=child_env(sandbox, workdir), stdout=out, stderr=subprocess.STDOUT
        ) as child,
    ):
        yield child


def wait_for_requests(sandbox, child: subprocess.Popen, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(sandbox.seen("/api/v1/stats/time_series")) < count:
        assert child.poll() is None, f"the child ended (exit {child.returncode}) before {count} requests"
        assert time.monotonic() < deadline, "the child never reached the sandbox"
        time.sleep(0.05)


def test_sigkill_mid_backfill_loses_at_most_the_chunk_in_flight(sandbox, isolated):
    sandbox.latency = 0.3
    with start_backfill(sandbox, isolated, "first.log") as child:
        wait_for_requests(sandbox, child, 4)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    db = isolated / "crash.duckdb"
    committed = duckdb_query(db, "select count(*) from whop._dlt_loads")[0][0] if db.exists() else 0
    assert 1 <= committed < len(WINDOW_STARTS), "the kill should land mid-backfill"

    sandbox.latency = 0.0
    sandbox.clear_log()
    with start_backfill(sandbox, isolated, "rerun.log") as rerun:
        assert rerun.wait(timeout=240) == 0, (isolated / "rerun.log").read_text()

    # only what had not been committed was fetched again: the windows after the committed ones, and
    # after the chunk the kill left extracted but not loaded, when the rerun loaded that first
    finished = "loaded the data left pending by the previous run" in (isolated / "rerun.log").read_text()
    asked = sorted(dt.date.fromisoformat(r.arg("from")) for r in sandbox.seen("/api/v1/stats/time_series"))
    assert asked == WINDOW_STARTS[committed + finished :]

    emulator = sandbox.by_name["whop"]
    expected = emulator.wallet_totals(BACKFILL[0], BACKFILL[1], "day")
    rows = duckdb_query(db, "select period, currency, amount, line_count from whop.wallet_time_series")
    assert {(p, c): (a, n) for p, c, a, n in rows} == expected
    assert len(rows) == len(expected)  # no duplicates


def test_a_second_run_of_the_same_pipeline_is_refused(sandbox, isolated, run, monkeypatch):
    sandbox.latency = 0.5
    with start_backfill(sandbox, isolated, "first.log") as child:
        wait_for_requests(sandbox, child, 1)
        for key, value in child_env(sandbox, isolated).items():
            if key.startswith(("SOURCES__", "DESTINATION__")):
                monkeypatch.setenv(key, value)
        second = run("whop", backfill=BACKFILL)
        assert second.exit_code == 6
        assert "another run of whop__duckdb holds its lock on this machine (host " in second.message


def test_data_left_pending_by_a_crashed_load_is_loaded_then_the_run_goes_on(
    sandbox, warehouse, run, monkeypatch, isolated
):
    import dlt
    from metricsync.runner import apply_loader_defaults, make_destination
    from metricsync.sources._common.load.progress import RunControl
    from metricsync.sources.whop import whop_source
    from metricsync.warehouse.destinations import pipeline_name
    from support import configure

    apply_loader_defaults()  # as the crashed run had them (else the order of the tests decides)

    configure(
        monkeypatch,
        "whop",
        api_key="whop_sandbox_key",
        base_url=f"{sandbox.url}/api/v1",
        start_date=(TODAY - dt.timedelta(days=30)).isoformat(),
        wallet_queries=WALLET,
    )
    pipeline = dlt.pipeline(
        pipeline_name=pipeline_name("whop", warehouse.name),
        destination=make_destination(warehouse.name, "whop"),
        dataset_name="whop",
        pipelines_dir=str(isolated / "pipelines"),
    )
    pipeline.extract(whop_source(control=RunControl()))
    pipeline.normalize()  # the process died before `load`: a package is pending
    assert pipeline.has_pending_data
    sandbox.clear_log()

    result = run("whop", warehouse)
    assert result.ok, result.message
    assert result.loads == 2  # the pending package, then this run's own extraction
    assert sandbox.seen("/api/v1/stats/time_series"), "this run's data was extracted too"
    rows = warehouse.query("select count(*), count(distinct (period, currency)) from whop.wallet_time_series")
    assert rows[0][0] == rows[0][1] == 3 * 31
