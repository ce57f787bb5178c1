"""Run one provider's source (or one account of it) into a dlt destination, chunk by chunk, and report one line."""

import datetime as dt
import functools
import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException, ConfigValueCannotBeCoercedException
from dlt.common.pipeline import get_dlt_pipelines_dir
from dlt.common.schema.exceptions import DataValidationError
from dlt.pipeline.exceptions import PipelineStepFailed
from metricsync.sources._common.config.spec import SHARED, number
from metricsync.sources._common.config.spec import where as setting_name
from metricsync.sources._common.config.strict import check_settings, setting
from metricsync.sources._common.errors import ConfigError, MetricSyncError
from metricsync.sources._common.http import limits
from metricsync.sources._common.http.client import request_stats, ssl_context
from metricsync.sources._common.http.masking import register_configured_secrets
from metricsync.sources._common.http.redaction import redact
from metricsync.sources._common.load.batch import BATCH_ROWS
from metricsync.sources._common.load.periods import PeriodCheck
from metricsync.sources._common.load.progress import RunControl, RunTally
from metricsync.warehouse.destinations import (
    apply_loader_format,
    dataset_name,
    make_destination,
    one_connection,
    pipeline_name,
    require_client,
)
from metricsync.warehouse.errors import describe as describe_warehouse_error
from metricsync.warehouse.merges import scope_merge_deletes

from . import evolution
from .accounts import Account, refuse_tables_without_account, scope_to_account
from .hints import remember_hint_checks
from .interrupts import received, signal_of
from .locks import Owner, dataset_turn, pipeline_lock, warehouse_lock
from .memory import release_freed_memory
from .providers import source_factory
from .report import closing_line

logger = logging.getLogger("metricsync.runner")
WRITER_FILE_BYTES = 64 * 2**20


@dataclass
class ProviderResult:
    provider: str
    account: Optional[str] = None
    exit_code: int = 0
    message: str = ""
    loads: int = 0
    rows: dict = field(default_factory=dict)
    seconds: float = 0.0
    tally: RunTally = field(default_factory=RunTally)
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    backfill: Optional[tuple] = None
    throttling: Optional[str] = None  # what the rate control learnt, when the API throttled
    schema_changes: list = field(default_factory=list)  # tables and columns this run added (evolution.py)
    vanished: list = field(default_factory=list)  # tables whose rows fell by more than half (vanishing.py)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def label(self) -> str:
        return f"{self.provider} (account {self.account})" if self.account else self.provider


# what dbt models downstream need from every load, unless set otherwise in config: `_dlt_load_id`
# on the Arrow pages too (freshness, incremental models), and `<dataset>_staging` emptied after
# each merge instead of keeping a full copy of every table; and dlt's own buffering bounded, as the
# results held ahead are (prefetch.HELD_BYTES): rows buffered before they are written (one batch,
# batch.BATCH_ROWS) and the size of each extract file (a larger table rotates to a new file)
LOADER_DEFAULTS = {
    "normalize.parquet_normalizer.add_dlt_load_id": True,
    "load.truncate_staging_dataset": True,
    "data_writer.buffer_max_items": BATCH_ROWS,
    "data_writer.file_max_bytes": WRITER_FILE_BYTES,
}


def apply_loader_defaults() -> None:
    """LOADER_DEFAULTS, where config does not set them, for this process (idempotent, so runs in
    parallel threads all see them)."""
    for key, value in LOADER_DEFAULTS.items():
        if dlt.config.get(key) is None:
            dlt.config[key] = value


SCHEMA_CONTRACTS = SHARED["schema_contract"].choices


def schema_contract(provider: str):
    """`sources.<provider>.schema_contract`: `evolve` (default: new columns and variant columns
    are added) or `freeze` (a new column or type in an existing table fails the run; tables are
    still created on the first run), or dlt's `discard_*` modes for columns."""
    value = str(setting(provider, "schema_contract") or "evolve")
    if value not in SCHEMA_CONTRACTS:
        raise ConfigError(
            f"{provider}: schema_contract {value!r} is not known - set "
            f"{setting_name(provider, 'schema_contract')} to one of {', '.join(SCHEMA_CONTRACTS)}"
        )
    if value == "evolve":
        return value
    return {"tables": "evolve", "columns": value, "data_type": "freeze" if value == "freeze" else value}


