"""`metricsync query METRIC... [--grain G] [--by DIM...] [--where SQL] [--from D --to D] [--csv|--json]`
and `metricsync query --list`: the metrics defined once in `transform/models/semantic/` (dbt semantic
layer), computed by MetricFlow on the warehouse the loader writes, with the profile `transform`
generates. Each run parses the project into its own temporary target path (so the semantic
manifest always names this destination's database), MetricFlow writes the SQL, and the warehouse's
own cursor runs it, so numbers stay exact decimals:

    $ metricsync query mrr --grain month --by currency
    month       series        currency  mrr
    2026-01-01  mrr_by_price  usd       2464.91

The metrics guard themselves (a bucket holding two series or currencies has no answer, whichever
client asks); `series` and `currency` are added to the group-by (a metric's `meta.keep_apart`) so
that this command's answers are not empty, and each answer carries the metric's `<metric>_is_complete`
and, for levels, `<metric>_as_of` (the companion metrics, `meta.answer_of`).
"""

import argparse
import csv
import datetime as dt
import json
import logging
import os
import re
import shutil
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

from metricsync.commands._options import _date, add_command
from metricsync.exits import UsageError
from metricsync.output import document, real_stdout

logger = logging.getLogger("metricsync.query")

GRAINS = ("day", "week", "month", "quarter", "year")
EXIT_FAILED = 7  # dbt could not parse the project, or the warehouse refused MetricFlow's SQL
NOT_BUILT = 2  # as for bad configuration: the mart is not in the warehouse yet


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


