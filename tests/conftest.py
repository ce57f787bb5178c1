"""Shared fixtures: the sandbox on loopback, an isolated working dir, and warehouses to load into.

Tests run real pipelines (`metricsync.runner.run_provider`) against the in-process sandbox and
assert on the rows in DuckDB/Postgres and on the requests the sandbox saw.
"""

import datetime as dt
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from metricsync.sandbox import Sandbox  # noqa: E402
from metricsync.sandbox.data import utc_now  # noqa: E402
from processes import child_process, end_leftover_children  # noqa: E402

POSTGRES_ADMIN = os.environ.get("METRICSYNC_TEST_POSTGRES", "postgresql://postgres:postgres@127.0.0.1:5432/postgres")
MARIADB_ADMIN = os.environ.get("METRICSYNC_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/mysql")
REQUIRE_POSTGRES = os.environ.get("METRICSYNC_REQUIRE_POSTGRES") == "1"
REQUIRE_MARIADB = os.environ.get("METRICSYNC_REQUIRE_MARIADB") == "1"
# a run starting this close to 00:00 UTC waits for it (the longest suite run seen on a busy 2-core machine: ~25 min)
MIDNIGHT_GUARD = dt.timedelta(minutes=30)


def today() -> dt.date:
    """Today (UTC) by the one clock the runner and the sandbox read: the real date, or the date
    `METRICSYNC_TODAY` sets (README "Testing"). Call it in a test module, not at conftest import:
    `pytest_configure` may first wait for midnight."""
    return utc_now().date()


def clock_env() -> dict:
    """`METRICSYNC_TODAY` when set, for a child process given a minimal environment (a cron line's)."""
    return {k: v for k, v in os.environ.items() if k == "METRICSYNC_TODAY"}


def require(variable: str, problem: Optional[str], what: str) -> None:
    """Skip a test whose prerequisite (`what`) is missing, or fail it when `variable` is 1 (CI sets
    every `METRICSYNC_REQUIRE_*`, so nothing is skipped there unseen)."""
    if problem:
        if os.environ.get(variable) == "1":
            pytest.fail(f"{what} is required ({variable}=1) but missing: {problem}")
        pytest.skip(f"{what} missing ({problem}); {variable}=1 makes this a failure")


def require_module(module: str, variable: str, what: str) -> Any:
    """`pytest.importorskip` that fails instead when `variable` is 1."""
    try:
        return __import__(module)
    except ImportError as exc:
        require(variable, str(exc), what)


def seconds_to_wait_for_midnight(now: dt.datetime, guard: dt.timedelta = MIDNIGHT_GUARD) -> float:
    """How long a run starting at `now` (UTC) waits so that it does not cross 00:00 UTC: test modules,
    the sandbox and the runner each take "today" from the UTC clock, and a run crossing midnight would
    compare one day's expectations with the next day's loads. 0 outside the last `guard` of the day."""
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    left = (midnight - now).total_seconds()
    return left + 5 if left < guard.total_seconds() else 0.0


def pytest_configure(config: pytest.Config) -> None:
    """Runs before any test module is imported (and, under xdist, before the workers start)."""
    wait = seconds_to_wait_for_midnight(utc_now())
    if wait and not os.environ.get("PYTEST_XDIST_WORKER"):
        print(
            f"metricsync tests: waiting {wait:.0f} s for 00:00 UTC, so that the run does not cross it",
            file=sys.stderr,
            flush=True,
        )
        time.sleep(wait)


# the files with the most test time (`--durations=0`; README "Testing"), started first: with `--dist
# loadfile --no-loadscope-reorder` each file goes whole to the next free worker, so a long file started
# last would run on alone at the end
LONGEST_FIRST = (
    "test_transform.py",
    "test_semantic.py",
    "test_verify.py",
    "test_dagster_cli.py",
    "test_mart.py",
    "test_operator_cli.py",
    "test_demo.py",
    "test_wheel.py",
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


def period_floor(day: dt.date, granularity: str) -> dt.date:
    """The first day of `day`'s day/week/month/year (weeks start on Monday, as the sandbox's): the
    tests' own arithmetic, so that `sources/`'s window planning is checked against it, not with it.

    >>> period_floor(dt.date(2024, 3, 13), "week")
    datetime.date(2024, 3, 11)
    """
    if granularity == "week":
        return day - dt.timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    if granularity == "year":
        return day.replace(month=1, day=1)
    assert granularity == "day", granularity
    return day


def configure(monkeypatch: pytest.MonkeyPatch, provider: str, **settings: Any) -> None:
    """Set `SOURCES__<PROVIDER>__<KEY>` env vars (lists and dicts as JSON)."""
    for key, value in settings.items():
        name = f"SOURCES__{provider.upper()}__{key.upper()}"
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, json.dumps(value) if isinstance(value, (list, dict, bool)) else str(value))


