"""The dbt semantic layer (`transform/models/semantic/`) computed by MetricFlow on the warehouse the
loader writes, with the profile `transform` generates: the project is parsed into a temporary
target path (so the semantic manifest always names this destination's database), MetricFlow
writes the SQL (`questions.py`), and the warehouse's own cursor runs it, so numbers stay exact
decimals. The parse key, the warehouse and each question's SQL are kept (`kept.py`), so that the
next question asked in the same context needs neither dlt nor dbt.

    session = MetricFlow("duckdb", verbose=False, context=kept.Context("duckdb"))
    semantic = session.open()              # dbt parse (or the parse kept from the last question), the manifest read
    asked = kept.question(args, first, last)
    columns, rows = session.answer(semantic, request(semantic, ["mrr"], "month", [], [], None, None), asked)
    session.close()
"""

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from dbt.adapters.factory import get_adapter_by_type
from dbt.contracts.graph.manifest import Manifest
from dlt.common.configuration.container import Container
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext
from metricflow_semantics.model.dbt_manifest_parser import parse_manifest_from_dbt_generated_manifest
from metricsync.dbt import kept
from metricsync.dbt.invocation import Dbt
from metricsync.dbt.kept import QueryFailed
from metricsync.dbt.parsed import ParsedCache, fingerprint
from metricsync.dbt.profiles import TARGET_SCHEMA, credentials, forget_password, profile, warehouse, write_profile
from metricsync.dbt.project import shown
from metricsync.dbt.questions import Semantic, compile_sql, first_line
from metricsync.exits import DBT_FAILED, USAGE_ERROR

logger = logging.getLogger("metricsync.query")

SETTINGS_PROVIDERS = {"EnvironProvider", "SecretsTomlProvider", "ConfigTomlProvider"}  # what `kept.Context` covers


class MetricFlow:
    """The destination's dbt adapter, the project parsed into a temporary target path, and the
    MetricFlow engine over both; what it resolved kept for the next question (`kept.py`)."""

    def __init__(self, destination: str, verbose: bool, context: kept.Context) -> None:
        self.destination, self.verbose, self.context = destination, verbose, context
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
        self.adapter, self.kind, self.parse_key = get_adapter_by_type(kind), kind, cache.key
        self.keep_context(kind, resolved)
        return Semantic(manifest)

    def keep_context(self, kind: str, resolved: Any) -> None:
        """The parse key and the warehouse kept for this context: not when a password is needed
        or dlt read its settings from elsewhere than the environment and its TOML files."""
        connection = kept.connection(kind, resolved)
        providers = Container()[PluggableRunContext].providers.providers
        known = all(type(p).__name__ in SETTINGS_PROVIDERS for p in providers)
        if connection is None or not known:
            logger.debug("query: nothing kept for the next question (a password, or settings outside the files)")
            return
        files = [str(Path(path).resolve()) for p in providers for path in getattr(p, "locations", [])]
        self.context.write(self.parse_key, connection, files)

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

    def fetch(self, sql: str, keys: int) -> tuple[list[str], list[tuple]]:
        """Rows as the driver returns them (Decimal for numeric; MetricFlow's own result table
        would turn decimals into floats), `kept.shape`d."""
        with self.adapter.connection_named("metricsync_query"):
            _connection, cursor = self.adapter.connections.add_query(sql, auto_begin=True)
            columns = [d[0] for d in cursor.description]
            rows = [tuple(row) for row in cursor.fetchall()]
        return columns, kept.shape(rows, keys)

    def compiled(self, semantic: Semantic, mf_request: Any, asked: dict) -> tuple[str, int]:
        """The question's SQL and group-by count: as kept for this parse, else compiled and kept."""
        folder = self.context.folder
        known = kept.read_question(folder, self.parse_key, asked)
        if known is not None:
            return known["sql"], known["keys"]
        sql, keys = compile_sql(semantic, mf_request, self.kind), len(mf_request.group_by_names)
        kept.keep_question(folder, self.parse_key, asked, sql, keys)
        return sql, keys

    def answer(self, semantic: Semantic, mf_request: Any, asked: dict) -> tuple[list[str], list[tuple]]:
        """The request's columns and rows, buckets with no answer at all left out; MetricFlow's
        refusal is a usage error, the warehouse's a `QueryFailed` saying what to do."""
        sql, keys = self.compiled(semantic, mf_request, asked)
        logger.info("query: %s", sql)
        try:
            return self.fetch(sql, keys=keys)
        except Exception as exc:
            missing = "fct_metric_values" in str(exc) or "dim_metric_series" in str(exc)
            hint = (
                f"the metrics mart is not built - run `metricsync transform --destination {self.destination}` first"
                if missing
                else "check --where"
                if asked["where"]
                else "see --log-level INFO for the SQL"
            )
            raise QueryFailed(
                f"query: the {self.destination} warehouse refused the query: {first_line(exc)} - {hint}",
                USAGE_ERROR if missing else DBT_FAILED,  # not built yet: as for bad configuration
            ) from None

    def close(self) -> None:
        forget_password()
        shutil.rmtree(self.workdir, ignore_errors=True)