def short(column: str) -> str:
    """`metric_time__month` -> `month`, `metric_value__currency` -> `currency`."""
    return column.rsplit("__", 1)[-1]


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dt.datetime) and value.time() == dt.time():  # a period start (Postgres: timestamptz)
        return value.date().isoformat()
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def render(columns: list[str], rows: list[tuple], style: str, out: Any) -> None:
    names = [short(c) for c in columns]
    cells = [[text(v) for v in row] for row in rows]
    if style == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(cells)
    elif style == "json":
        document([dict(zip(names, row)) for row in cells], out)
    else:
        widths = [max([len(n)] + [len(r[i]) for r in cells]) for i, n in enumerate(names)]
        for row in [names] + cells:
            out.write("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() + "\n")


class Warehouse:
    """The destination's dbt adapter, the project parsed into a temporary target path, and the
    MetricFlow engine over both."""

    def __init__(self, destination: str, verbose: bool) -> None:
        self.destination, self.verbose = destination, verbose
        self.workdir = tempfile.mkdtemp(prefix="metricsync-query-")

    def open(self) -> Semantic:
        from dbt.adapters.factory import get_adapter_by_type  # noqa: PLC0415 - start-up time (imports dbt)
        from metricflow_semantics.model.dbt_manifest_parser import (  # noqa: PLC0415 - start-up time (imports metricflow_semantics)
            parse_manifest_from_dbt_generated_manifest,
        )
        from metricsync.commands.transform import (  # noqa: PLC0415 - start-up time (imports pyarrow, httpx, rich)
            TARGET_SCHEMA,
            Dbt,
            _credentials,
            _warehouse,
            _write_profile,
        )

        kind, pipeline = _warehouse(self.destination, self.workdir, "query")
        credentials = _credentials(pipeline)
        _write_profile(kind, credentials, self.workdir)
        target = Path(self.workdir, "target")
        dbt = Dbt(kind, self.workdir, self.verbose, marts=TARGET_SCHEMA)  # the published marts, not the audit build
        outcome = dbt.invoke("parse", "--target-path", str(target))
        if not outcome.success:
            detail = [t.strip() for t in str(outcome.exception or "").splitlines() if t.strip()]
            raise QueryFailed(
                f"query: dbt parse of transform/ failed: {': '.join(detail[:2]) or 'see above'} - "
                "fix the semantic models in transform/models/semantic/",
                EXIT_FAILED,
            )
        self.adapter = get_adapter_by_type(kind)
        manifest = parse_manifest_from_dbt_generated_manifest((target / "semantic_manifest.json").read_text())
        return Semantic(manifest)

    def engine(self, semantic: Semantic) -> Any:
        from dbt_metricflow.cli.dbt_connectors.adapter_backed_client import (  # noqa: PLC0415 - start-up time (imports dbt, metricflow, dbt_metricflow)
            AdapterBackedSqlClient,
        )
        from metricflow.engine.metricflow_engine import MetricFlowEngine  # noqa: PLC0415 - start-up time (imports metricflow)
        from metricflow_semantics.model.semantic_manifest_lookup import (  # noqa: PLC0415 - start-up time (imports metricflow_semantics)
            SemanticManifestLookup,
        )

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

    def close(self) -> None:
        from metricsync.commands.transform import PASSWORD_ENV  # noqa: PLC0415 - start-up time (imports pyarrow, httpx, rich)

        os.environ.pop(PASSWORD_ENV, None)
        shutil.rmtree(self.workdir, ignore_errors=True)


class QueryFailed(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def request(semantic: Semantic, args: Any) -> Any:
    """MetricFlow's request for the command line; `keep_apart` group-bys added to the user's."""
    from metricflow.engine.metricflow_engine import (  # noqa: PLC0415 - start-up time (imports metricflow)
        MetricFlowQueryRequest,
    )

    unknown = [m for m in args.metrics if m not in semantic.metrics]
    if unknown:
        raise UsageError(
            f"query: unknown metric {', '.join(unknown)} - metricsync query --list shows {', '.join(semantic.metrics)}"
        )
    time = f"metric_time__{args.grain}"
    group_by = [time] + [semantic.group_by(name) for name in args.by or []]
    for metric in args.metrics:
        group_by += [name for name in semantic.keep_apart(metric) if name not in group_by]
    first, last = _date(args.date_from, "--from"), _date(args.date_to, "--to")
    metrics = [name for metric in args.metrics for name in [metric, *semantic.companions(metric)]]
    return MetricFlowQueryRequest.create(
        metric_names=metrics,
        group_by_names=group_by,
        where_constraints=[semantic.where(w) for w in args.where or []] or None,
        time_constraint_start=dt.datetime.combine(first, dt.time()) if first else None,
        time_constraint_end=dt.datetime.combine(last, dt.time()) if last else None,
    )


def write_profile(destination: str, directory: str) -> str:
    """DIR/profiles.yml for the destination, as `transform` generates it (a Postgres password as
    an `env_var` reference), for running `dbt parse` and `mf` by hand in transform/."""
    from metricsync.commands.transform import (  # noqa: PLC0415 - start-up time (imports pyarrow, httpx, rich)
        PASSWORD_ENV,
        PROFILE,
        _credentials,
        _warehouse,
        profile,
    )

    workdir = tempfile.mkdtemp(prefix="metricsync-profile-")
    try:
        kind, pipeline = _warehouse(destination, workdir, "query")
        credentials = _credentials(pipeline)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    # target `prod`: the project names a production target's schemas as given (the published
    # `metrics`), any other target's with its schema as prefix (generate_schema_name)
    output = profile(kind, credentials)[PROFILE]["outputs"][kind]
    path = Path(directory, "profiles.yml")
    path.write_text(json.dumps({PROFILE: {"target": "prod", "outputs": {"prod": output}}}, indent=2) + "\n")
    secret = f"; set {PASSWORD_ENV} to the password" if getattr(credentials, "password", None) else ""
    return f"query: wrote {path} ({destination}){secret} - then in transform/: dbt parse, mf query ..."


def run_query(args: Any, out: Optional[Any] = None) -> int:
    from metricsync.runner import describe_failure  # noqa: PLC0415 - start-up time (imports dlt, pyarrow, httpx)

    out = out or real_stdout()
    if args.write_profile and args.json:
        raise UsageError("query: --write-profile writes a file, it prints no data - drop --json")
    if args.write_profile:
        try:
            out.write(write_profile(args.destination, args.write_profile) + "\n")
            return 0
        except Exception as exc:
            code, line = describe_failure("query", exc, args.destination)
            raise QueryFailed(line, code) from None
    warehouse = Warehouse(args.destination, verbose=args.log_level.upper() in ("INFO", "DEBUG"))
    try:
        semantic = warehouse.open()
        if args.list and args.json:
            document(
                [
                    {"metric": name, "description": " ".join((metric.description or "").split())}
                    for name, metric in semantic.metrics.items()
                ],
                out,
            )
            return 0
        if args.list:
            for name, metric in semantic.metrics.items():
                out.write(f"{name}: {' '.join((metric.description or '').split())}\n")
            return 0
        if not args.metrics:
            raise UsageError("query: name a metric (metricsync query --list shows them)")
        mf_request = request(semantic, args)
        try:
            sql = warehouse.engine(semantic).explain(mf_request=mf_request).sql_statement.without_descriptions.sql
        except Exception as exc:  # MetricFlow refuses the query: an unknown dimension, a bad filter
            raise UsageError(f"query: {_first_line(exc)}") from None
        logger.info("query: %s", sql)
        try:
            columns, rows = warehouse.fetch(sql, keys=len(mf_request.group_by_names))
        except Exception as exc:
            missing = "fct_metric_values" in str(exc) or "metric_series" in str(exc)
            hint = (
                f"the metrics mart is not built - run `metricsync transform --destination {args.destination}` first"
                if missing
                else "check --where"
                if args.where
                else "see --log-level INFO for the SQL"
            )
            raise QueryFailed(
                f"query: the {args.destination} warehouse refused the query: {_first_line(exc)} - {hint}",
                NOT_BUILT if missing else EXIT_FAILED,
            ) from None
        keys = len(mf_request.group_by_names)
        rows = [row for row in rows if any(v is not None for v in row[keys:])]  # a bucket with no answer at all
        render(columns, rows, "csv" if args.csv else "json" if args.json else "table", out)
        return 0
    except (UsageError, QueryFailed):
        raise
    except Exception as exc:  # no credentials, warehouse unreachable: one line, as the runner reports
        code, line = describe_failure("query", exc, args.destination)
        raise QueryFailed(line, code) from None
    finally:
        warehouse.close()


def _first_line(exc: BaseException) -> str:
    from metricsync.sources._common.http.redaction import (  # noqa: PLC0415 - start-up time (imports pyarrow, httpx, rich)
        redact,
    )

    lines = [t.strip() for t in redact(str(exc)).splitlines() if t.strip()]
    lines = [t for t in lines if t not in ("Runtime Error", "Database Error")] or lines  # dbt's headings
    return lines[0] if lines else type(exc).__name__


def register(commands) -> None:
    query = add_command(
        commands,
        "query",
        "metrics from the dbt semantic layer (MetricFlow) on the loaded warehouse",
        "metricsync query --list",
        "metricsync query --write-profile transform",
        "metricsync query mrr --grain month --by account currency",
        "metricsync query net_revenue --grain month --where \"currency = 'usd'\" --csv",
        "metricsync query statsig_value --by series --from 2026-01-01 --to 2026-01-31 --json",
    )
    query.add_argument("metrics", nargs="*", metavar="METRIC", help="metric names (see --list)")
    query.add_argument("--list", action="store_true", help="list the metrics with their descriptions")
    query.add_argument(
        "--write-profile",
        metavar="DIR",
        help="only write DIR/profiles.yml for this destination, to run dbt and mf by hand",
    )
    query.add_argument("--grain", choices=GRAINS, default="day", help="time grain of metric_time (default day)")
    query.add_argument(
        "--by", nargs="+", metavar="DIM", help="group by these dimensions or entities (e.g. account currency)"
    )
    query.add_argument(
        "--where",
        action="append",
        metavar="SQL",
        help="filter, e.g. \"currency = 'usd'\" (names are dimensions; repeatable)",
    )
    query.add_argument("--from", dest="date_from", metavar="D", help="first day (YYYY-MM-DD)")
    query.add_argument("--to", dest="date_to", metavar="D", help="last day (YYYY-MM-DD)")
    style = query.add_mutually_exclusive_group()
    style.add_argument("--csv", action="store_true", help="CSV on stdout")
    style.add_argument("--json", action="store_true", help="a JSON array of objects on stdout")


def arguments(*argv: str) -> argparse.Namespace:
    """`metricsync query ARGV...` parsed, on DuckDB (for the demo)."""
    parser = argparse.ArgumentParser(prog="metricsync")
    register(parser.add_subparsers())
    return parser.parse_args(["query", *argv, "--destination", "duckdb", "--log-level", "WARNING"])


def main(args: Any) -> int:
    try:
        return run_query(args)
    except QueryFailed as exc:
        print(str(exc), file=sys.stderr, flush=True)
        return exc.exit_code
