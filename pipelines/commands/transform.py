"""`python -m metricsync transform`: the dbt project in `transform/` against the warehouse the runner
loads: `dbt build` (seeds, models, tests) with the marts in an audit schema, then - only when every
node passed - the marts published to `metrics` (write-audit-publish, `pipelines/warehouse/publish.py`),
then `dbt source freshness` for the loaded providers.

The dbt profile is generated at run time, in a temporary directory, from the same dlt destination
credentials the runner uses (`destination.<name>.credentials`), so there is no second profile to
maintain; a Postgres password reaches dbt through an environment variable, never a file. dbt runs
in this process (`dbtRunner`) from the installed packages: nothing is installed at run time.
"""

import json
import logging
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

from metricsync.commands._options import add_command
from metricsync.operations import tell
from metricsync.providers import PROVIDERS
from metricsync.sources._common.http.redaction import redact
from metricsync.sources._common.load.windows import clock_shift_days
from metricsync.warehouse.publish import PublishBlocked, audit_schema, publish

logger = logging.getLogger("metricsync.transform")

PROJECT_DIR = Path(__file__).resolve().parents[2] / "transform"  # the dbt project metricsync ships
PROFILE = "metricsync"
PASSWORD_ENV = "METRICSYNC_DBT_PASSWORD"
TARGET_SCHEMA = "metrics"
NOTHING_LOADED = 2  # as for bad configuration: nothing was run
EXIT_FAILED = 7  # a seed, model or test failed, or dbt could not run
EXIT_STALE = 8  # a provider's last load is older than the freshness error threshold
FAILED_STATUSES = {"error", "fail", "runtime error"}
ADAPTERS = ("duckdb", "postgres")  # destination types whose dbt adapter is installed (pyproject)


@dataclass
class TransformResult:
    exit_code: int = 0
    lines: list = field(default_factory=list)  # one per failed node (or the reason dbt did not run)
    warnings: list = field(default_factory=list)
    nodes: int = 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def message(self) -> str:
        if self.ok:
            return f"transform: ok - {self.nodes} dbt nodes built and tested"
        return "\n".join(self.lines)


def project_dir() -> Path:
    """`transform/` in the working directory when it holds a dbt project (a project's own copy,
    `metricsync init --with-dbt`), else the one metricsync ships."""
    local = Path("transform").resolve()
    return local if (local / "dbt_project.yml").exists() else PROJECT_DIR


def datasets() -> dict:
    """The dataset (schema) of each provider, as the runner names it (`dataset_name`, `dataset_prefix`)."""
    from metricsync.warehouse.destinations import dataset_name

    return {provider: dataset_name(provider) for provider in PROVIDERS}


def _warehouse(destination: str, workdir: str, label: str = "transform") -> tuple[str, Any]:
    """The destination's dbt adapter type and a dlt pipeline on it (its SQL client, its locks); a
    destination without an installed dbt adapter, or misconfigured, is refused in one line
    starting with `label` (the command)."""
    import dlt
    from metricsync.sources._common.errors import ConfigError
    from metricsync.warehouse.destinations import make_destination

    try:
        factory = make_destination(destination, TARGET_SCHEMA)
    except ConfigError as exc:  # named after the dataset it was asked for: the command's name is clearer here
        text = str(exc)
        raise ConfigError(
            f"{label}: {text[len(TARGET_SCHEMA) + 2 :]}" if text.startswith(f"{TARGET_SCHEMA}: ") else text
        ) from None
    kind = factory.destination_type.rsplit(".", 1)[-1]
    if kind not in ADAPTERS:
        raise ConfigError(
            f"transform: the {destination} warehouse ({kind}) has no dbt adapter here - transform runs "
            f"on {' and '.join(ADAPTERS)}; query the loaded tables directly or install that dbt adapter"
        )
    pipeline = dlt.pipeline(
        pipeline_name="metricsync_transform",
        destination=factory,
        dataset_name=TARGET_SCHEMA,
        pipelines_dir=os.path.join(workdir, "pipelines"),
    )
    return kind, pipeline


