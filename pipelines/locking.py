"""One writer per dataset, whatever runs: runs, accounts, hosts, orchestrator tasks and
`transform`s against one warehouse take these locks (the kinds are in `pipelines/lock_kinds.py`):

* `pipeline_lock`: a file lock in the pipelines folder, one run of a pipeline on this machine
  (its local state);
* `destination_lock`: one run of a pipeline in the warehouse, from restoring state to the last
  load, keyed by the pipeline's name (two hosts running one account);
* `write_turn`: one writer at a time of a dataset (its tables, `<dataset>_staging`, dlt's state
  tables), keyed by the dataset (a DuckDB file: the whole file, one writing process at a time);
  taken for each state restore and each load, so accounts fetch in parallel and write in turns;
* `mart_lock`: one `transform` at a time per mart (its audit schema and the published one).

Postgres holds them as session advisory locks, a DuckDB file as lock files beside it, any other SQL
warehouse as rows in `<dataset>._metricsync_locks`. Every wait is bounded: a run waits up to
`lock_wait_seconds` (default 0) for a lock, a turn up to `TURN_WAIT_SECONDS` (or
`lock_wait_seconds` when longer), then fails with exit 6 naming the holder, e.g.

    whop: another run of whop__postgres holds the warehouse lock (host cron-1, pid 4242, run 3f2a9c1e,
    since 2026-11-30 02:00:01 UTC) - wait for it to finish, or set SOURCES__WHOP__LOCK_WAIT_SECONDS to wait for it
"""

import os
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

from .lock_kinds import AdvisoryLock, FileLock, Owner, RowLock, RunInProgress

__all__ = ["Owner", "RunInProgress", "destination_lock", "mart_lock", "pipeline_lock", "write_turn"]

TURN_WAIT_SECONDS = 900.0  # the longest a turn waits for another writer's (one load: at most 500,000 rows)
POLL_SECONDS = 0.2


def _kind(pipeline: Any) -> str:
    return pipeline.destination.destination_type.rsplit(".", 1)[-1]


def _duckdb_file(pipeline: Any) -> Optional[str]:
    """The local DuckDB file a pipeline loads into, None for any other destination (MotherDuck,
    `:memory:`)."""
    if _kind(pipeline) != "duckdb":
        return None
    path = pipeline.destination.config_params.get("credentials")  # the file the runner named, if a plain path
    database = path if isinstance(path, str) and ":" not in path else str(pipeline.sql_client().credentials.database)
    return None if ":memory:" in database else database


def make_lock(pipeline: Any, name: str, owner: Optional[Owner] = None) -> Any:
    """The lock `name` in the pipeline's destination: advisory on Postgres, a lock file
    `<file>.<name>.lock` beside a local DuckDB file, a lock row in any other SQL warehouse."""
    owner = owner or Owner()
    if _kind(pipeline) == "postgres":
        return AdvisoryLock(name, pipeline.sql_client(), owner)
    database = _duckdb_file(pipeline)
    if database:
        return FileLock(f"{database}.{name}.lock", owner)
    return RowLock(name, pipeline.sql_client, owner)


@contextmanager
def holding(lock: Any, wait_seconds: float, refusal: Callable[[str], str]) -> Iterator[Any]:
    """Hold `lock` for the block (yields it); wait up to `wait_seconds` for its holder, then raise
    `RunInProgress(refusal(holder))`."""
    deadline = time.monotonic() + max(0.0, wait_seconds)
    try:
        while (holder := lock.try_acquire()) is not None:
            if time.monotonic() >= deadline:
                raise RunInProgress(refusal(holder))
            time.sleep(min(POLL_SECONDS, max(0.01, deadline - time.monotonic())))
    except BaseException:  # refused, interrupted or failed: the lock's connection goes too
        lock.release()
        raise
    try:
        yield lock
    finally:
        lock.release()


def _advice(provider: str, wait_seconds: float) -> str:
    waited = f" (waited {wait_seconds:g}s)" if wait_seconds else ""
    return f"{waited} - wait for it to finish, or set SOURCES__{provider.upper()}__LOCK_WAIT_SECONDS to wait for it"


