"""Run one provider's source into DuckDB or Postgres, chunk by chunk, and report one line."""

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Optional

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.pipeline import get_dlt_pipelines_dir
from dlt.pipeline.exceptions import PipelineStepFailed

from sources._common.errors import ConfigError, MetricSyncError
from sources._common.progress import RunControl
from sources._common.redaction import redact

from .locking import pipeline_lock
from .providers import source_factory

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

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def make_destination(destination: str):
    if destination == "duckdb":
        credentials = dlt.config.get("destination.duckdb.credentials") or DUCKDB_DEFAULT
        return dlt.destinations.duckdb(credentials=credentials)
    if destination == "postgres":
        return dlt.destinations.postgres()
    raise ConfigError(f"metricsync: unknown destination {destination!r} - use duckdb or postgres")


def loader_format(destination: str) -> Optional[str]:
    """Postgres loads through COPY (csv) rather than INSERT statements; DuckDB picks parquet for
    the Arrow pages itself."""
    return "csv" if destination == "postgres" else None


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
    text = redact(str(root)).strip().splitlines()
    return 1, f"{provider}: {type(root).__name__}: {text[0] if text else 'failed'}"


def run_provider(
    provider: str,
    destination: str = "duckdb",
    backfill: Optional[tuple[dt.date, dt.date]] = None,
    pipelines_dir: Optional[str] = None,
    windows_per_load: Optional[int] = None,
) -> ProviderResult:
    """Load `provider` (nightly incremental, or the `backfill` range) in as many loads as its
    plan needs; the first failure stops it, keeping every load already committed."""
    result = ProviderResult(provider)
    started = time.monotonic()
    pipelines_dir = pipelines_dir or get_dlt_pipelines_dir()
    try:
        with pipeline_lock(provider, pipelines_dir):
            pipeline = dlt.pipeline(
                pipeline_name=provider, destination=make_destination(destination), dataset_name=provider,
                pipelines_dir=pipelines_dir,
            )
            control = RunControl(backfill=backfill, windows_per_load=windows_per_load)
            factory = source_factory(provider)
            selected: Optional[list] = None
            while True:
                source = factory(control=control)
                if selected:
                    source = source.with_resources(*selected)
                pipeline.run(source, loader_file_format=loader_format(destination))
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
    result.seconds = time.monotonic() - started
    if result.ok:
        total = sum(result.rows.values())
        result.message = f"{provider}: ok - {total} rows in {result.loads} load(s), {result.seconds:.1f}s"
    return result
