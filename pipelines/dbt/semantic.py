"""The dbt semantic layer (`transform/models/semantic/`) computed by MetricFlow on the warehouse the
loader writes, with the profile `transform` generates: the project is parsed into a temporary
target path (so the semantic manifest always names this destination's database), MetricFlow
writes the SQL, and the warehouse's own cursor runs it, so numbers stay exact decimals.

    session = MetricFlow("duckdb", verbose=False)
    semantic = session.open()              # dbt parse (or the parse kept from the last question), the manifest read
    columns, rows = session.answer(semantic, request(semantic, ["mrr"], "month", ["currency"], [], None, None))
    session.close()
"""

import datetime as dt
import logging
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional

from dbt.adapters.factory import get_adapter_by_type
from dbt.contracts.graph.manifest import Manifest
from dbt_metricflow.cli.dbt_connectors.adapter_backed_client import AdapterBackedSqlClient
from metricflow.engine.metricflow_engine import MetricFlowEngine, MetricFlowQueryRequest
from metricflow_semantics.model.dbt_manifest_parser import parse_manifest_from_dbt_generated_manifest
from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup
from metricsync.dbt.invocation import Dbt
from metricsync.dbt.parsed import ParsedCache, fingerprint
from metricsync.dbt.profiles import TARGET_SCHEMA, credentials, forget_password, profile, warehouse, write_profile
from metricsync.dbt.project import shown
from metricsync.exits import DBT_FAILED, USAGE_ERROR, UsageError
from metricsync.sources._common.http.redaction import redact

logger = logging.getLogger("metricsync.query")


class QueryFailed(Exception):
    """The project did not parse, or the warehouse refused the query: one line and its exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Semantic:
    """The parsed semantic manifest: metrics, and the group-by name of each short dimension name."""

    def __init__(self, manifest: Any) -> None:
        self.manifest = manifest
        self.all_metrics = {metric.name: metric for metric in manifest.metrics}
        self.metrics = {
            name: metric
            for name, metric in self.all_metrics.items()  # the ones to ask
            if not {"part", "answer_of"} & set(self._meta(metric))
        }
        self.names: dict[str, str] = {}  # short name -> MetricFlow group-by name
        for model in manifest.semantic_models:
            primary = model.primary_entity or next(
                (e.name for e in model.entities if str(getattr(e.type, "value", e.type)) == "primary"), None
            )
            for entity in model.entities:
                self.names.setdefault(entity.name, entity.name)
            for dimension in model.dimensions:
                if str(getattr(dimension.type, "value", dimension.type)) == "categorical":
                    self.names.setdefault(dimension.name, f"{primary}__{dimension.name}")

    def group_by(self, name: str) -> str:
        if "__" in name:
            return name
        if name not in self.names:
            raise UsageError(f"query: --by {name} is not a dimension - use one of {', '.join(sorted(self.names))}")
        return self.names[name]

    @staticmethod
    def _meta(metric: Any) -> dict:
        return (metric.config.meta if metric.config else None) or {}

    def keep_apart(self, metric: str) -> list[str]:
        return list(self._meta(self.metrics[metric]).get("keep_apart", []))

    def companions(self, metric: str) -> list[str]:
        """`mrr` -> [`mrr_is_complete`, `mrr_as_of`]: the metrics that say how complete its answer is."""
        return [name for name, other in self.all_metrics.items() if self._meta(other).get("answer_of") == metric]

    def where(self, text: str) -> str:
        """`currency = 'usd'` -> `{{ Dimension('metric_value__currency') }} = 'usd'` (outside quotes);
        a filter already written in MetricFlow's Jinja form is passed as given."""
        if "{{" in text:
            return text
        parts = re.split(r"('(?:[^']|'')*')", text)
        for index in range(0, len(parts), 2):
            parts[index] = re.sub(r"\b[a-z_][a-z0-9_]*\b", self._template, parts[index])
        return "".join(parts)

    def _template(self, match: re.Match) -> str:
        name = self.names.get(match.group(0))
        if name is None:
            return match.group(0)
        return f"{{{{ Dimension('{name}') }}}}" if "__" in name else f"{{{{ Entity('{name}') }}}}"


