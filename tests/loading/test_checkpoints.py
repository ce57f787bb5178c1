"""Chunks committed by time (`checkpoint_seconds`) and the next chunk fetched while dlt loads the
previous one: real Statsig backfills against the sandbox into DuckDB, with a fake clock that the
runner's chunks read (never the wall clock)."""

import datetime as dt
import itertools

import pytest
from support import configure, today
from support.processes import run_command
from support.statsig import VALUES, expected_values, warehouse_values

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
FIRST = TODAY - dt.timedelta(days=12)
LAST = TODAY - dt.timedelta(days=1)
DATES = [FIRST + dt.timedelta(days=i) for i in range((LAST - FIRST).days + 1)]  # 12 dates


class TickingClock:
    """Advances one second each time it is read; runs `on_read[n]` at the n-th read."""

    def __init__(self, on_read: dict = None) -> None:
        self.reads = itertools.count(1)
        self.on_read = on_read or {}

    def __call__(self) -> float:
        n = next(self.reads)
        if n in self.on_read:
            self.on_read[n]()
        return float(n)


@pytest.fixture
def duckdb_warehouse(monkeypatch, isolated):
    from support import Warehouse

    path = str(isolated / "checkpoints.duckdb")
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", path)
    return Warehouse("duckdb", path)


def setup(monkeypatch, sandbox, **settings) -> None:
    configure(
        monkeypatch,
        "statsig",
        api_key="console-sandbox-statsig",
        base_url=sandbox.url,
        start_date=FIRST.isoformat(),
        **settings,
    )


def backfill_state(run_result_dir) -> dict:
    import dlt
    from metricsync.warehouse.destinations import pipeline_name

    pipeline = dlt.attach(pipeline_name("statsig", "duckdb"), pipelines_dir=str(run_result_dir / "pipelines"))
    resources = pipeline.state.get("sources", {}).get("statsig", {}).get("resources", {})
    return resources.get("metric_values", {}).get("queries", {}).get("metric_values", {})


@pytest.mark.parametrize(
    "checkpoint_seconds, windows_per_load, loads",
    [
        # the clock reads once when a chunk begins and once after each date: 2 s pass after 2 dates
        pytest.param(2, 365, 6, id="time-ends-every-chunk"),
        pytest.param(3, 365, 4, id="time-3-dates"),
        pytest.param(1000, 5, 3, id="count-ends-chunks-first"),
        pytest.param(4, 3, 4, id="count-before-time"),
        pytest.param(3, 4, 4, id="time-before-count"),
    ],
)
def test_chunks_commit_by_time_or_window_count(
    monkeypatch, sandbox, duckdb_warehouse, run, checkpoint_seconds, windows_per_load, loads
):
    statsig = sandbox.by_name["statsig"]
    setup(monkeypatch, sandbox, checkpoint_seconds=checkpoint_seconds, windows_per_load=windows_per_load)
    result = run("statsig", duckdb_warehouse, backfill=(FIRST, LAST), clock=TickingClock())
    assert result.ok, result.message
    assert result.loads == loads
    assert warehouse_values(duckdb_warehouse) == expected_values(statsig, DATES)
    asked = [r.arg("date") for r in sandbox.seen(VALUES)]
    assert sorted(asked) == [d.isoformat() for d in DATES]  # each date once: prefetching fetches nothing twice
    assert duckdb_warehouse.query("select count(*) from statsig._dlt_loads where status = 0") == [(loads,)]


@pytest.mark.parametrize("value", [pytest.param("0", id="zero"), pytest.param("-5", id="negative")])
def test_checkpoint_seconds_must_be_positive(monkeypatch, sandbox, duckdb_warehouse, run, value):
    setup(monkeypatch, sandbox, checkpoint_seconds=value)
    result = run("statsig", duckdb_warehouse, backfill=(FIRST, LAST))
    assert result.exit_code == 2
    assert result.message == (
        f"statsig: checkpoint_seconds '{value}' is out of range - set SOURCES__STATSIG__CHECKPOINT_SECONDS "
        "to a number from 0.1 to 86400"
    )
    assert not sandbox.seen("/console/")


