"""The Dagster recipe as documented in `deploy/dagster/definitions.py` (and the README), run as
written through the `dagster` CLI in child processes against the sandbox, with the accounts of
docs/scaling-out.md's "Many accounts" example: a partition materialized, a backfill without a
daemon, the dbt assets building the published mart, an unknown partition refused in one line, a
schedule started, `dagster dev` serving its UI and its daemon starting a run that `dagster job
launch` queued (the fan-out lines: tests/deploy/test_dagster_fanout.py). Each child's whole process group
is ended however the test ends (tests/support/processes.py). Minutes of `dagster` processes, so it
runs in `make test-dagster-cli` (CI, after `make test`) with METRICSYNC_DAGSTER_CLI=1 and skips
elsewhere, saying so."""

import json
import os
import re
import socket
import subprocess
import time
import urllib.request
from importlib import metadata
from pathlib import Path

import pytest
from support import ROOT, Warehouse, configure
from support.dagster import (
    ACCOUNTS,
    COMMANDS,
    SETUP,
    dagster_instance,
    shell_env,
)
from support.processes import run_shell, shell_process
from support.whop import KEY, START, WALLET_QUERIES, expected_wallet

if os.environ.get("METRICSYNC_DAGSTER_CLI") != "1":
    pytest.skip(
        "five `dagster` processes take minutes: `make test-dagster-cli` (CI) runs this file", allow_module_level=True
    )
if os.environ.get("METRICSYNC_REQUIRE_DAGSTER") != "1":  # CI: a missing extra fails, not skips
    pytest.importorskip("dagster", reason="the dagster extra is not installed (make test installs it)")

NIGHTLY, BACKFILL, TRANSFORM = [c for c in COMMANDS if c.startswith("dagster asset materialize")]
SCHEDULE = next(c for c in COMMANDS if c.startswith("dagster schedule start"))
DEV = next(c for c in COMMANDS if c.startswith("dagster dev"))
LAUNCH = next(c for c in COMMANDS if c.startswith("dagster job launch"))


def test_readme_shows_the_tested_commands():
    readme = ROOT / "docs" / "scaling-out.md"
    flat = re.sub(r"\\\n\s*", "", readme.read_text())
    missing = [c for c in COMMANDS if c not in flat]
    assert missing == []
    assert 'pip install -e ".[dagster]"' in COMMANDS


def test_the_dagster_extra_installs_the_webserver():
    """`dagster dev` needs dagster-webserver: the extra names it, and `make test` installed it."""
    extra = [r for r in metadata.requires("metricsync") or [] if 'extra == "dagster"' in r]
    assert any(r.startswith("dagster-webserver") for r in extra), extra
    assert metadata.version("dagster-webserver")


class Shell:
    """Runs a documented line with bash in the repository's root, as a user would after SETUP, with
    Whop (two accounts) pointed at the sandbox, HOME and dlt's data dir in a test folder."""

    def __init__(self, env: dict, warehouse: Warehouse, home: Path):
        self.env, self.warehouse, self.home = env, warehouse, home

    def run(self, line: str, ok: bool = True) -> str:
        """The line's output (stdout and stderr); it must succeed unless `ok` is False."""
        done = run_shell(f"{SETUP}\n{line}", self.env, timeout=420)
        assert (done.returncode == 0) == ok, done.stdout[-3000:]
        return done.stdout


@pytest.fixture
def shell(sandbox, monkeypatch, tmp_path) -> Shell:
    configure(
        monkeypatch,
        "whop",
        api_key=KEY,
        base_url=f"{sandbox.url}/api/v1",
        start_date=START.isoformat(),
        wallet_queries=WALLET_QUERIES[:1],
        accounts=ACCOUNTS,
    )
    warehouse = Warehouse("duckdb", str(tmp_path / "dagster.duckdb"))
    return Shell(shell_env(tmp_path, warehouse), warehouse, tmp_path / ".dagster")


