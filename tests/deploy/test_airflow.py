"""The Airflow DAG (`deploy/airflow/metricsync_dag.py`) through Airflow's own CLI, as its docstring
shows it, in child processes against the sandbox: `airflow db migrate`, then `airflow dags test`
parses the DAG and runs its task (Whop's pipeline) into DuckDB; a misspelt setting fails the parse;
two accounts' mapped instances (`airflow tasks test ... --map-index`) run at once, each its account.

Airflow is heavy (a 620 MB venv, 2-4 minutes to install here), so it lives in its own venv: `make
test-airflow` (run by CI after `make test`) installs the `airflow` extra there and runs this file
with METRICSYNC_REQUIRE_AIRFLOW=1. Elsewhere the tests skip, saying so."""

import contextlib
import os
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pytest
from support import ROOT, Warehouse, configure
from support.processes import run_shell, shell_process, user_env
from support.whop import KEY, START, WALLET_QUERIES, expected_wallet

if os.environ.get("METRICSYNC_REQUIRE_AIRFLOW") != "1":
    pytest.importorskip("airflow", reason="Airflow is not installed here: `make test-airflow` (CI) runs this file")

DAG = ROOT / "deploy/airflow/metricsync_dag.py"


def documented_commands() -> list[str]:
    text = DAG.read_text()
    doc = text[3 : text.index('"""', 3)]
    return [line.strip() for line in doc.splitlines() if line.startswith("    ") and line.strip()]


SETUP, MIGRATE, DAGS_TEST, TASK_TEST = documented_commands()
ACCOUNTS = [{"name": "north", "account_id": "biz_north"}, {"name": "south", "account_id": "biz_south"}]


def test_the_docs_show_the_tested_commands():
    text = (ROOT / "docs" / "scaling-out.md").read_text()
    assert [c for c in documented_commands() if c not in text] == []
    assert 'pip install -e ".[airflow]"' in text


def test_the_airflow_extra_pins_the_airflow_that_is_tested():
    extra = [r for r in metadata.requires("metricsync") or [] if 'extra == "airflow"' in r]
    pinned = [re.match(r"apache-airflow==([\d.]+)", r) for r in extra]
    assert [m.group(1) for m in pinned if m] == [metadata.version("apache-airflow")]


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A HOME whose Airflow metadata database is migrated once, by the documented lines."""
    home = tmp_path_factory.mktemp("airflow-user")
    done = run_shell(f"{SETUP}\n{MIGRATE}", user_env(dict(os.environ), home))
    assert done.returncode == 0, done.stdout[-3000:]
    return home


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
    done = run_shell(f"{SETUP}\n{DAGS_TEST}", user_env(dict(os.environ), home))
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
    done = run_shell(f"{SETUP}\n{DAGS_TEST}", user_env(dict(os.environ), home))
    assert done.returncode != 0
    message = "whop: unknown setting lookbak_days (SOURCES__WHOP__LOOKBAK_DAYS) - did you mean lookback_days?"
    assert message in done.stdout
    assert sandbox.seen("/") == []


def test_two_accounts_mapped_instances_run_at_once_each_loading_its_account(home, sandbox, whop, monkeypatch, tmp_path):
    """The documented `airflow tasks test ... --map-index 1` (south) and the same line for north
    (`--map-index 0`), started together: two processes through the runner, taking turns at the
    DuckDB file, each landing its own account's rows exactly."""
    configure(monkeypatch, "whop", accounts=ACCOUNTS)
    assert TASK_TEST.endswith("--map-index 1")
    lines = {"south": TASK_TEST, "north": TASK_TEST.replace("--map-index 1", "--map-index 0")}
    # the second its own copy of the migrated metadata database: SQLite takes one writer, and
    # `tasks test` writes a temporary DAG run (a deployment's metadata database is Postgres)
    homes = {"south": home, "north": tmp_path / "second-home"}
    shutil.copytree(home, homes["north"], symlinks=True)
    copy = homes["north"] / "airflow" / "airflow.db"  # airflow.cfg names the first one's in full
    database = {"south": {}, "north": {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{copy}"}}
    assert copy.exists()
    with contextlib.ExitStack() as stack:
        children = {
            name: stack.enter_context(
                shell_process(
                    f"{SETUP}\n{line}",
                    user_env({**os.environ, **database[name]}, homes[name]),
                    text=True,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
            )
            for name, line in lines.items()
        }
        outputs = {name: child.communicate(timeout=600)[0] for name, child in children.items()}
    for name, child in children.items():
        assert child.returncode == 0, outputs[name][-3000:]
        assert f"whop (account {name}): ok" in outputs[name], outputs[name][-3000:]
    for name in lines:
        truth = expected_wallet(sandbox.by_name["whop"], WALLET_QUERIES[0], f"biz_{name}")
        rows = whop.query(f"select period, currency, amount from whop.wallet_time_series where account = '{name}'")
        assert {(p, c): a for p, c, a in rows} == {k: a for k, (a, _c) in truth.items()}, name
    seen = {r.arg("account_id") for r in sandbox.seen("/api/v1/stats/time_series")}
    assert seen == {"biz_north", "biz_south"}