@contextmanager
def pipeline_lock(
    name: str,
    pipelines_dir: str,
    provider: Optional[str] = None,
    wait_seconds: float = 0.0,
    owner: Optional[Owner] = None,
) -> Iterator[None]:
    """One run of pipeline `name` on this machine: `<pipelines_dir>/<name>.lock`."""
    os.makedirs(pipelines_dir, exist_ok=True)
    provider = provider or name.split("__")[0]
    lock = FileLock(os.path.join(pipelines_dir, f"{name}.lock"), owner or Owner())
    with holding(
        lock,
        wait_seconds,
        lambda holder: (
            f"{provider}: another run of {name} holds its lock on this "
            f"machine ({holder}){_advice(provider, wait_seconds)}"
        ),
    ):
        yield


@contextmanager
def destination_lock(
    pipeline: Any, provider: str, wait_seconds: float = 0.0, owner: Optional[Owner] = None
) -> Iterator[Any]:
    """One run of the pipeline in its destination, for the block (yields the lock: `check()` it
    before each load); waits up to `wait_seconds`, then exit 6 naming the holder."""
    name = pipeline.pipeline_name
    lock = make_lock(pipeline, name, owner)
    with holding(
        lock,
        wait_seconds,
        lambda holder: (
            f"{provider}: another run of {name} holds the warehouse lock ({holder}){_advice(provider, wait_seconds)}"
        ),
    ):
        yield lock


def turn_name(pipeline: Any) -> tuple[str, str]:
    """What a write turn is keyed by, and how it is named: the dataset, or a local DuckDB file as a whole."""
    database = _duckdb_file(pipeline)
    if database:
        return "writer", f"the DuckDB file {database}"
    return f"dataset__{pipeline.dataset_name}", f"dataset {pipeline.dataset_name}"


@contextmanager
def write_turn(
    pipeline: Any,
    provider: str,
    wait_seconds: float = 0.0,
    owner: Optional[Owner] = None,
    at_least: float = TURN_WAIT_SECONDS,
    setting: Optional[str] = None,
) -> Iterator[None]:
    """This process's turn at writing the pipeline's dataset (a state restore, a load), after any
    other writer's: waits up to `at_least` seconds (or `wait_seconds` when longer), then exit 6
    naming the writer and the `setting` to wait longer (the provider's `lock_wait_seconds`)."""
    wait = max(wait_seconds, at_least)
    setting = setting or f"SOURCES__{provider.upper()}__LOCK_WAIT_SECONDS"
    name, what = turn_name(pipeline)
    lock = make_lock(pipeline, name, owner)
    with holding(
        lock,
        wait,
        lambda holder: (
            f"{provider}: another run kept writing {what} for over {wait:g}s "
            f"({holder}) - wait for it to finish, or set {setting} to wait longer"
        ),
    ):
        yield


@contextmanager
def file_turn(destination: str, what: str, wait_seconds: float = TURN_WAIT_SECONDS) -> Iterator[None]:
    """A local DuckDB file's write turn without a pipeline (the run history's short writes): the
    lock file `write_turn` takes for the whole file. Other destinations: nothing (a server
    warehouse orders writers itself; the history writes in one transaction)."""
    from metricsync.warehouse.destinations import duckdb_path  # noqa: PLC0415 - start-up time (imports dlt)

    path = duckdb_path()
    if destination != "duckdb" or ":" in path:
        yield
        return
    lock = FileLock(f"{path}.writer.lock", Owner())
    with holding(
        lock,
        wait_seconds,
        lambda holder: f"{what}: another run kept writing the DuckDB file {path} for over {wait_seconds:g}s ({holder})",
    ):
        yield


@contextmanager
def mart_lock(
    pipeline: Any,
    wait_seconds: float = 0.0,
    setting: str = "TRANSFORM__LOCK_WAIT_SECONDS",
    owner: Optional[Owner] = None,
) -> Iterator[None]:
    """One `transform` at a time on the mart of `pipeline` (its dataset: the published schema; the
    audit schema goes with it)."""
    schema = pipeline.dataset_name
    lock = make_lock(pipeline, f"mart__{schema}", owner)
    waited = f" (waited {wait_seconds:g}s)" if wait_seconds else ""
    with holding(
        lock,
        wait_seconds,
        lambda holder: (
            f"transform: another transform is building the {schema} mart "
            f"({holder}){waited} - wait for it to finish, or set {setting} to wait for it"
        ),
    ):
        yield
