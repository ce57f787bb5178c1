"""The Airflow DAG (`deploy/airflow/metricsync_dag.py`) through Airflow's own CLI, as its docstring
shows it, in child processes against the sandbox: `airflow db migrate`, then `airflow dags test`
parses the DAG and runs its task (Whop's pipeline) into DuckDB; a misspelt setting fails the parse.

Airflow is heavy (a 620 MB venv, 2-4 minutes to install here), so it lives in its own venv: `make
test-airflow` (run by CI after `make test`) installs the `airflow` extra there and runs this file
with METRICSYNC_REQUIRE_AIRFLOW=1. Elsewhere the tests skip, saying so."""

import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from support import ROOT, Warehouse, configure
from support.processes import run_command
from support.whop import KEY, START, WALLET_QUERIES, expected_wallet

if os.environ.get("METRICSYNC_REQUIRE_AIRFLOW") != "1":
    pytest.importorskip("airflow", reason="Airflow is not installed here: `make test-airflow` (CI) runs this file")

DAG = ROOT / "deploy/airflow/metricsync_dag.py"


def documented_commands() -> list[str]:
    text = DAG.read_text()
    doc = text[3 : text.index('"""', 3)]
    return [line.strip() for line in doc.splitlines() if line.startswith("    ") and line.strip()]


SETUP, MIGRATE, DAGS_TEST = documented_commands()


def test_the_airflow_extra_pins_the_airflow_that_is_tested():
    extra = [r for r in metadata.requires("metricsync") or [] if 'extra == "airflow"' in r]
    pinned = [re.match(r"apache-airflow==([\d.]+)", r) for r in extra]
    assert [m.group(1) for m in pinned if m] == [metadata.version("apache-airflow")]


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A HOME whose Airflow metadata database is migrated once, by the documented lines."""
    home = tmp_path_factory.mktemp("airflow-user")
    done = bash(home, f"{SETUP}\n{MIGRATE}", dict(os.environ))
    assert done.returncode == 0, done.stdout[-3000:]
    return home


def bash(home: Path, script: str, env: dict) -> subprocess.CompletedProcess:
    """`script` with bash in the repository's root, as a user would type it (its process group ended)."""
    env = {**env, "HOME": str(home), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return run_command(
        ["bash", "-ec", script],
        timeout=600,
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@pytest.fixture
def whop(sandbox, monkeypatch, tmp_path) -> Warehouse:
    configure(
        monkeypatch,
        "whop",
        api_key=KEY,
        base_url=f"{sandbox.url}/api/v1",
        start_date=START.isoformat(),
        wallet_queries=WALLET_QUERIES[:1],
    )
    warehouse = Warehouse("duckdb", str(tmp_path / "airflow.duckdb"))
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", warehouse.credentials)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    return warehouse


def test_dags_test_parses_the_dag_and_runs_its_task(home, sandbox, whop):
    done = bash(home, f"{SETUP}\n{DAGS_TEST}", dict(os.environ))
    assert done.returncode == 0, done.stdout[-3000:]
    assert "whop__duckdb" in done.stdout  # the task of Whop's pipeline ran
    for lock in ("whop__duckdb", "writer"):  # through the runner, which took its locks (files beside the DuckDB file)
        assert Path(f"{whop.credentials}.{lock}.lock").exists(), lock
    expected = {k: a for k, (a, _c) in expected_wallet(sandbox.by_name["whop"], WALLET_QUERIES[0]).items()}
    rows = whop.query("select period, currency, amount from whop.wallet_time_series")
    assert {(p, c): a for p, c, a in rows} == expected
    recorded = whop.query("select provider, exit_code, arguments from metricsync_history.runs")  # the callback
    assert [(p, c, a.split()[:2]) for p, c, a in recorded] == [("whop", 0, ["airflow", "metricsync_nightly"])]


def test_a_misspelt_setting_fails_the_parse_before_any_request(home, sandbox, whop, monkeypatch):
    monkeypatch.setenv("SOURCES__WHOP__LOOKBAK_DAYS", "3")
    done = bash(home, f"{SETUP}\n{DAGS_TEST}", dict(os.environ))
    assert done.returncode != 0
    message = "whop: unknown setting lookbak_days (SOURCES__WHOP__LOOKBAK_DAYS) - did you mean lookback_days?"
    assert message in done.stdout
    assert sandbox.seen("/") == []
