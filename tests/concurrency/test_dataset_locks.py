"""One writer per dataset, whatever runs (issue 27): two Whop accounts loading one dataset at the same
time, each `metricsync run` a real process with a pipelines folder of its own (two hosts, two cron
lines), on DuckDB, Postgres and MariaDB. They fetch in parallel and write in turns, in both orders,
one of them killed with SIGKILL while it writes and re-run, an upstream revision between the two
rounds: every run exits 0 and each account's rows equal the sandbox's truth, once each. And one
`transform` at a time: a second exits 6 naming the first, or waits when told to."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal

import psycopg2
import pytest
from support import ROOT, configure, period_floor, today
from support.processes import end_process_group

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
START = TODAY - dt.timedelta(days=120)  # two daily windows (92 days each): at least two loads per account
QUERIES = [
    {"name": "daily_all", "group_by": "day"},
    {"name": "weekly_usd", "group_by": "week", "convert_currency": "usd"},
]
ACCOUNTS = {"north": "biz_north", "south": "biz_south"}


def start(isolated, warehouse, account: str, folder: str) -> subprocess.Popen:
    """`metricsync run whop --accounts <account>` with its own pipelines folder, one load per window."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "metricsync",
            "run",
            "whop",
            "--accounts",
            account,
            "--windows-per-load",
            "1",
            "--progress",
            "none",
            "--destination",
            warehouse.name,
            "--pipelines-dir",
            str(isolated / folder),
        ],
        cwd=isolated,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finished(process: subprocess.Popen) -> tuple[int, str]:
    """Its exit code and output; its process group is ended however this ends."""
    try:
        out, err = process.communicate(timeout=300)
    finally:
        end_process_group(process)
    return process.returncode, out + err


def writer_pid(warehouse) -> int:
    """The pid holding the dataset's write turn now (0: none), read as another host would."""
    dataset = warehouse.dataset("whop")
    if warehouse.name == "duckdb":
        path = f"{warehouse.credentials}.writer.lock"
        text = open(path).read() if os.path.exists(path) else ""
        return int(text.split("pid ")[1].split(",")[0]) if "pid " in text else 0
    if warehouse.name == "postgres":
        rows = warehouse.query(
            "select a.application_name from pg_locks l join pg_stat_activity a on a.pid = l.pid "
            "where l.locktype = 'advisory' and l.granted and l.classid = 28019 "
            f"and l.objid::bigint = (hashtext('dataset__{dataset}')::bigint & 4294967295)"
        )
        parts = str(rows[0][0] or "").split() if rows else []  # "metricsync <host> <pid> <run> <since>"
        return int(parts[2]) if len(parts) == 5 else 0  # a session still naming itself: not known yet
    try:
        rows = warehouse.query(f"select pid from {dataset}._metricsync_locks where name = 'dataset__{dataset}'")
    except Exception:  # noqa: BLE001 - the table is created by the first lock
        return 0
    return int(rows[0][0]) if rows else 0


def kill_while_writing(sandbox, warehouse, process: subprocess.Popen, account: str) -> None:
    """SIGKILL `process` once it has fetched and holds the dataset's write turn (a load)."""
    deadline = time.monotonic() + 120
    while True:
        fetched = any(r.arg("account_id") == ACCOUNTS[account] for r in sandbox.seen("/api/v1/stats/time_series"))
        if fetched and writer_pid(warehouse) == process.pid:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            return
        assert process.poll() is None, f"{account} finished before it was caught writing: {process.communicate()}"
        assert time.monotonic() < deadline, f"{account} never wrote"
        time.sleep(0.005)


def truth(sandbox, account: str, query: dict) -> dict:
    grain = query["group_by"]
    totals = sandbox.by_name["whop"].wallet_totals(
        period_floor(START, grain), TODAY, grain, None, None, query.get("convert_currency"), ACCOUNTS[account]
    )
    return {(period, currency): (amount, count) for (period, currency), (amount, count) in totals.items()}


def stored(warehouse, account: str, query: dict) -> list:
    rows = warehouse.query(
        f"select period, currency, amount, line_count from {warehouse.dataset('whop')}."
        f"wallet_time_series where account = '{account}' and query_name = '{query['name']}'"
    )
    return [
        ((p if isinstance(p, dt.date) else dt.date.fromisoformat(str(p)), c), (Decimal(a), int(n)))
        for p, c, a, n in rows
    ]


def assert_exact(sandbox, warehouse) -> None:
    for account in ACCOUNTS:
        for query in QUERIES:
            rows = stored(warehouse, account, query)
            assert len(rows) == len(dict(rows)), f"{account} {query['name']}: duplicate keys"
            assert dict(rows) == truth(sandbox, account, query), f"{account} {query['name']}"


def run_both(isolated, warehouse, first: str, second: str) -> None:
    """Both accounts at once (`first` started first), from two pipelines folders: both exit 0."""
    processes = {first: start(isolated, warehouse, first, f"host_{first}")}
    time.sleep(0.3)
    processes[second] = start(isolated, warehouse, second, f"host_{second}")
    for account, process in processes.items():
        code, output = finished(process)
        assert code == 0, f"{account}: {output}"