def lock_wait_seconds(provider: str) -> float:
    """`sources.<provider>.lock_wait_seconds`: how long a run waits for another run's warehouse lock."""
    return number(provider, "lock_wait_seconds", setting(provider, "lock_wait_seconds") or 0)


def _root_cause(exc: BaseException) -> BaseException:
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (MetricSyncError, ConfigValueCannotBeCoercedException)):
            return exc
        inner = getattr(exc, "exception", None) if isinstance(exc, PipelineStepFailed) else None
        inner = inner or exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    return exc


def describe_failure(provider: str, exc: BaseException, destination: str = "duckdb") -> tuple[int, str]:
    """(exit code, one-line message) for any failure of a provider's run."""
    root = _root_cause(exc)
    if isinstance(root, MetricSyncError):
        return root.exit_code, redact(str(root)).splitlines()[0]
    if isinstance(root, ConfigFieldMissingException):
        names = ", ".join(root.fields)
        if "credentials" in root.fields:
            env = f"DESTINATION__{destination.upper()}__CREDENTIALS"
            example = " (e.g. postgresql://user:password@host:5432/db)" if destination == "postgres" else ""
            return 2, f"{provider}: no {destination} credentials - set {env}{example}"
        where = "SOURCES__" + provider.upper() + "__" if "api_key" in root.fields else ""
        hint = f"set {where}{root.fields[0].upper()}" if where else "set it in .dlt/config.toml or the environment"
        return 2, f"{provider}: missing configuration {names} - {hint}"
    if isinstance(root, ConfigValueCannotBeCoercedException):  # a layout strict config does not list
        kind = getattr(root.hint, "__name__", str(root.hint))
        return (
            2,
            f"{provider}: {root.field_name} cannot be read as {kind} - fix {setting_name(provider, root.field_name)}",
        )
    if isinstance(root, DataValidationError):
        return 3, (
            f"{provider}: the API sent {root.schema_entity[:-1]} {root.column_name or root.table_name!r} "
            f"(table {root.table_name}) that the frozen schema does not allow - "
            f"set sources.{provider}.schema_contract to evolve to accept it"
        )
    warehouse = describe_warehouse_error(provider, destination, root)
    if warehouse:
        return warehouse
    text = redact(str(root)).strip().splitlines()
    return 1, f"{provider}: {type(root).__name__}: {text[0] if text else 'failed'}"


def finish_pending(pipeline: Any, label: str, destination: str) -> int:
    """Data a previous run extracted but did not load (it was stopped, or its load failed) is
    loaded first. When that load fails again, the data is discarded instead (dlt's
    `abort_packages`: the local state goes back to before it was extracted, so this run fetches
    its windows again): a package never blocks later runs. One line says which; returns the loads
    done (1 or 0)."""
    try:
        pipeline.normalize()
        pipeline.load()
    except Exception as exc:  # a failure of its own: the run goes on without it
        if signal_of(exc):
            raise
        why = describe_failure(label, exc, destination)[1].removeprefix(f"{label}: ")
        pipeline.abort_packages()
        logger.warning(
            "%s: the data left pending by the previous run failed to load again (%s); discarded it, "
            "its windows are fetched again",
            label,
            why,
        )
        return 0
    logger.warning("%s: loaded the data left pending by the previous run", label)
    return 1


@dataclass
class Target:
    """Where a run loads: the dataset, the destination factory, the pipeline's name and locks' terms."""

    dataset: str
    factory: Any
    name: str
    wait: float
    owner: Owner = field(default_factory=Owner)