@pytest.mark.timeout(900)  # five `dagster` processes and a dbt build: about a minute idle, much more on busy cores
def test_materialize_partitions_and_the_marts_without_a_daemon_then_start_a_schedule(sandbox, shell):
    """The documented lines in order: north's nightly, south's backfill, the dbt assets (the mart
    published with north's rows), a schedule turned on; an unknown partition fails in one line."""
    assert [a["name"] for a in ACCOUNTS] == ["north", "south"]
    shell.run(NIGHTLY)
    truth = expected_wallet(sandbox.by_name["whop"], WALLET_QUERIES[0], "biz_north")  # the account's own data
    expected = {k: a for k, (a, _c) in truth.items()}
    rows = shell.warehouse.query("select period, currency, amount, account from whop.wallet_time_series")
    assert {(p, c): a for p, c, a, _ in rows} == expected
    assert {account for *_, account in rows} == {"north"}

    sandbox.clear_log()
    shell.run(BACKFILL)
    seen = sandbox.seen("/api/v1/stats/time_series")
    assert {(r.arg("account_id"), r.arg("from")) for r in seen} == {("biz_south", "2026-01-01")}
    south = shell.warehouse.query(
        "select min(period), max(period) from whop.wallet_time_series where account = 'south'"
    )
    assert [(str(a), str(b)) for a, b in south] == [("2026-01-01", "2026-01-31")]

    shell.run(TRANSFORM)
    mart = shell.warehouse.query(
        "select period_start, currency, value from metrics.fct_metric_values where provider = 'whop' "
        f"and account = 'north' and series = '{WALLET_QUERIES[0]['name']}' and metric = 'amount'"
    )
    assert {(p, c): v for p, c, v in mart} == expected
    report = (shell.home.parent / "report.html").read_text()  # the report asset, after the mart
    assert "<html" in report and "north" in report and "<script" not in report

    unknown = shell.run(NIGHTLY.replace("--partition north", "--partition east"), ok=False)
    line = "whop: no account named east - the partitions are the configured accounts: north, south"
    assert line in unknown and "Traceback" not in unknown, unknown[-3000:]

    shell.run(SCHEDULE)
    with dagster_instance(shell.home) as instance:
        [state] = [s for s in instance.all_instigator_state() if s.name == "whop_nightly_schedule"]
        assert state.status.value == "RUNNING"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, seconds: float, what: str, child: subprocess.Popen, log: Path):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert child.poll() is None, (
            f"dagster dev exited ({child.returncode}) while waiting for {what}: {log.read_text()[-3000:]}"
        )
        found = check()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"no {what} after {seconds} s")


def test_dagster_dev_serves_and_its_daemon_runs_a_launched_backfill(sandbox, shell, tmp_path, monkeypatch):
    import dagster

    port, log = free_port(), tmp_path / "dev.log"
    with (
        log.open("w") as out,
        shell_process(f"{SETUP}\n{DEV} -h 127.0.0.1 -p {port}", shell.env, stdout=out, stderr=subprocess.STDOUT) as dev,
    ):

        def answers():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as response:
                    return json.load(response)
            except OSError:
                return None

        info = wait_for(answers, 300, "answer from the webserver", dev, log)
        assert "dagster_webserver_version" in info
        shell.run(LAUNCH)  # queues the run in DAGSTER_HOME; the daemon of `dagster dev` starts it
        monkeypatch.setenv("DAGSTER_HOME", str(shell.home))
        with dagster.DagsterInstance.get() as instance:

            def finished():
                runs = instance.get_runs(dagster.RunsFilter(job_name="whop_backfill"))
                return runs if runs and all(r.is_finished for r in runs) else None

            runs = wait_for(finished, 300, "finished whop_backfill run", dev, log)
        assert [(r.status, r.tags.get("dagster/partition")) for r in runs] == [
            (dagster.DagsterRunStatus.SUCCESS, "north")
        ]
        seen = sandbox.seen("/api/v1/stats/time_series")
        assert {(r.arg("account_id"), r.arg("from")) for r in seen} == {("biz_north", "2026-01-01")}
