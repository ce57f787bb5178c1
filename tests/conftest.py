"""Shared fixtures: the sandbox on loopback, an isolated working dir, and warehouses to load into.

Tests run real pipelines (`metricsync.runner.run_provider`) against the in-process sandbox and
assert on the rows in DuckDB/Postgres and on the requests the sandbox saw.
"""

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
from metricsync.sandbox import Sandbox  # noqa: E402
from metricsync.sandbox.data import utc_now  # noqa: E402
from support import cpu_report
from support.clock import seconds_to_wait_for_midnight
from support.processes import child_process, end_leftover_children  # noqa: E402
from support.project import ROOT, built_once, loaded_settings
from support.servers import MARIADB_ADMIN, _mariadb_available, _mariadb_query, require
from support.warehouses import Warehouse, _warehouse


def pytest_configure(config: pytest.Config) -> None:
    """Runs before any test module is imported (and, under xdist, before the workers start)."""
    cpu_report.register(config)  # METRICSYNC_CPU_REPORT=path: CPU seconds per test file
    wait = seconds_to_wait_for_midnight(utc_now())
    if wait and not os.environ.get("PYTEST_XDIST_WORKER"):
        print(
            f"metricsync tests: waiting {wait:.0f} s for 00:00 UTC, so that the run does not cross it",
            file=sys.stderr,
            flush=True,
        )
        time.sleep(wait)


# the files with the most test time (`--durations=0`, and CPU seconds per file: METRICSYNC_CPU_REPORT,
# tests/support/cpu_report.py; docs/development.md), started first: with `--dist loadfile
# --no-loadscope-reorder` each file goes whole to the next free worker, so a long file started last
# would run on alone at the end. In the order of their wall time in a whole `make test` (idle machine)
LONGEST_FIRST = (
    "test_semantic.py",
    "test_transform.py",
    "test_verify.py",
    "test_mart.py",
    "test_semantic_warm.py",
    "test_incremental.py",
    "test_operator_cli.py",
    "test_operator_edges.py",
    "test_dataset_locks.py",
    "test_fault_matrix.py",
    "test_hints.py",
    "test_wheel.py",
    "test_exactness.py",
    "test_demo.py",
    "test_warehouse_lock.py",
    "test_report.py",
    "test_many_accounts.py",
)


def pytest_collection_modifyitems(items: list) -> None:
    """The longest files first (`LONGEST_FIRST`), the others in their order; tests within a file keep theirs."""

    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable


LEFTOVERS = "leftover_children"  # a pytest-xdist worker's report of the children it had to kill
LEFTOVERS_KEY = pytest.StashKey[list]()  # the controller's: every worker's report


def _report_leftovers(session: pytest.Session, lines: list) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write_line(
            "child processes still alive at the end of the run (now killed):\n" + "\n".join(lines), red=True
        )
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist (the controller): keep what a worker found left alive, failed at the end of the run."""
    node.config.stash.setdefault(LEFTOVERS_KEY, []).extend(node.workeroutput.get(LEFTOVERS, []))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a test left a child process alive (a hang or an orphan), and end it. Under
    pytest-xdist each worker checks its own children and hands its lines to the controller, whose
    own children are the workers."""
    config = session.config
    if hasattr(config, "workerinput"):
        config.workeroutput[LEFTOVERS] = end_leftover_children()
        return
    if config.pluginmanager.has_plugin("dsession"):
        lines = config.stash.get(LEFTOVERS_KEY, [])
    else:
        lines = end_leftover_children()
    if lines:
        _report_leftovers(session, lines)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Sandbox]:
    box = Sandbox().start()
    yield box
    box.stop()


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    """The shared sandbox, reset (log, faults, revisions, settings) for each test."""
    sandbox_server.reset()
    sandbox_server.latency = 0.0
    sandbox_server.max_in_flight = None
    sandbox_server.clock = utc_now
    return sandbox_server


def _logs_to_open_streams() -> None:
    """A log handler an earlier in-process command made (dlt's own, the root's) still writes to that
    test's captured stderr, closed since: point it at this test's (pytest's own handlers are open)."""
    import logging

    for logger in (logging.getLogger(), logging.getLogger("dlt")):
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and getattr(handler.stream, "closed", False):
                with handler.lock:  # not setStream: it flushes the closed stream first
                    handler.stream = sys.stderr


