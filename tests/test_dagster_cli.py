"""The Dagster recipe as documented in `deploy/dagster/definitions.py` (and the README), run as
written through the `dagster` CLI in child processes against the sandbox: a partition
materialized, a backfill without a daemon, `dagster dev` serving its UI and its daemon starting a
run that `dagster job launch` queued. Each child process group is ended in `finally`."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from importlib import metadata
from pathlib import Path

import pytest

from conftest import ROOT, Warehouse, configure
from test_whop import KEY, START, WALLET_QUERIES, expected_wallet

if os.environ.get("METRICSYNC_REQUIRE_DAGSTER") != "1":  # CI: a missing extra fails, not skips
    pytest.importorskip("dagster", reason="the dagster extra is not installed (make test installs it)")

DEFINITIONS = ROOT / "deploy/dagster/definitions.py"
ACCOUNTS = [{"name": "north", "account_id": "biz_north"}, {"name": "east", "account_id": "biz_east"}]


def documented_commands() -> list[str]:
    """The shell lines of the definitions' docstring (indented blocks; `\\` continues a line)."""
    text = DEFINITIONS.read_text()
    doc = text[3:text.index('"""', 3)]
    joined = re.sub(r"\\\n\s*", "", doc)
    return [line.strip() for line in joined.splitlines() if line.startswith("    ") and line.strip()]


COMMANDS = documented_commands()
SETUP = next(c for c in COMMANDS if c.startswith("mkdir"))
NIGHTLY, BACKFILL = [c for c in COMMANDS if c.startswith("dagster asset materialize")]
DEV = next(c for c in COMMANDS if c.startswith("dagster dev"))
LAUNCH = next(c for c in COMMANDS if c.startswith("dagster job launch"))


def test_readme_shows_the_tested_commands():
    readme = ROOT / "README.md"
    flat = re.sub(r"\\\n\s*", "", readme.read_text())
    missing = [c for c in COMMANDS if c not in flat]
    assert missing == []
    assert 'pip install -e ".[dagster]"' in COMMANDS


def test_the_dagster_extra_installs_the_webserver():
    """`dagster dev` needs dagster-webserver: the extra names it, and `make test` installed it."""
    extra = [r for r in metadata.requires("metricsync") or [] if 'extra == "dagster"' in r]
    assert any(r.startswith("dagster-webserver") for r in extra), extra
    assert metadata.version("dagster-webserver")


@pytest.fixture
def shell(sandbox, monkeypatch, tmp_path):
    """Runs a documented line with bash in the repository's root, as a user would after SETUP, with
    Whop (two accounts) pointed at the sandbox, HOME and dlt's data dir in `tmp_path`."""
    configure(monkeypatch, "whop", api_key=KEY, base_url=f"{sandbox.url}/api/v1", start_date=START.isoformat(),
              wallet_queries=WALLET_QUERIES[:1], accounts=ACCOUNTS)
    warehouse = Warehouse("duckdb", str(tmp_path / "dagster.duckdb"))
    env = {**os.environ, "HOME": str(tmp_path), "DLT_DATA_DIR": str(tmp_path / "dlt"),
           "DESTINATION__DUCKDB__CREDENTIALS": warehouse.credentials,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    def start(command: str, **popen) -> subprocess.Popen:
        return subprocess.Popen(["bash", "-ec", f"{SETUP}\n{command}"], cwd=ROOT, env=env, text=True,
                                start_new_session=True, **popen)

    start.warehouse = warehouse
    start.home = tmp_path / ".dagster"
    return start


def run(start, command: str) -> None:
    child = start(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = child.communicate(timeout=420)
    finally:
        stop(child)
    assert child.returncode == 0, out[-3000:]


def stop(child: subprocess.Popen) -> None:
    """End the child's whole process group: SIGTERM, up to 30 s to exit, then SIGKILL for anything left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass


def test_materialize_a_partition_then_backfill_without_a_daemon(sandbox, shell):
    run(shell, NIGHTLY)
    expected = {k: a for k, (a, _c) in expected_wallet(sandbox.by_name["whop"], WALLET_QUERIES[0]).items()}
    rows = shell.warehouse.query("select period, currency, amount, account from whop.wallet_time_series")
    assert {(p, c): a for p, c, a, _ in rows} == expected
    assert {account for *_, account in rows} == {"north"}

    sandbox.clear_log()
    run(shell, BACKFILL)
    seen = sandbox.seen("/api/v1/stats/time_series")
    assert {(r.arg("account_id"), r.arg("from")) for r in seen} == {("biz_east", "2026-01-01")}
    east = shell.warehouse.query("select min(period), max(period) from whop.wallet_time_series where account = 'east'")
    assert [(str(a), str(b)) for a, b in east] == [("2026-01-01", "2026-01-31")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, seconds: float, what: str, child: subprocess.Popen):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert child.poll() is None, f"dagster dev exited ({child.returncode}) while waiting for {what}"
        found = check()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"no {what} after {seconds} s")


def test_dagster_dev_serves_and_its_daemon_runs_a_launched_backfill(sandbox, shell, tmp_path, monkeypatch):
    import dagster

    port = free_port()
    log = (tmp_path / "dev.log").open("w")
    dev = shell(f"{DEV} -h 127.0.0.1 -p {port}", stdout=log, stderr=subprocess.STDOUT)
    try:
        def answers():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as response:
                    return json.load(response)
            except OSError:
                return None

        info = wait_for(answers, 300, "answer from the webserver", dev)
        assert "dagster_webserver_version" in info
        run(shell, LAUNCH)  # queues the run in DAGSTER_HOME; the daemon of `dagster dev` starts it
        monkeypatch.setenv("DAGSTER_HOME", str(shell.home))
        with dagster.DagsterInstance.get() as instance:
            def finished():
                runs = instance.get_runs(dagster.RunsFilter(job_name="whop_backfill"))
                return runs if runs and all(r.is_finished for r in runs) else None
            runs = wait_for(finished, 300, "finished whop_backfill run", dev)
        assert [(r.status, r.tags.get("dagster/partition")) for r in runs] == [(dagster.DagsterRunStatus.SUCCESS, "north")]
        seen = sandbox.seen("/api/v1/stats/time_series")
        assert {(r.arg("account_id"), r.arg("from")) for r in seen} == {("biz_north", "2026-01-01")}
    finally:
        stop(dev)
        log.close()