def test_failure_after_prefetching_keeps_state_at_the_last_committed_chunk(
    monkeypatch, sandbox, duckdb_warehouse, run, isolated
):
    """Load 1 (dates 1-3) lands; while dlt loads it the next dates are fetched ahead. When load 2
    begins, the API starts failing: whatever was prefetched, state and rows stop exactly at the
    last committed chunk, and the rerun fetches only what is after it."""
    statsig = sandbox.by_name["statsig"]
    setup(monkeypatch, sandbox, windows_per_load=3, max_concurrency=2, max_attempts=1)
    prefetched = []

    def api_breaks() -> None:  # the 5th read: load 2 begins (1 read per chunk start + 3 dates)
        prefetched.extend(r.arg("date") for r in sandbox.seen(VALUES) if r.arg("date") > DATES[2].isoformat())
        sandbox.add_fault("500", count=10_000, path=VALUES)

    failed = run("statsig", duckdb_warehouse, backfill=(FIRST, LAST), clock=TickingClock({5: api_breaks}))
    assert failed.exit_code == 5, failed.message
    assert prefetched, "the next chunk's dates were not requested while load 1 was loading"
    done = backfill_state(isolated)["backfills"][f"{FIRST}..{LAST}"]
    committed = [d for d in DATES if d.isoformat() <= done]
    assert done in {DATES[i].isoformat() for i in (2, 5, 8)}  # a chunk boundary, never past a failure
    assert warehouse_values(duckdb_warehouse) == expected_values(statsig, committed)

    sandbox.reset()
    again = run("statsig", duckdb_warehouse, backfill=(FIRST, LAST))
    assert again.ok, again.message
    assert sorted(r.arg("date") for r in sandbox.seen(VALUES)) == [d.isoformat() for d in DATES if d not in committed]
    assert warehouse_values(duckdb_warehouse) == expected_values(statsig, DATES)
    assert "backfills" not in backfill_state(isolated) or not backfill_state(isolated)["backfills"]


def test_sigkill_with_checkpoint_seconds_loses_at_most_the_chunk_in_flight(sandbox, isolated):
    """A real process, `checkpoint_seconds=1` and one request at a time at 50 ms: a chunk holds at
    most ~20 dates and the next chunk's requests stop 2 dates ahead until its load lands, so after
    45 requests at least one chunk is committed although `windows_per_load` (365) was never reached.
    The rerun asks exactly the dates after the committed ones."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from support import ROOT
    from support.processes import child_process
    from support.warehouses import duckdb_query

    first, last = TODAY - dt.timedelta(days=120), TODAY - dt.timedelta(days=1)
    db = isolated / "kill.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "SOURCES__STATSIG__API_KEY": "console-sandbox-statsig",
            "SOURCES__STATSIG__BASE_URL": sandbox.url,
            "SOURCES__STATSIG__MAX_CONCURRENCY": "1",
            "SOURCES__STATSIG__CHECKPOINT_SECONDS": "1",
            "DESTINATION__DUCKDB__CREDENTIALS": str(db),
        }
    )
    command = [
        sys.executable,
        "-m",
        "metricsync",
        "run",
        "statsig",
        "--from",
        first.isoformat(),
        "--to",
        last.isoformat(),
        "--pipelines-dir",
        str(isolated / "pipelines"),
    ]
    sandbox.latency = 0.05
    with child_process(command, cwd=isolated, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as child:
        deadline = time.monotonic() + 120
        while len(sandbox.seen(VALUES)) < 45:
            assert child.poll() is None and time.monotonic() < deadline, "the child ended or never got going"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)

    loaded = sorted(r[0] for r in duckdb_query(db, "select distinct date from statsig.metric_values"))
    assert loaded, "no chunk was committed by time"
    assert loaded == [first + dt.timedelta(days=i) for i in range(len(loaded))]  # a prefix: nothing past a gap
    sandbox.latency = 0.0
    sandbox.clear_log()
    rerun = run_command(command, cwd=isolated, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    asked = sorted(dt.date.fromisoformat(r.arg("date")) for r in sandbox.seen(VALUES))
    assert asked == [d for d in (first + dt.timedelta(days=i) for i in range(120)) if d > loaded[-1]]
    statsig = sandbox.by_name["statsig"]
    rows = duckdb_query(db, "select count(*) from statsig.metric_values")[0][0]
    assert rows == len(expected_values(statsig, [first + dt.timedelta(days=i) for i in range(120)]))
