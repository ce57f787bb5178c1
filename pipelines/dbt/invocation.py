"""dbt commands on the project (`project.dbt_project()`) with one generated profile, run in this
process (`dbtRunner`) from the installed packages: nothing is installed at run time. Their
failures become one line per node, naming the artifact that has the rest."""

import json
from pathlib import Path
from typing import Any, Optional

from dbt.cli.main import dbtRunner
from metricsync.dbt.profiles import TARGET_SCHEMA, datasets
from metricsync.dbt.project import dbt_project, run_results
from metricsync.dbt.publish import audit_schema
from metricsync.providers import PROVIDERS
from metricsync.sources._common.http.redaction import redact
from metricsync.sources._common.load.windows import clock_shift_days

FAILED_STATUSES = {"error", "fail", "runtime error"}


class DbtNotRun(Exception):
    """dbt could not run at all (the project or the profile is broken): its first lines."""


class Dbt:
    """dbt commands on `transform/` with one generated profile, in this process."""

    def __init__(
        self,
        destination: str,
        profiles_dir: str,
        verbose: bool,
        loaded: Optional[dict] = None,
        marts: str = audit_schema(TARGET_SCHEMA),
        target: Optional[Path] = None,
        full_refresh: bool = False,
    ) -> None:
        self.full_refresh = full_refresh  # incremental marts rebuilt whole, their tests on every row
        self.project = dbt_project()
        self.target = target or self.project.target  # never inside the installed package
        self.variables = project_vars(destination, loaded, marts, full_refresh)
        self.common = [
            "--project-dir",
            str(self.project.path),
            "--log-path",
            str(self.project.logs),
            "--profiles-dir",
            profiles_dir,
            "--target",
            destination,
            "--vars",
            json.dumps(self.variables),
        ]
        self.flags = ["--no-send-anonymous-usage-stats", "--no-version-check", "--no-use-colors"]
        self.flags += [] if verbose else ["--quiet"]

    def invoke(self, *command: str, project_only: bool = False, manifest: Any = None) -> Any:
        """`manifest`: a dbt `Manifest` dbt takes as the project's instead of parsing it."""
        where = self.common[:4] if project_only else [*self.common, "--target-path", str(self.target)]
        return dbtRunner(manifest=manifest).invoke([*self.flags, *command, *where])

    def deps(self) -> None:
        """Packages a user added (the project itself has none, and downloads nothing)."""
        if any((self.project.path / name).exists() for name in ("packages.yml", "dependencies.yml")):
            self.invoke("deps", project_only=True)

    def build(self) -> tuple[int, list[str]]:
        """(nodes run, one line per failed node) of `dbt build`."""
        outcome = self.invoke("build", *(["--full-refresh"] if self.full_refresh else []))
        if outcome.result is None:
            text = [t.strip() for t in redact(str(outcome.exception or "")).splitlines() if t.strip()]
            raise DbtNotRun(": ".join(text[:2]) or "unknown error")
        lines = failures(outcome.result)
        if not lines and not outcome.success:
            lines = ["transform: dbt build failed - see the dbt output above"]
        return len(outcome.result.results), lines

    def freshness(self, loaded: dict, destination: str) -> tuple[list[str], list[str]]:
        """Freshness of the sources of the tables that exist ({provider: tables}): a table the
        loader did not create (Whop metric results without metric queries) is not checked."""
        selected = [f"source:{p}.{t}" for p, tables in loaded.items() for t in tables]
        outcome = self.invoke("source", "freshness", "--select", *selected)
        return stale_sources(outcome.result, destination)


def project_vars(destination: str, loaded: Optional[dict], marts: str, full_refresh: bool = False) -> dict:
    """The project's `--vars`: each provider's dataset (and, after a load, whether it is loaded),
    the marts' schema and the production target (its schemas named as given), the clock's shift."""
    values: dict = {f"metricsync_{provider}_schema": dataset for provider, dataset in datasets().items()}
    values.update({f"metricsync_{provider}_enabled": provider in loaded for provider in PROVIDERS} if loaded else {})
    # the marts are built and tested in the audit schema (`query` reads the published `marts`)
    values.update(metricsync_schema=marts, metricsync_production_targets=[destination])
    shift = clock_shift_days()  # METRICSYNC_TODAY: load times on the clock the loads planned by
    values.update({"metricsync_clock_shift_days": shift} if shift else {})
    values.update({"metricsync_full_refresh": True} if full_refresh else {})
    return values


def _node_name(node: Any) -> str:
    kind = getattr(node, "resource_type", "node")
    return f"{getattr(kind, 'value', kind)} {getattr(node, 'name', '?')}"


def failures(results: Any) -> list[str]:
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


def stale_sources(results: Any, destination: str) -> tuple[list[str], list[str]]:
    """(errors, warnings) of `dbt source freshness`, one line per stale source, each saying which run
    brings it up to date."""
    errors: list[str] = []
    warnings: list[str] = []
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