class MetricFlow:
    """The destination's dbt adapter, the project parsed into a temporary target path, and the
    MetricFlow engine over both."""

    def __init__(self, destination: str, verbose: bool) -> None:
        self.destination, self.verbose = destination, verbose
        self.workdir = tempfile.mkdtemp(prefix="metricsync-query-")

    def open(self) -> Semantic:
        """The semantic manifest as kept from the last parse of the same project and target
        (`parsed.py`), else parsed now; dbt's adapter registered either way."""
        kind, pipeline = warehouse(self.destination, self.workdir, "query")
        resolved = credentials(pipeline)
        write_profile(kind, resolved, self.workdir)
        target = Path(self.workdir, "target")
        # the published marts, not the audit build; parsed into this run's own target (a transform
        # may be writing the project's)
        dbt = Dbt(kind, self.workdir, self.verbose, marts=TARGET_SCHEMA, target=target)
        cache = ParsedCache(dbt.project, fingerprint(dbt.project, profile(kind, resolved), dbt.variables))
        manifest = cache.read()
        # a kept manifest is given to dbt, which takes it as the project's: the adapter is registered, nothing parsed
        self.parse(dbt, given=None if manifest is None else Manifest())
        if manifest is None:
            text = (target / "semantic_manifest.json").read_text()
            manifest = parse_manifest_from_dbt_generated_manifest(text)
            cache.write(text)
        self.adapter = get_adapter_by_type(kind)
        return Semantic(manifest)

    @staticmethod
    def parse(dbt: Dbt, given: Any) -> None:
        """`dbt parse` into the target (`given`: a manifest dbt takes instead of parsing)."""
        if given is None:
            logger.debug("query: dbt parse of %s", shown(dbt.project.path))
        outcome = dbt.invoke("parse", manifest=given)
        if not outcome.success:
            detail = [t.strip() for t in str(outcome.exception or "").splitlines() if t.strip()]
            raise QueryFailed(
                f"query: dbt parse of {shown(dbt.project.path)}/ failed: {': '.join(detail[:2]) or 'see above'} - "
                f"fix the semantic models in {shown(dbt.project.path / 'models' / 'semantic')}/",
                DBT_FAILED,
            )

    def engine(self, semantic: Semantic) -> Any:
        return MetricFlowEngine(
            semantic_manifest_lookup=SemanticManifestLookup(semantic.manifest),
            sql_client=AdapterBackedSqlClient(self.adapter),
        )

    def fetch(self, sql: str, keys: int) -> tuple[list[str], list[tuple]]:
        """Rows as the driver returns them (Decimal for numeric; MetricFlow's own result table
        would turn decimals into floats), sorted on the first `keys` (group-by) columns."""
        with self.adapter.connection_named("metricsync_query"):
            _connection, cursor = self.adapter.connections.add_query(sql, auto_begin=True)
            columns = [d[0] for d in cursor.description]
            rows = [tuple(row) for row in cursor.fetchall()]
        return columns, sorted(rows, key=lambda row: [(v is None, v) for v in row[:keys]])

    def answer(self, semantic: Semantic, mf_request: Any, filtered: bool) -> tuple[list[str], list[tuple]]:
        """The request's columns and rows, buckets with no answer at all left out; MetricFlow's
        refusal is a usage error, the warehouse's a `QueryFailed` saying what to do
        (`filtered`: the user gave --where)."""
        try:
            sql = self.engine(semantic).explain(mf_request=mf_request).sql_statement.without_descriptions.sql
        except Exception as exc:  # MetricFlow refuses the query: an unknown dimension, a bad filter
            raise UsageError(f"query: {first_line(exc)}") from None
        logger.info("query: %s", sql)
        keys = len(mf_request.group_by_names)
        try:
            columns, rows = self.fetch(sql, keys=keys)
        except Exception as exc:
            missing = "fct_metric_values" in str(exc) or "dim_metric_series" in str(exc)
            hint = (
                f"the metrics mart is not built - run `metricsync transform --destination {self.destination}` first"
                if missing
                else "check --where"
                if filtered
                else "see --log-level INFO for the SQL"
            )
            raise QueryFailed(
                f"query: the {self.destination} warehouse refused the query: {first_line(exc)} - {hint}",
                USAGE_ERROR if missing else DBT_FAILED,  # not built yet: as for bad configuration
            ) from None
        return columns, [row for row in rows if any(v is not None for v in row[keys:])]

    def close(self) -> None:
        forget_password()
        shutil.rmtree(self.workdir, ignore_errors=True)


def request(
    semantic: Semantic,
    metrics: list[str],
    grain: str,
    by: list[str],
    where: list[str],
    first: Optional[dt.date],
    last: Optional[dt.date],
) -> Any:
    """MetricFlow's request; each metric's companions and `keep_apart` group-bys added."""
    unknown = [m for m in metrics if m not in semantic.metrics]
    if unknown:
        raise UsageError(
            f"query: unknown metric {', '.join(unknown)} - metricsync query --list shows {', '.join(semantic.metrics)}"
        )
    group_by = [f"metric_time__{grain}"] + [semantic.group_by(name) for name in by]
    for metric in metrics:
        group_by += [name for name in semantic.keep_apart(metric) if name not in group_by]
    return MetricFlowQueryRequest.create(
        metric_names=[name for metric in metrics for name in [metric, *semantic.companions(metric)]],
        group_by_names=group_by,
        where_constraints=[semantic.where(w) for w in where] or None,
        time_constraint_start=dt.datetime.combine(first, dt.time()) if first else None,
        time_constraint_end=dt.datetime.combine(last, dt.time()) if last else None,
    )


def first_line(exc: BaseException) -> str:
    lines = [t.strip() for t in redact(str(exc)).splitlines() if t.strip()]
    lines = [t for t in lines if t not in ("Runtime Error", "Database Error")] or lines  # dbt's headings
    return lines[0] if lines else type(exc).__name__