class Warehouse:
    """A destination for one test: DuckDB file or a fresh Postgres database."""

    def __init__(self, name: str, credentials: str, prefix: str = ""):
        self.name, self.credentials, self.prefix = name, credentials, prefix

    def dataset(self, provider: str) -> str:
        """The provider's dataset (schema) name here: `dataset_prefix` + provider."""
        return self.prefix + provider

    def query(self, sql: str) -> list[tuple]:
        if self.name == "duckdb":
            import duckdb

            with duckdb.connect(self.credentials, read_only=True) as conn:
                return conn.execute(sql).fetchall()
        if self.name == "sqlalchemy":
            return _mariadb_query(self.credentials, sql)
        import psycopg2

        conn = psycopg2.connect(self.credentials)
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            conn.close()

    def tables(self, dataset: str) -> set[str]:
        rows = self.query(f"select table_name from information_schema.tables where table_schema = '{dataset}'")
        return {r[0] for r in rows}


def _postgres_available() -> Optional[str]:
    try:
        import psycopg2

        psycopg2.connect(POSTGRES_ADMIN, connect_timeout=3).close()
        return None
    except Exception as exc:  # noqa: BLE001 - the reason is shown in the skip
        return str(exc).strip().splitlines()[0]


def _require(server: str, problem: Optional[str], required: bool, variable: str, url: str) -> None:
    """Fail (in CI, where `variable` is 1) or skip a test whose database server is unreachable
    (the older form of `require`, which tests written against it still call)."""
    if problem and required:
        pytest.fail(f"{server} is required ({variable}=1) but unreachable: {problem}")
    require(variable, problem and f"{problem} at {url}", server)


def require_postgres() -> None:
    """Skip (fail in CI: METRICSYNC_REQUIRE_POSTGRES=1) a test that needs the Postgres server."""
    require("METRICSYNC_REQUIRE_POSTGRES", _postgres_available(), f"Postgres at {POSTGRES_ADMIN}")


@contextmanager
def postgres_database(prefix: str = "ms_test", template: Optional[str] = None) -> Iterator[str]:
    """A fresh Postgres database (a copy of the database `template` when given), dropped however the
    test ends; yields its URL. Skipped when the server is unreachable, outside CI."""
    require_postgres()
    import psycopg2

    database = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(POSTGRES_ADMIN)
    admin.autocommit = True
    admin.cursor().execute(f"create database {database}" + (f" template {template}" if template else ""))
    try:
        yield POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{database}"
    finally:
        admin.cursor().execute(f"drop database if exists {database} with (force)")
        admin.close()


def _warehouse(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Warehouse]:
    """A DuckDB file, or a fresh Postgres database (skipped when unreachable, outside CI)."""
    if kind == "duckdb":
        path = str(tmp_path / "test.duckdb")
        monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", path)
        yield Warehouse("duckdb", path)
        return
    with postgres_database() as credentials:
        monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", credentials)
        yield Warehouse("postgres", credentials)


# for a test about request shapes or error lines, which take one warehouse (merges, scd2 and state run on each)
duckdb_only = pytest.mark.parametrize("warehouse", ["duckdb"], indirect=True)


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Warehouse]:
    """Each test that takes it runs once per destination."""
    yield from _warehouse(request.param, tmp_path, monkeypatch)


def _mariadb_query(url: str, sql: str, autocommit: bool = False) -> list[tuple]:
    import pymysql
    from sqlalchemy.engine import make_url

    parts = make_url(url)
    conn = pymysql.connect(
        host=parts.host,
        port=parts.port or 3306,
        user=parts.username,
        password=parts.password or "",
        database=parts.database,
        autocommit=autocommit,
        connect_timeout=3,
    )
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


def _mariadb_available() -> Optional[str]:
    try:
        _mariadb_query(MARIADB_ADMIN, "select 1")
        return None
    except Exception as exc:  # noqa: BLE001 - the reason is shown in the skip
        return str(exc).strip().splitlines()[0]


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


# -- one loaded warehouse per session, copied by read-only tests ---------------------------------
LOADED_DAYS = 40  # every provider's start_date in the shared warehouse: this many days before today (UTC)


def loaded_settings(box: Sandbox) -> dict:
    """`SOURCES__*` variables of the shared warehouse: each emulator's demo settings pointed at
    `box`, starting `LOADED_DAYS` before today."""
    start = (today() - dt.timedelta(days=LOADED_DAYS)).isoformat()
    variables = {}
    for emulator in box.emulators:
        settings = emulator.demo_settings(box.url)
        if "start_date" in settings:
            settings["start_date"] = start
        for key, value in settings.items():
            text = json.dumps(value) if isinstance(value, (list, dict, bool)) else str(value)
            variables[f"SOURCES__{emulator.name.upper()}__{key.upper()}"] = text
    return variables


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A folder that `build(folder)` fills once per run: under pytest-xdist the workers share it
    (the first to take its lock builds it; the others wait, then reuse it), else this session's own."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    shared = tmp_path_factory.getbasetemp().parent  # the run's temporary folder, above each worker's
    folder = shared / name
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if not (folder / ".built").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / ".built").touch()
    return folder


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