def _credentials(pipeline: Any) -> Any:
    """The pipeline's resolved dlt destination credentials."""
    return pipeline.destination_client().config.credentials


def _loaded(pipeline: Any) -> tuple[Any, dict]:
    """The resolved dlt credentials and the providers loaded there ({provider: the tables of its dataset})."""
    credentials = _credentials(pipeline)
    with pipeline.sql_client() as client:
        rows = client.execute_sql("select table_schema, table_name from information_schema.tables")
    tables: dict = {}
    for schema, table in rows or []:
        tables.setdefault(schema, set()).add(table)
    return credentials, {p: sorted(tables[d]) for p, d in datasets().items() if "_dlt_loads" in tables.get(d, ())}


def lock_wait_seconds() -> float:
    """`transform.lock_wait_seconds` (TRANSFORM__LOCK_WAIT_SECONDS): how long a `transform` waits
    for another one building the mart, before exit 6."""
    import dlt
    from metricsync.sources._common.config.spec import number, range_of

    value = dlt.config.get("transform.lock_wait_seconds")
    return number(
        "transform",
        "lock_wait_seconds",
        value or 0,
        setting="TRANSFORM__LOCK_WAIT_SECONDS",
        bounds=range_of("transform", "lock_wait_seconds"),
    )


@contextmanager
def _exclusive(pipeline: Any) -> Iterator[None]:
    """The mart's lock (one `transform` at a time), and on a DuckDB file its write turn too (dbt
    writes the file: no load opens it meanwhile)."""
    from metricsync.locking import mart_lock, write_turn

    wait = lock_wait_seconds()
    with mart_lock(pipeline, wait):
        if pipeline.destination.destination_type.endswith(".duckdb"):
            with write_turn(pipeline, "transform", wait, setting="TRANSFORM__LOCK_WAIT_SECONDS"):
                yield
        else:
            yield


def profile(destination: str, credentials: Any) -> dict:
    """profiles.yml content for the dlt credentials (the password as an env_var reference)."""
    if destination == "duckdb":
        output = {"type": "duckdb", "path": str(credentials.database), "schema": TARGET_SCHEMA, "threads": 4}
    else:
        output = {
            "type": "postgres",
            "host": credentials.host,
            "port": int(credentials.port or 5432),
            "user": credentials.username,
            "password": "{{ env_var('%s', '') }}" % PASSWORD_ENV,
            "dbname": credentials.database,
            "schema": TARGET_SCHEMA,
            "threads": 4,
        }
        query = dict(credentials.query or {})
        for key in ("sslmode", "sslcert", "sslkey", "sslrootcert", "connect_timeout"):
            if query.get(key):
                output[key] = int(query[key]) if key == "connect_timeout" else query[key]
    return {PROFILE: {"target": destination, "outputs": {destination: output}}}


def run_results() -> str:
    """Where this run's `run_results.json` is, as dbt places it: in `DBT_TARGET_PATH` (relative to
    the project) when set, else in the project's `target/`; named from the repository's root when
    inside it (`transform/target/run_results.json`), else in full."""
    path = project_dir() / (os.environ.get("DBT_TARGET_PATH") or "target") / "run_results.json"
    try:
        return str(path.relative_to(project_dir().parent))
    except ValueError:
        return str(path)


def _node_name(node: Any) -> str:
    kind = getattr(node, "resource_type", "node")
    return f"{getattr(kind, 'value', kind)} {getattr(node, 'name', '?')}"


def _failures(results: Any) -> list[str]:
    """One line per failed node of a dbt run result, e.g. for a data test that found rows:

    RunResult(status=TestStatus.Fail, node=<test not_null_stg_..._currency_exponent>,
              message="Got 1 result, configured to fail if != 0", failures=1)
    -> "transform: dbt test not_null_stg_..._currency_exponent fail: Got 1 result, configured to
        fail if != 0 - see transform/target/run_results.json; fix the data or the model and run again"
    """
    lines, artifacts = [], run_results()
    for item in getattr(results, "results", None) or []:
        status = str(getattr(item.status, "value", item.status))
        if status in FAILED_STATUSES:
            detail = (item.message or status).strip().splitlines()[0]
            lines.append(
                f"transform: dbt {_node_name(item.node)} {status}: {redact(detail)} - "
                f"see {artifacts}; fix the data or the model and run again"
            )
    return lines