@pytest.fixture(autouse=True)
def forget_toml_files(isolated: Path) -> Iterator[None]:
    """dlt keeps the TOML files it read (per process): after each test, forget that test's, so a
    `.dlt/config.toml` one test wrote is never read by the next one in the same worker. It takes
    `isolated` so that the reload runs in the test's own folder (before the working directory goes
    back to the repository, whose `.dlt/` must not be read either)."""
    yield
    if "dlt" in sys.modules:
        from support.config import reload_config

        reload_config()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test in its own directory (no .dlt config from the repo) with a clean environment."""
    _logs_to_open_streams()
    for name in list(os.environ):
        if name.startswith(
            ("SOURCES__", "DESTINATION__", "RUNTIME__", "NORMALIZE__", "LOAD__", "EXTRACT__", "METRICSYNC__")
        ) or name in (
            "DATASET_PREFIX",
            "DATASET_NAME",
            "DESTINATION_NAME",
            "DESTINATION_TYPE",
            "METRICSYNC_DESTINATION",
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")  # no test talks to the internet
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_data"))
    # dbt's artifacts and logs in this test's directory, not the repository's transform/ (which
    # tests running beside it, under pytest-xdist, would write too)
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "dbt_target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "dbt_logs"))
    return tmp_path


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Warehouse]:
    """Each test that takes it runs once per destination."""
    yield from _warehouse(request.param, tmp_path, monkeypatch)


@pytest.fixture(params=["duckdb", "postgres", "mariadb"])
def sql_warehouse(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Warehouse]:
    """DuckDB, Postgres and MariaDB (dlt's `sqlalchemy` destination with pymysql), each with a
    unique `dataset_prefix`: on MariaDB a dataset is a database, shared by the whole server."""
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    monkeypatch.setenv("DATASET_PREFIX", prefix)
    if request.param != "mariadb":
        for warehouse in _warehouse(request.param, tmp_path, monkeypatch):
            warehouse.prefix = prefix
            yield warehouse
        return
    require("METRICSYNC_REQUIRE_MARIADB", _mariadb_available(), f"MariaDB at {MARIADB_ADMIN}")
    database = f"{prefix}db"
    _mariadb_query(MARIADB_ADMIN, f"create database {database}", autocommit=True)
    credentials = MARIADB_ADMIN.rsplit("/", 1)[0] + f"/{database}"
    monkeypatch.setenv("DESTINATION__SQLALCHEMY__CREDENTIALS", credentials)
    try:
        yield Warehouse("sqlalchemy", credentials, prefix)
    finally:
        for (name,) in _mariadb_query(MARIADB_ADMIN, f"show databases like '{prefix}%'"):
            _mariadb_query(MARIADB_ADMIN, f"drop database if exists `{name}`", autocommit=True)


@pytest.fixture
def run(isolated: Path):
    """`run(provider, warehouse, backfill=None, **kw)` -> ProviderResult, with this test's
    pipelines dir (delete it to simulate a fresh machine)."""
    from metricsync.runner import run_provider

    def _run(provider: str, warehouse: Optional[Warehouse] = None, backfill=None, **kw: Any):
        destination = warehouse.name if warehouse else "duckdb"
        return run_provider(provider, destination, backfill, str(isolated / "pipelines"), **kw)

    return _run


def _load_all(folder: Path) -> None:
    """`run all --transform` from a sandbox of its own into `folder`."""
    box = Sandbox().start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
        env.update(
            loaded_settings(box),
            PYTHONPATH=str(ROOT),
            RUNTIME__DLTHUB_TELEMETRY="false",
            DESTINATION__DUCKDB__CREDENTIALS=str(folder / "warehouse.duckdb"),
            DLT_DATA_DIR=str(folder / "dlt_data"),
            DBT_TARGET_PATH=str(folder / "dbt_target"),
            DBT_LOG_PATH=str(folder / "dbt_logs"),
        )
        with child_process(
            [
                sys.executable,
                "-m",
                "metricsync",
                "run",
                "all",
                "--transform",
                "--progress",
                "none",
                "--pipelines-dir",
                str(folder / "pipelines"),
            ],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as child:
            out, _ = child.communicate(timeout=600)
        assert child.returncode == 0, out
    finally:
        box.stop()


@pytest.fixture(scope="session")
def loaded_duckdb_origin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per run (shared by pytest-xdist's workers), as users run it: `run all --transform`
    (every provider, then dbt's marts) from a sandbox of its own (so no test's request log sees it)
    into `warehouse.duckdb`, with `pipelines/`. Use `loaded_duckdb`, which copies it."""
    return built_once(tmp_path_factory, "loaded", _load_all)


@pytest.fixture
def loaded_duckdb(
    loaded_duckdb_origin: Path, sandbox: Sandbox, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> Warehouse:
    """This test's copy of the session's loaded warehouse (every provider and the marts), its
    `pipelines/` in the working directory, and every provider's settings pointed at `sandbox`.

    def test_status(loaded_duckdb, capsys):
        main(["status", "--pipelines-dir", "pipelines"])
    """
    shutil.copy(loaded_duckdb_origin / "warehouse.duckdb", isolated / "warehouse.duckdb")
    shutil.copytree(loaded_duckdb_origin / "pipelines", isolated / "pipelines")
    for name, value in loaded_settings(sandbox).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "warehouse.duckdb"))
    return Warehouse("duckdb", str(isolated / "warehouse.duckdb"))
