"""`run_transform`: the dbt project against the warehouse the runner loads: `dbt build` (seeds,
models, tests) with the marts in an audit schema, then - only when every node passed - the marts
published to `metrics` (write-audit-publish, `publish.py`), then `dbt source freshness` for the
loaded providers. One `transform` at a time per mart (`locks.transform_lock`)."""

import logging
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import dlt
from metricsync.dbt.invocation import Dbt, DbtNotRun
from metricsync.dbt.profiles import TARGET_SCHEMA, credentials, datasets, forget_password, warehouse, write_profile
from metricsync.dbt.project import dbt_project
from metricsync.dbt.publish import PublishBlocked, audit_schema, publish
from metricsync.exits import DBT_FAILED, STALE, USAGE_ERROR
from metricsync.locks import dataset_turn, transform_lock
from metricsync.runner import describe_failure
from metricsync.sources._common.config.spec import number, range_of
from metricsync.sources._common.errors import ConfigError

logger = logging.getLogger("metricsync.transform")

LOCK_WAIT_SETTING = "TRANSFORM__LOCK_WAIT_SECONDS"


@dataclass
class TransformResult:
    exit_code: int = 0
    lines: list = field(default_factory=list)  # one per failed node (or the reason dbt did not run)
    warnings: list = field(default_factory=list)
    nodes: int = 0
    project: str = ""  # which dbt project ran, and where its artifacts are (DbtProject.describe)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def message(self) -> str:
        if self.ok:
            return f"transform: ok - {self.nodes} dbt nodes built and tested" + (
                f"; {self.project}" if self.project else ""
            )
        return "\n".join(self.lines)


def loaded_providers(pipeline: Any) -> tuple[Any, dict]:
    """The resolved dlt credentials and the providers loaded there ({provider: the tables of its dataset})."""
    resolved = credentials(pipeline)
    with pipeline.sql_client() as client:
        rows = client.execute_sql("select table_schema, table_name from information_schema.tables")
    tables: dict = {}
    for schema, table in rows or []:
        tables.setdefault(schema, set()).add(table)
    return resolved, {p: sorted(tables[d]) for p, d in datasets().items() if "_dlt_loads" in tables.get(d, ())}


def lock_wait_seconds() -> float:
    """`transform.lock_wait_seconds` (TRANSFORM__LOCK_WAIT_SECONDS): how long a `transform` waits
    for another one building the mart, before exit 6."""
    value = dlt.config.get("transform.lock_wait_seconds")
    return number(
        "transform",
        "lock_wait_seconds",
        value or 0,
        setting=LOCK_WAIT_SETTING,
        bounds=range_of("transform", "lock_wait_seconds"),
    )


@contextmanager
def exclusive(pipeline: Any) -> Iterator[None]:
    """The mart's lock (one `transform` at a time), and on a DuckDB file its write turn too (dbt
    writes the file: no load opens it meanwhile)."""
    wait = lock_wait_seconds()
    with transform_lock(pipeline, wait):
        if pipeline.destination.destination_type.endswith(".duckdb"):
            with dataset_turn(pipeline, "transform", wait, setting=LOCK_WAIT_SETTING):
                yield
        else:
            yield


def build_and_publish(
    result: TransformResult,
    destination: str,
    kind: str,
    pipeline: Any,
    workdir: str,
    verbose: bool,
    full_refresh: bool = False,
) -> None:
    """`dbt build` into the audit schema, published when every node passed, then freshness."""
    resolved, loaded = loaded_providers(pipeline)
    if not loaded:
        result.exit_code = USAGE_ERROR  # as for bad configuration: nothing was run
        result.lines = [
            f"transform: no provider is loaded in the {destination} warehouse - "
            f"run `metricsync run all --destination {destination}` first (or check DESTINATION__"
            f"{destination.upper()}__CREDENTIALS)"
        ]
        return
    write_profile(kind, resolved, workdir)
    logger.info("transform: dbt build on %s (providers loaded: %s)", destination, ", ".join(loaded))
    dbt = Dbt(kind, workdir, verbose, loaded, full_refresh=full_refresh)
    dbt.deps()
    result.nodes, result.lines = dbt.build()
    if result.lines:
        result.exit_code = DBT_FAILED
        result.lines.append(
            f"transform: nothing published - {TARGET_SCHEMA} keeps the previous mart; the failed "
            f"build is in {audit_schema(TARGET_SCHEMA)}"
        )
        return
    try:
        publish_marts(pipeline)
    except PublishBlocked as exc:  # a user's view on a mart that must be re-created: nothing published
        result.exit_code, result.lines = DBT_FAILED, [str(exc)]
        return
    errors, result.warnings = dbt.freshness(loaded, destination)
    if errors:
        result.exit_code, result.lines = STALE, errors


@contextmanager
def dbt_ready(destination: str) -> Iterator[tuple[Dbt, Any]]:
    """For a caller that runs dbt its own way (Dagster's dbt assets, `deploy/dagster`): the mart's
    lock held, the profile written and the loaded providers found, as for `transform`; yields the
    `Dbt` (its `common` arguments: project, profiles, target, vars) and the warehouse's pipeline, on
    which `publish_marts` publishes a build whose every node passed. Nothing loaded: ConfigError."""
    workdir = tempfile.mkdtemp(prefix="metricsync-dbt-")
    try:
        kind, pipeline = warehouse(destination, workdir)
        with exclusive(pipeline):
            resolved, loaded = loaded_providers(pipeline)
            if not loaded:
                raise ConfigError(
                    f"transform: no provider is loaded in the {destination} warehouse - "
                    f"run `metricsync run all --destination {destination}` first"
                )
            write_profile(kind, resolved, workdir)
            yield Dbt(kind, workdir, False, loaded), pipeline
    finally:
        forget_password()
        shutil.rmtree(workdir, ignore_errors=True)


def publish_marts(pipeline: Any) -> list[str]:
    """The audited marts published (`metrics__audit` -> `metrics`), after a build whose every node passed."""
    with pipeline.sql_client() as client:
        return publish(client, audit_schema(TARGET_SCHEMA), TARGET_SCHEMA)


def run_transform(destination: str = "duckdb", verbose: bool = False, full_refresh: bool = False) -> TransformResult:
    """`dbt build` then `dbt source freshness`; exit 0 only when every node passed (a freshness
    warning is reported, not failed). `full_refresh`: the incremental marts rebuilt from all loads."""
    result = TransformResult(project=dbt_project().describe())
    workdir = tempfile.mkdtemp(prefix="metricsync-dbt-")
    try:
        kind, pipeline = warehouse(destination, workdir)
        with exclusive(pipeline):
            build_and_publish(result, destination, kind, pipeline, workdir, verbose, full_refresh)
    except DbtNotRun as exc:
        result.exit_code = DBT_FAILED
        result.lines = [
            f"transform: dbt could not run: {exc} - check {dbt_project().path}/ and the {destination} "
            "destination credentials"
        ]
    except Exception as exc:  # no credentials, warehouse unreachable: one line, as the runner reports
        result.exit_code, line = describe_failure("transform", exc, destination)
        result.lines = [line]
    finally:
        forget_password()
        shutil.rmtree(workdir, ignore_errors=True)
    return result