def run_provider(
    provider: str,
    destination: str = "duckdb",
    backfill: Optional[tuple[dt.date, dt.date]] = None,
    pipelines_dir: Optional[str] = None,
    windows_per_load: Optional[int] = None,
    selection: Any = None,
    on_change: Optional[Callable[[ProviderResult], None]] = None,
    account: Optional[Account] = None,
    clock: Optional[Callable[[], float]] = None,
) -> ProviderResult:
    """Load `provider` (nightly incremental, or the `backfill` range) in as many loads as its
    plan needs; the first failure stops it, keeping every load already committed.
    `selection` (`catalog.Selection`) limits resources and queries; `on_change(result)` is
    called after every fetched window (progress display). With an `account`, that account's own
    pipeline loads its rows (with an `account` column) into the provider's shared dataset.
    `clock` times the chunks (`checkpoint_seconds`; tests pass a fake one)."""
    result = ProviderResult(provider, backfill=backfill, account=account.name if account else None)
    started = time.monotonic()
    stats = request_stats(provider)
    control = start_control(provider, result, selection, clock)
    pipelines_dir = pipelines_dir or get_dlt_pipelines_dir()
    try:
        target = prepare(provider, destination, windows_per_load, control, account)
        with _locked_pipeline(provider, target, pipelines_dir) as (pipeline, lock, turn):
            _restore(pipeline, target, turn, result, destination, account)
            if on_change:
                result.tally.on_change = lambda: on_change(_count_requests(result, stats))
            _load_chunks(pipeline, target, turn, lock, control, result, selection, account)
    except (Exception, KeyboardInterrupt) as exc:  # every failure becomes one line; loads already committed stay
        record_failure(result, exc, destination)
    finally:
        control.close(wait=not received())
    result.seconds = time.monotonic() - started
    return finish(result, stats)


def start_control(
    provider: str, result: ProviderResult, selection: Any, clock: Optional[Callable[[], float]]
) -> RunControl:
    """Fresh per-run counters and learnt limits, the TLS context loading in the background, and the
    run's `RunControl`."""
    # the CA bundle loads (without the GIL) while the destination is set up, not before the first request
    threading.Thread(target=ssl_context, name="metricsync-tls", daemon=True).start()
    request_stats(provider).reset()
    limits.forget(provider)
    PeriodCheck.forget(provider)
    return RunControl(
        backfill=result.backfill,
        clock=clock or time.monotonic,
        tally=result.tally,
        queries=selection.queries if selection else None,
        pace=functools.partial(limits.pace, provider),
    )


def prepare(
    provider: str, destination: str, windows_per_load: Optional[int], control: RunControl, account: Optional[Account]
) -> Target:
    """Settings checked (strictly), dlt configured, the destination reachable: where the run loads."""
    register_configured_secrets()  # also when called without the CLI (Dagster, Airflow)
    apply_loader_defaults()
    remember_hint_checks()
    check_settings(provider, source_factory(provider))
    if windows_per_load is not None:
        control.windows_per_load = number(provider, "windows_per_load", windows_per_load, setting="--windows-per-load")
    dataset = dataset_name(provider)
    factory = make_destination(destination, dataset)
    require_client(factory, destination, dataset)
    where = factory.destination_name  # e.g. motherduck for an md: DuckDB path
    name = pipeline_name(provider, where, account.name if account else None)
    return Target(dataset, factory, name, lock_wait_seconds(provider))


@contextmanager
def _locked_pipeline(provider: str, target: Target, pipelines_dir: str) -> Iterator[tuple[Any, Any, Callable]]:
    """The run's dlt pipeline, held by this run on this machine (`pipeline_lock`) and in the warehouse
    (`warehouse_lock`); yields it, that lock (checked before each load) and the dataset's write turn."""
    with pipeline_lock(target.name, pipelines_dir, provider, target.wait, target.owner):
        pipeline = dlt.pipeline(
            pipeline_name=target.name,
            destination=target.factory,
            dataset_name=target.dataset,
            pipelines_dir=pipelines_dir,
        )
        with warehouse_lock(pipeline, provider, target.wait, target.owner) as lock:
            yield pipeline, lock, functools.partial(dataset_turn, pipeline, provider, target.wait, target.owner)


