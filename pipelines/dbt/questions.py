"""A question to the semantic layer compiled by MetricFlow from the parsed semantic manifest alone,
without dbt: the engine needs only the warehouse's SQL dialect to write the SQL (`explain`), which
the caller runs. `semantic.py` (a cold question) and `kept.py` (a question new to a kept parse)
both compile through `compile_sql`, so the SQL is the same whichever path wrote it.

    semantic = Semantic(manifest)
    mf_request = request(semantic, ["mrr"], "month", ["currency"], [], None, None)
    sql = compile_sql(semantic, mf_request, "duckdb")
"""

import datetime as dt
import logging
import re
from typing import Any, Optional

from metricflow.engine.metricflow_engine import MetricFlowEngine, MetricFlowQueryRequest
from metricflow.protocols.sql_client import SqlEngine
from metricflow.sql.render.duckdb_renderer import DuckDbSqlPlanRenderer
from metricflow.sql.render.postgres import PostgresSQLSqlPlanRenderer
from metricflow.sql.render.sql_plan_renderer import SqlPlanRenderer
from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup
from metricsync.dbt import kept
from metricsync.dbt.parsed import ParsedCache
from metricsync.dbt.project import DbtProject
from metricsync.exits import UsageError
from metricsync.sources._common.http.redaction import redact

logger = logging.getLogger("metricsync.query")

DIALECTS = {
    "duckdb": (SqlEngine.DUCKDB, DuckDbSqlPlanRenderer),
    "postgres": (SqlEngine.POSTGRES, PostgresSQLSqlPlanRenderer),
}


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


class Dialect:
    """What MetricFlow's `explain` asks of a SQL client: the engine and its renderer (it runs nothing)."""

    def __init__(self, kind: str) -> None:
        engine, renderer = DIALECTS[kind]
        self.sql_engine_type: SqlEngine = engine
        self.sql_plan_renderer: SqlPlanRenderer = renderer()


def compile_sql(semantic: Semantic, mf_request: Any, kind: str) -> str:
    """The SQL of the request in the warehouse's dialect; MetricFlow's refusal is a usage error."""
    client: Any = Dialect(kind)
    engine = MetricFlowEngine(semantic_manifest_lookup=SemanticManifestLookup(semantic.manifest), sql_client=client)
    try:
        return engine.explain(mf_request=mf_request).sql_statement.without_descriptions.sql
    except Exception as exc:  # MetricFlow refuses the query: an unknown dimension, a bad filter
        raise UsageError(f"query: {first_line(exc)}") from None


def compile_kept(project: DbtProject, context: dict, asked: dict) -> Optional[dict]:
    """{sql, keys} of a question new to the context's kept parse (kept for the next time), None
    when that parse is no longer kept."""
    manifest = ParsedCache(project, context["parse_key"]).read()
    if manifest is None:
        return None
    semantic = Semantic(manifest)
    mf_request = request(
        semantic, asked["metrics"], asked["grain"], asked["by"], asked["where"], asked["from"], asked["to"]
    )
    sql = compile_sql(semantic, mf_request, context["connection"]["kind"])
    keys = len(mf_request.group_by_names)
    kept.keep_question(project.target / kept.FOLDER, context["parse_key"], asked, sql, keys)
    return {"sql": sql, "keys": keys}


def first_line(exc: BaseException) -> str:
    lines = [t.strip() for t in redact(str(exc)).splitlines() if t.strip()]
    lines = [t for t in lines if t not in ("Runtime Error", "Database Error")] or lines  # dbt's headings
    return lines[0] if lines else type(exc).__name__
