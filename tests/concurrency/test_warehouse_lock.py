"""One writer per pipeline: real processes with separate pipeline folders (two "hosts") or the
same one load one provider into one DuckDB file or Postgres database. The second waits up to
`lock_wait_seconds`, else exits 6 naming the holder and the setting (as the README shows it); a
crashed holder never blocks; the tables are checked row for row afterwards. Lock rows of other
warehouses (MariaDB) expire by the warehouse's clock."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from support import ROOT
from support.statsig import days, expected_values, setup, warehouse_values

DAYS = 40


def start(isolated, warehouse, folder: str, **env: str) -> subprocess.Popen:
    """`metricsync run statsig` in its own process group, with its own pipelines folder."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "metricsync",
            "run",
            "statsig",
            "--progress",
            "none",
            "--destination",
            warehouse.name,
            "--pipelines-dir",
            str(isolated / folder),
        ],
        cwd=isolated,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


def stop(*processes: subprocess.Popen) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def wait_for_requests(sandbox, count: int = 3) -> None:
    """Until the first process is fetching (it takes the lock before its first request)."""
    deadline = time.monotonic() + 120
    while len(sandbox.seen("/console/v1/metrics/values")) < count:
        assert time.monotonic() < deadline, "the first run never started fetching"
        time.sleep(0.05)


def assert_exact(warehouse, sandbox, first) -> None:
    statsig = sandbox.by_name["statsig"]
    assert warehouse_values(warehouse) == expected_values(statsig, days(first))
    current = warehouse.query("select count(*), count(distinct id) from statsig.metrics where _dlt_valid_to is null")
    assert current == [(len(statsig.metrics()), len(statsig.metrics()))]


HOLDER = r"\(host [^,]+, pid \d+, run [0-9a-f]{8}, since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)"


def shape(line: str, provider: str, pipeline: str) -> str:
    """A lock message with its holder, provider and pipeline replaced by placeholders."""
    line = re.sub(HOLDER, "(HOLDER)", line).replace(pipeline, "PIPELINE")
    return line.replace(f"SOURCES__{provider.upper()}__", "SOURCES__PROVIDER__").replace(f"{provider}: ", "PROVIDER: ")


def documented_lock_messages() -> set[str]:
    """The exit-6 examples of the README's exit code table, shaped."""
    row = next(
        line for line in (ROOT / "docs" / "getting-started.md").read_text().splitlines() if line.startswith("| 6 |")
    )
    return {shape(m, "whop", "whop__postgres") for m in re.findall(r"`(whop: [^`]+)`", row)}


def test_a_second_writer_exits_6_naming_the_holder_then_waits_when_told_to(sandbox, warehouse, isolated, monkeypatch):
    """From another host (pipelines folder) the warehouse lock refuses it, from the same folder the
    lock of this machine does; both lines name the holder and the setting, as the README shows them."""
    first = setup(monkeypatch, sandbox, DAYS, windows_per_load=20, max_concurrency=2)
    sandbox.latency = 0.1
    holder = start(isolated, warehouse, "host_a")
    refused, waiting = [], None
    try:
        wait_for_requests(sandbox)
        refused = [start(isolated, warehouse, "host_b"), start(isolated, warehouse, "host_a")]
        lines = []
        for process in refused:
            code, out, err = finish(process)
            assert (code, out) == (6, ""), err
            lines.append(err.strip())
            assert re.search(rf", pid {holder.pid}, run [0-9a-f]{{8}}, since ", err), err
        pipeline = f"statsig__{warehouse.name}"
        assert lines[0].startswith(f"statsig: another run of {pipeline} holds the warehouse lock (host "), lines[0]
        on_this_machine = f"statsig: another run of {pipeline} holds its lock on this machine (host "
        assert lines[1].startswith(on_this_machine), lines[1]
        assert {shape(line, "statsig", pipeline) for line in lines} <= documented_lock_messages(), lines
        waiting = start(isolated, warehouse, "host_b", SOURCES__STATSIG__LOCK_WAIT_SECONDS="240")
        assert finish(holder)[0] == 0
        code, out, err = finish(waiting)
        assert code == 0, err
        assert out.startswith("statsig: ok - ")
    finally:
        stop(holder, *refused, *(p for p in (waiting,) if p))
    assert_exact(warehouse, sandbox, first)


def test_a_crashed_holder_does_not_block_the_next_run(sandbox, warehouse, isolated, monkeypatch):
    first = setup(monkeypatch, sandbox, DAYS, windows_per_load=20, max_concurrency=2)
    sandbox.latency = 0.1
    crashed = start(isolated, warehouse, "host_a")
    try:
        wait_for_requests(sandbox)
        os.killpg(crashed.pid, signal.SIGKILL)
        crashed.wait(timeout=30)
    finally:
        stop(crashed)
    sandbox.latency = 0.0
    after = start(isolated, warehouse, "host_b")
    try:
        code, out, err = finish(after)
    finally:
        stop(after)
    assert code == 0, err
    assert_exact(warehouse, sandbox, first)