def _restore(
    pipeline: Any, target: Target, turn: Callable, result: ProviderResult, destination: str, account: Optional[Account]
) -> None:
    """In one write turn: accounts refused on a dataset loaded without them, data a failed run left
    pending loaded (or discarded), and the state restored from the warehouse (a fresh machine)."""
    with turn(), one_connection(target.factory):
        if account:
            with pipeline.sql_client() as client:
                refuse_tables_without_account(result.provider, target.dataset, client.execute_sql, destination)
        if pipeline.has_pending_data:
            result.loads += finish_pending(pipeline, result.label, destination)
        pipeline.sync_destination()


def _load_chunks(
    pipeline: Any,
    target: Target,
    turn: Callable,
    lock: Any,
    control: RunControl,
    result: ProviderResult,
    selection: Any,
    account: Optional[Account],
) -> None:
    """Extract, normalize and load one chunk after another until the plan is done: each chunk's
    windows are fetched concurrently with other runs, and loaded in the dataset's write turn."""
    provider = result.provider
    contract = schema_contract(provider)
    known = evolution.stored_columns(pipeline)
    factory = source_factory(provider)
    selected: Optional[list] = selection.resources if selection else None
    while True:
        source = factory(control=control, **(account.params if account else {}))
        if selected is not None:
            source = source.with_resources(*selected)
        if account:
            scope_to_account(source, account.name)
        source = apply_loader_format(source, target.factory)
        source = scope_merge_deletes(source, target.factory)
        pipeline.extract(source, schema_contract=contract)
        normalized = pipeline.normalize()
        release_freed_memory()
        lock.check()
        with turn(), one_connection(target.factory), control.quiet():
            pipeline.load()
        _count_chunk(pipeline, result, known, normalized)
        if not control.pending:
            return
        selected, control.pending = sorted(control.pending), set()
        control.loads += 1


def _count_chunk(pipeline: Any, result: ProviderResult, known: Any, normalized: Any) -> None:
    """A committed load: counted, its schema changes told, the rows of tables not tallied by windows added."""
    result.loads += 1
    changes = evolution.changes(known, evolution.stored_columns(pipeline))
    result.schema_changes = evolution.tell(result.provider, result.schema_changes, changes)
    for table, count in normalized.row_counts.items():
        if not table.startswith("_dlt") and table not in result.tally.table_rows:
            result.rows[table] = result.rows.get(table, 0) + count


def record_failure(result: ProviderResult, exc: BaseException, destination: str) -> None:
    """Any failure as an exit code and one line: a signal says how to resume, anything else what to do."""
    provider = result.provider
    signum = signal_of(exc)
    if signum:  # Ctrl-C or SIGTERM: stop now, the next run resumes after the last committed load
        result.exit_code = 128 + signum
        result.message = f"{provider}: interrupted after {_plural(result.loads, 'load')} - re-run to resume"
    else:
        result.exit_code, result.message = describe_failure(provider, exc, destination)
    logger.debug("%s failed", result.label, exc_info=True)


def finish(result: ProviderResult, stats: Any) -> ProviderResult:
    """The run's requests, what the rate control learnt, the rows fetched and the closing line."""
    provider = result.provider
    result.throttling = limits.learned(provider)
    if result.throttling:
        logger.info("%s: %s", result.label, result.throttling)
    _count_requests(result, stats)
    result.rows.update({t: n for t, n in result.tally.table_rows.items() if n})  # windowed tables: rows fetched
    if result.ok:
        result.message = closing_line(result)
    if result.account and result.message.startswith(f"{provider}:"):
        result.message = result.label + result.message[len(provider) :]
    return result


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _count_requests(result: ProviderResult, stats: Any) -> ProviderResult:
    result.requests, result.retries, result.throttled = stats.requests, stats.retries, stats.throttled
    return result
