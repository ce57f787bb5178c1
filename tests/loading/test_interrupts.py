"""Ctrl-C and SIGTERM sent to a real `run all` (Whop then Statsig) in its own process: the whole
command stops (exit 130 / 143), one line per provider that did not finish ends `re-run to resume`,
committed loads stay, and the re-run completes the warehouse exactly."""

import os
import signal
import subprocess
import sys
import time

import pytest
import support.whop as whop
from support import ROOT
from support.statsig import VALUES, days, expected_values, warehouse_values
from support.statsig import setup as setup_statsig

WALLET = [
    {"name": "daily_all", "group_by": "day"},
    {"name": "weekly_usd", "group_by": "week", "convert_currency": "usd"},
]


def run_all(isolated, warehouse) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "metricsync",
            "run",
            "all",
            "--progress",
            "none",
            "--destination",
            warehouse.name,
            "--pipelines-dir",
            str(isolated / "pipelines"),
        ],
        cwd=isolated,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.mark.parametrize(
    "warehouse, signum, stop_in, code",
    [
        pytest.param("duckdb", signal.SIGINT, "whop", 130, id="duckdb-ctrl-c-in-the-first-provider"),
        pytest.param("postgres", signal.SIGTERM, "statsig", 143, id="postgres-sigterm-in-the-last-provider"),
    ],
    indirect=["warehouse"],
)
def test_a_signal_stops_the_whole_run_and_the_rerun_resumes_exactly(
    sandbox, warehouse, isolated, monkeypatch, signum, stop_in, code
):
    whop.setup_whop(monkeypatch, sandbox, wallet_queries=WALLET, metric_queries=None, windows_per_load=1)
    first = setup_statsig(monkeypatch, sandbox, 30, windows_per_load=2, max_concurrency=1)
    sandbox.latency = 0.5 if stop_in == "whop" else 0.15  # Whop has few windows: slow them down
    path, seen = ("/api/v1/stats/", 1) if stop_in == "whop" else (VALUES, 6)
    process = run_all(isolated, warehouse)
    try:
        wait_until(lambda: len(sandbox.seen(path)) >= seen, f"{stop_in} never started")
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    assert process.returncode == code, err
    lines = [line for line in err.splitlines() if "re-run to resume" in line]
    if stop_in == "whop":
        assert [line.split(":")[0] for line in lines] == ["whop", "statsig"], err
        assert lines[1] == "statsig: interrupted before it finished - re-run to resume"
        assert not sandbox.seen(VALUES)  # the run stopped: Statsig never began
    else:
        assert out.startswith("whop: ok - ")
        assert len(lines) == 1 and lines[0].startswith("statsig: interrupted after "), err
        assert warehouse_values(warehouse)  # the loads committed before the signal stayed
    assert "Traceback" not in err
    sandbox.latency = 0.0
    resumed = run_all(isolated, warehouse)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    emulator = sandbox.by_name["whop"]
    for query in WALLET:
        assert whop.loaded_wallet(warehouse, query["name"]) == whop.expected_wallet(emulator, query), query["name"]
    assert warehouse_values(warehouse) == expected_values(sandbox.by_name["statsig"], days(first))


SLOW_CLEANUP = """
import os, signal, sys, time
from metricsync.interrupts import handled
with handled():
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(30)
    except KeyboardInterrupt:
        print("first signal: cleaning up", flush=True)
        time.sleep(60)  # a cleanup that would hold the command
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_second_signal_exits_at_once_during_the_first_ones_cleanup(isolated, signum):
    """The first signal starts an orderly stop; a second one while that stop is still under way (here
    a 60 s cleanup) ends the process at once with 128 + signal."""
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_CLEANUP],
        cwd=isolated,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,
    )
    try:
        assert process.stdout.readline() == "first signal: cleaning up\n"
        process.send_signal(signum)
        process.wait(timeout=20)  # long before the cleanup would end
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    assert process.returncode == 128 + signum