@pytest.mark.parametrize("sql_warehouse", ["duckdb", "postgres", "mariadb"], indirect=True)
def test_two_accounts_from_two_hosts_write_one_dataset_in_turns(sandbox, sql_warehouse, isolated, monkeypatch):
    warehouse = sql_warehouse
    configure(
        monkeypatch,
        "whop",
        api_key=sandbox.by_name["whop"].api_key,
        base_url=f"{sandbox.url}/api/v1",
        start_date=START.isoformat(),
        wallet_queries=QUERIES,
        lookback_days=3,
        accounts=[{"name": name, "account_id": biz} for name, biz in ACCOUNTS.items()],
    )
    sandbox.latency = 0.02
    # round 1: north first; south is killed while it writes and re-run at once, while north goes on
    north = start(isolated, warehouse, "north", "host_north")
    south = start(isolated, warehouse, "south", "host_south")
    try:
        kill_while_writing(sandbox, warehouse, south, "south")
    finally:
        end_process_group(south)
    again = start(isolated, warehouse, "south", "host_south")
    for process in (north, again):
        code, output = finished(process)
        assert code == 0, output
    assert_exact(sandbox, warehouse)
    # round 2: an upstream revision, then both at once, south first
    sandbox.revise(days=2)
    run_both(isolated, warehouse, "south", "north")
    assert_exact(sandbox, warehouse)


def transform(isolated, warehouse, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "metricsync", "transform", "--destination", warehouse.name],
        cwd=isolated,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def mart_holder(warehouse) -> int:
    """The pid holding the Postgres mart's lock (0: none)."""
    rows = warehouse.query(
        "select a.application_name from pg_locks l join pg_stat_activity a on a.pid = l.pid "
        "where l.locktype = 'advisory' and l.granted and l.classid = 28019 "
        "and l.objid::bigint = (hashtext('mart__metrics')::bigint & 4294967295)"
    )
    return int(rows[0][0].split()[2]) if rows else 0


@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)
def test_two_transforms_at_once_build_and_publish_one_after_the_other(sandbox, warehouse, run, isolated, monkeypatch):
    """A second `transform` while one builds exits 6 at once, naming it and the setting (waiting
    is the runs' own code, tested in test_warehouse_lock.py); the published mart equals the truth."""
    configure(
        monkeypatch,
        "statsig",
        api_key=sandbox.by_name["statsig"].api_key,
        base_url=sandbox.url,
        start_date=(TODAY - dt.timedelta(days=3)).isoformat(),
    )
    assert run("statsig", warehouse).ok
    # the raw values held by this test, so the first transform, once it holds the mart's lock, waits
    # in its dbt build until the second has tried (not a race with the first build's speed)
    holder = psycopg2.connect(warehouse.credentials)
    holder.cursor().execute(f"lock table {warehouse.dataset('statsig')}.metric_values in access exclusive mode")
    first = transform(isolated, warehouse)
    others = []
    try:
        deadline = time.monotonic() + 120
        while mart_holder(warehouse) != first.pid:
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.02)
        others = [transform(isolated, warehouse)]
        code, output = finished(others[0])
        assert code == 6, output
        assert output.startswith("transform: another transform is building the metrics mart (host "), output
        assert f", pid {first.pid}, run " in output
        assert output.strip().endswith("- wait for it to finish, or set TRANSFORM__LOCK_WAIT_SECONDS to wait for it")
        holder.rollback()  # the raw values released: the first build goes on
        code, output = finished(first)
        assert code == 0 and "transform: ok" in output, output
    finally:
        holder.close()
        for process in (first, *others):
            end_process_group(process)
    statsig = sandbox.by_name["statsig"]
    truth = {
        (day, item["metricName"], item["unitType"]): item["value"]
        for day in (TODAY - dt.timedelta(days=n) for n in range(4))
        for item in statsig.values_for(day)
    }
    rows = warehouse.query(
        "select period_start, series, dimension_value, value from metrics.fct_metric_values "
        "where provider = 'statsig' and metric = 'value' and grain = 'day'"
    )
    assert len(rows) == len(truth) and {(r[0], r[1], r[2]): float(r[3]) for r in rows} == pytest.approx(truth)


@pytest.mark.parametrize("warehouse", ["duckdb"], indirect=True)
def test_a_transform_told_to_wait_builds_once_the_other_is_done(warehouse, isolated):
    """While the mart's lock is held, `transform` exits 6 naming the holder; with
    TRANSFORM__LOCK_WAIT_SECONDS (as that line says) it waits, then runs (here: nothing loaded, exit 2)."""
    import dlt
    from metricsync import locks
    from metricsync.warehouse.destinations import make_destination

    mart = dlt.pipeline(
        pipeline_name="holder",
        pipelines_dir=str(isolated / "holder"),
        dataset_name="metrics",
        destination=make_destination("duckdb", "metrics"),
    )
    holder = locks.Owner()
    with locks.transform_lock(mart, owner=holder):
        refused = transform(isolated, warehouse)
        waiting = transform(isolated, warehouse, TRANSFORM__LOCK_WAIT_SECONDS="120")
        code, output = finished(refused)
        assert code == 6, output
        assert output.strip() == (
            f"transform: another transform is building the metrics mart ({holder.describe()}) - "
            "wait for it to finish, or set TRANSFORM__LOCK_WAIT_SECONDS to wait for it"
        )
        time.sleep(1.0)  # started with the refused one, which reached the lock and left
        assert waiting.poll() is None  # still waiting
    code, output = finished(waiting)
    assert code == 2 and output.startswith("transform: no provider is loaded in the duckdb warehouse"), output