@pytest.mark.parametrize("sql_warehouse", ["mariadb"], indirect=True)
def test_lock_rows_on_other_warehouses_name_the_holder_and_expire_by_the_warehouse_clock(isolated, sql_warehouse):
    """MariaDB (dlt's sqlalchemy destination): the lock row names its holder (host, pid, run id,
    since), is taken over once its heartbeat is a minute old by the warehouse's clock, or at once
    when left by a dead process this one can see (same host, boot and pid namespace), never when
    left by a process of another pid namespace (a container with the same hostname)."""
    import dlt
    from metricsync import locking
    from metricsync.warehouse.destinations import make_destination
    from support import _mariadb_query

    dataset = sql_warehouse.dataset("statsig")
    pipeline = dlt.pipeline(
        pipeline_name="statsig__sqlalchemy",
        pipelines_dir=str(isolated / "p"),
        destination=make_destination("sqlalchemy", dataset),
        dataset_name=dataset,
    )

    def change(assignments: str) -> None:
        _mariadb_query(
            sql_warehouse.credentials, f"update {dataset}._metricsync_locks set {assignments}", autocommit=True
        )

    def beat(seconds_ago: int) -> str:  # the warehouse's clock, as the lock writes it
        return f"beat = date_format(current_timestamp - interval {seconds_ago} second, '%Y-%m-%dT%H:%i:%s')"

    def crashed() -> locking.Owner:
        owner = locking.Owner()
        lock = locking.make_lock(pipeline, "statsig__sqlalchemy", owner)
        assert lock.try_acquire() is None
        lock._stop.set()  # its heartbeat stops and its row stays, as after a crash
        return owner

    holder = locking.Owner()
    first = locking.make_lock(pipeline, "statsig__sqlalchemy", holder)
    assert first.try_acquire() is None
    held = locking.make_lock(pipeline, "statsig__sqlalchemy").try_acquire()
    assert held.startswith(f"host {holder.host}, pid {holder.pid}, run {holder.run[:8]}, since "), held
    first.release()
    crashed()
    change("pid = 4194305")  # a pid no process of this host has
    assert locking.make_lock(pipeline, "statsig__sqlalchemy").try_acquire() is None  # taken over at once
    change("pid = 4194305, pid_space = 'another-container'")
    assert locking.make_lock(pipeline, "statsig__sqlalchemy").try_acquire() is not None  # alive, as far as we know
    change(beat(30))
    assert locking.make_lock(pipeline, "statsig__sqlalchemy").try_acquire() is not None  # a beat 30 s ago: alive
    change(beat(61))
    last = locking.make_lock(pipeline, "statsig__sqlalchemy")
    assert last.try_acquire() is None  # no heartbeat for a minute: taken over
    last.release()
    assert _mariadb_query(sql_warehouse.credentials, f"select count(*) from {dataset}._metricsync_locks") == [(0,)]


def test_a_turn_at_a_dataset_waits_for_its_writer_then_exits_6_naming_it(isolated, sql_warehouse):
    """The write turn of a dataset (what every state restore and load takes) is one writer's at a
    time on every warehouse kind, and a wait for it is bounded: past it, exit 6 naming the writer."""
    import dlt
    from metricsync import locking
    from metricsync.warehouse.destinations import make_destination

    dataset = sql_warehouse.dataset("whop")

    def pipeline(name: str):
        return dlt.pipeline(
            pipeline_name=name,
            pipelines_dir=str(isolated / name),
            dataset_name=dataset,
            destination=make_destination(sql_warehouse.name, dataset),
        )

    writer = locking.Owner()
    with locking.write_turn(pipeline("whop__north"), "whop", owner=writer):
        started = time.monotonic()
        with pytest.raises(locking.RunInProgress) as refused:
            with locking.write_turn(pipeline("whop__south"), "whop", 0.5, at_least=0.2):
                pass
        assert 0.5 <= time.monotonic() - started < 10
    message, holder = str(refused.value), f"host {writer.host}, pid {writer.pid}, run {writer.run[:8]}, since "
    what = f"the DuckDB file {sql_warehouse.credentials}" if sql_warehouse.name == "duckdb" else f"dataset {dataset}"
    assert message.startswith(f"whop: another run kept writing {what} for over 0.5s ({holder}"), message
    assert message.endswith(" UTC) - wait for it to finish, or set SOURCES__WHOP__LOCK_WAIT_SECONDS to wait longer")
    with locking.write_turn(pipeline("whop__south"), "whop", at_least=0):  # free again
        pass