def _freshness(results: Any, destination: str) -> tuple[list[str], list[str]]:
    """(errors, warnings) of `dbt source freshness`, one line per stale source, each saying which run
    brings it up to date."""
    errors, warnings = [], []
    for item in getattr(results, "results", None) or []:
        status = str(getattr(item.status, "value", item.status))
        provider = source = getattr(item.node, "source_name", "?")
        table = getattr(item.node, "name", "_dlt_loads")
        source = source if table == "_dlt_loads" else f"{source}.{table}"
        if status == "pass":
            continue
        age = getattr(item, "age", None)
        text = (
            (
                f"transform: {source} was last loaded {age / 3600:.0f} h ago ({status}) - "
                f"run `metricsync run {provider} --destination {destination}`"
            )
            if age is not None
            else (f"transform: freshness of {source}: {redact((item.message or status).splitlines()[0])}")
        )
        (warnings if status == "warn" else errors).append(text)
    return errors, warnings


class Dbt:
    """dbt commands on `transform/` with one generated profile, in this process."""

    def __init__(
        self,
        destination: str,
        profiles_dir: str,
        verbose: bool,
        loaded: Optional[dict] = None,
        marts: str = audit_schema(TARGET_SCHEMA),
        full_refresh: bool = False,
    ) -> None:
        schemas: dict = {f"metricsync_{provider}_schema": dataset for provider, dataset in datasets().items()}
        schemas.update(
            {f"metricsync_{provider}_enabled": provider in loaded for provider in PROVIDERS} if loaded else {}
        )
        # the marts are built and tested in the audit schema (`query` reads the published `marts`);
        # this target names schemas as given
        schemas.update(metricsync_schema=marts, metricsync_production_targets=[destination])
        shift = clock_shift_days()  # METRICSYNC_TODAY: load times on the clock the loads planned by
        schemas.update({"metricsync_clock_shift_days": shift} if shift else {})
        self.full_refresh = full_refresh  # incremental marts rebuilt whole, their tests on every row
        schemas.update({"metricsync_full_refresh": True} if full_refresh else {})
        self.common = [
            "--project-dir",
            str(project_dir()),
            "--profiles-dir",
            profiles_dir,
            "--target",
            destination,
            "--vars",
            json.dumps(schemas),
        ]
        self.flags = ["--no-send-anonymous-usage-stats", "--no-version-check", "--no-use-colors"]
        self.flags += [] if verbose else ["--quiet"]

    def invoke(self, *command: str, project_only: bool = False) -> Any:
        from dbt.cli.main import dbtRunner

        where = self.common[:2] if project_only else self.common
        return dbtRunner().invoke([*self.flags, *command, *where])

    def deps(self) -> None:
        """Packages a user added (the project itself has none, and downloads nothing)."""
        if any((project_dir() / name).exists() for name in ("packages.yml", "dependencies.yml")):
            self.invoke("deps", project_only=True)

    def build(self) -> tuple[int, list[str]]:
        """(nodes run, one line per failed node) of `dbt build`."""
        outcome = self.invoke("build", *(["--full-refresh"] if self.full_refresh else []))
        if outcome.result is None:
            text = [t.strip() for t in redact(str(outcome.exception or "")).splitlines() if t.strip()]
            raise DbtNotRun(": ".join(text[:2]) or "unknown error")
        lines = _failures(outcome.result)
        if not lines and not outcome.success:
            lines = ["transform: dbt build failed - see the dbt output above"]
        return len(outcome.result.results), lines

    def freshness(self, loaded: dict, destination: str) -> tuple[list[str], list[str]]:
        """Freshness of the sources of the tables that exist ({provider: tables}): a table the
        loader did not create (Whop metric results without metric queries) is not checked."""
        selected = [f"source:{p}.{t}" for p, tables in loaded.items() for t in tables]
        outcome = self.invoke("source", "freshness", "--select", *selected)
        return _freshness(outcome.result, destination)


