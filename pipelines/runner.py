"""Run one provider's source into DuckDB or Postgres, chunk by chunk, and report one line."""

import datetime as dt
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.pipeline import get_dlt_pipelines_dir
from dlt.common.schema.exceptions import DataValidationError
from dlt.pipeline.exceptions import PipelineStepFailed

from sources._common import limits
from sources._common.errors import ConfigError, MetricSyncError
from sources._common.progress import RunControl
from sources._common.redaction import redact

from .locking import pipeline_lock
from .providers import PROVIDERS, source_factory

logger = logging.getLogger("metricsync.runner")

DUCKDB_DEFAULT = "metricsync.duckdb"


@dataclass
class ProviderResult:
    provider: str
    exit_code: int = 0
    message: str = ""
    loads: int = 0
    rows: dict = field(default_factory=dict)
    seconds: float = 0.0
    throttling: Optional[str] = None  # what the rate control learnt, when the API throttled

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def make_destination(destination: str, dataset: str):
    if destination == "duckdb":
        credentials = str(dlt.config.get("destination.duckdb.credentials") or DUCKDB_DEFAULT)
        stem = os.path.splitext(os.path.basename(credentials.split("?")[0]))[0]
        if stem in PROVIDERS:  # DuckDB names the catalog after the file: `whop.whop` would be ambiguous
            raise ConfigError(f"{dataset}: the DuckDB file {credentials} is named like the dataset {stem!r} - "
                              "give DESTINATION__DUCKDB__CREDENTIALS another file name")
        return dlt.destinations.duckdb(credentials=credentials)
    if destination == "postgres":
        return dlt.destinations.postgres()
    raise ConfigError(f"metricsync: unknown destination {destination!r} - use duckdb or postgres")


def loader_format(destination: str) -> Optional[str]:
    """Postgres loads through COPY (csv) rather than INSERT statements; DuckDB picks parquet for
    the Arrow pages itself."""
    return "csv" if destination == "postgres" else None


def apply_loader_format(source, destination: str):
    """`loader_format` for every resource that does not name its own `file_format` (passing it to
    `run` would override those too: e.g. Statsig definitions load as INSERTs, because Postgres'
    CSV COPY reads an empty string in a nullable column as NULL)."""
    fmt = loader_format(destination)
    for resource in source.selected_resources.values():
        dynamic = resource.has_dynamic_table_name or resource.has_other_dynamic_hints
        if fmt and (dynamic or not resource.compute_table_schema().get("file_format")):
            resource.apply_hints(file_format=fmt)
    return source


SCHEMA_CONTRACTS = ("evolve", "freeze", "discard_row", "discard_value")


def schema_contract(provider: str):
    """`sources.<provider>.schema_contract`: `evolve` (default: new columns and variant columns
    are added) or `freeze` (a new column or type in an existing table fails the run; tables are
    still created on the first run), or dlt's `discard_*` modes for columns."""
    value = str(dlt.config.get(f"sources.{provider}.schema_contract") or "evolve")
    if value not in SCHEMA_CONTRACTS:
        raise ConfigError(f"{provider}: schema_contract {value!r} - use one of {', '.join(SCHEMA_CONTRACTS)}")
    if value == "evolve":
        return value
    return {"tables": "evolve", "columns": value, "data_type": "freeze" if value == "freeze" else value}


def _root_cause(exc: BaseException) -> BaseException:
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, MetricSyncError):
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
            return 2, f"{provider}: no {destination} credentials - set {env} (e.g. postgresql://user:password@host:5432/db)"
        where = "SOURCES__" + provider.upper() + "__" if "api_key" in root.fields else ""
        hint = f"set {where}{root.fields[0].upper()}" if where else "set it in .dlt/config.toml or the environment"
        return 2, f"{provider}: missing configuration {names} - {hint}"
    if isinstance(root, DataValidationError):
        return 3, (f"{provider}: the API sent {root.schema_entity[:-1]} {root.column_name or root.table_name!r} "
                   f"(table {root.table_name}) that the frozen schema does not allow - "
                   f"set sources.{provider}.schema_contract to evolve to accept it")
    text = redact(str(root)).strip().splitlines()
    return 1, f"{provider}: {type(root).__name__}: {text[0] if text else 'failed'}"


def run_provider(
    provider: str,
    destination: str = "duckdb",
    backfill: Optional[tuple[dt.date, dt.date]] = None,
    pipelines_dir: Optional[str] = None,
    windows_per_load: Optional[int] = None,
    clock: Optional[Callable[[], float]] = None,
) -> ProviderResult:
    """Load `provider` (nightly incremental, or the `backfill` range) in as many loads as its
    plan needs; the first failure stops it, keeping every load already committed. `clock`
    times the chunks (`checkpoint_seconds`; tests pass a fake one)."""
    result = ProviderResult(provider)
    started = time.monotonic()
    pipelines_dir = pipelines_dir or get_dlt_pipelines_dir()
    limits.forget(provider)
    control = RunControl(backfill=backfill, windows_per_load=windows_per_load, clock=clock or time.monotonic)
    try:
        with pipeline_lock(provider, pipelines_dir):
            pipeline = dlt.pipeline(
                pipeline_name=provider, destination=make_destination(destination, provider), dataset_name=provider,
                pipelines_dir=pipelines_dir,
            )
            if pipeline.has_pending_data:
                # a previous run extracted data but did not finish loading it: load that first
                # (dlt's `run` would otherwise load it and skip this run's extraction)
                logger.warning("%s: loading data left pending by the previous run", provider)
                pipeline.run(loader_file_format=loader_format(destination))
                result.loads += 1
            contract = schema_contract(provider)
            factory = source_factory(provider)
            selected: Optional[list] = None
            while True:
                source = factory(control=control)
                if selected:
                    source = source.with_resources(*selected)
                pipeline.run(apply_loader_format(source, destination), schema_contract=contract)
                result.loads += 1
                for table, count in pipeline.last_trace.last_normalize_info.row_counts.items():
                    if not table.startswith("_dlt"):
                        result.rows[table] = result.rows.get(table, 0) + count
                if not control.pending:
                    break
                selected, control.pending = sorted(control.pending), set()
                control.loads += 1
    except Exception as exc:  # every failure becomes one line; loads already committed stay
        result.exit_code, result.message = describe_failure(provider, exc, destination)
        logger.debug("%s failed", provider, exc_info=True)
    finally:
        control.close()
    result.seconds = time.monotonic() - started
    result.throttling = limits.learned(provider)
    if result.throttling:
        logger.info("%s: %s", provider, result.throttling)
    if result.ok:
        total = sum(result.rows.values())
        result.message = f"{provider}: ok - {total} rows in {result.loads} load(s), {result.seconds:.1f}s"
        if result.throttling:
            result.message += f" ({result.throttling})"
    return result