class DbtNotRun(Exception):
    pass


def _write_profile(destination: str, credentials: Any, workdir: str) -> None:
    with open(os.path.join(workdir, "profiles.yml"), "w") as handle:
        json.dump(profile(destination, credentials), handle)  # JSON is YAML
    password = getattr(credentials, "password", None)
    if password:
        os.environ[PASSWORD_ENV] = str(password)


def _build_and_publish(
    result: TransformResult,
    destination: str,
    kind: str,
    pipeline: Any,
    workdir: str,
    verbose: bool,
    full_refresh: bool = False,
) -> None:
    """`dbt build` into the audit schema, published when every node passed, then freshness."""
    credentials, loaded = _loaded(pipeline)
    if not loaded:
        result.exit_code = NOTHING_LOADED
        result.lines = [
            f"transform: no provider is loaded in the {destination} warehouse - "
            f"run `metricsync run all --destination {destination}` first (or check DESTINATION__"
            f"{destination.upper()}__CREDENTIALS)"
        ]
        return
    _write_profile(kind, credentials, workdir)
    logger.info("transform: dbt build on %s (providers loaded: %s)", destination, ", ".join(loaded))
    dbt = Dbt(kind, workdir, verbose, loaded, full_refresh=full_refresh)
    dbt.deps()
    result.nodes, result.lines = dbt.build()
    if result.lines:
        result.exit_code = EXIT_FAILED
        result.lines.append(
            f"transform: nothing published - {TARGET_SCHEMA} keeps the previous mart; the failed "
            f"build is in {audit_schema(TARGET_SCHEMA)}"
        )
        return
    try:
        with pipeline.sql_client() as client:
            publish(client, audit_schema(TARGET_SCHEMA), TARGET_SCHEMA)
    except PublishBlocked as exc:
        result.exit_code, result.lines = EXIT_FAILED, [str(exc)]
        return
    errors, result.warnings = dbt.freshness(loaded, destination)
    if errors:
        result.exit_code, result.lines = EXIT_STALE, errors


def run_transform(destination: str = "duckdb", verbose: bool = False, full_refresh: bool = False) -> TransformResult:
    """`dbt build` then `dbt source freshness`; exit 0 only when every node passed (a freshness
    warning is reported, not failed). `full_refresh`: the incremental marts rebuilt from all loads."""
    result = TransformResult()
    workdir = tempfile.mkdtemp(prefix="metricsync-dbt-")
    try:
        kind, pipeline = _warehouse(destination, workdir)
        with _exclusive(pipeline):
            _build_and_publish(result, destination, kind, pipeline, workdir, verbose, full_refresh)
    except DbtNotRun as exc:
        result.exit_code = EXIT_FAILED
        result.lines = [
            f"transform: dbt could not run: {exc} - check {project_dir()}/ and the {destination} "
            "destination credentials"
        ]
    except Exception as exc:  # no credentials, warehouse unreachable: one line, as the runner reports
        from metricsync.runner import describe_failure

        result.exit_code, line = describe_failure("transform", exc, destination)
        result.lines = [line]
    finally:
        os.environ.pop(PASSWORD_ENV, None)
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def register(commands) -> None:
    add_command(
        commands,
        "transform",
        "dbt build + source freshness of transform/ on the warehouse the runner loads",
        "metricsync transform",
        "metricsync transform --destination postgres",
        "metricsync transform --full-refresh",
    ).add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild the incremental marts from every load (a nightly run rebuilds the periods loaded since)",
    )


def transform_and_report(args: Any) -> TransformResult:
    """`run_transform` with its lines printed (warnings and failures on stderr)."""
    result = run_transform(
        args.destination,
        verbose=args.log_level.upper() in ("INFO", "DEBUG"),
        full_refresh=getattr(args, "full_refresh", False),  # `run --transform` has no such flag
    )
    for line in result.warnings:
        print(line, file=sys.stderr, flush=True)
    print(result.message, file=sys.stdout if result.ok else sys.stderr, flush=True)
    tell("transform", "all", None, result.exit_code, result.message)
    return result


def main(args: Any) -> int:
    return transform_and_report(args).exit_code
