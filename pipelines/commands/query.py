"""`metricsync query METRIC... [--grain G] [--by DIM...] [--where SQL] [--from D --to D] [--csv|--json]`
and `metricsync query --list`: the metrics defined once in `transform/models/semantic/` (dbt semantic
layer), computed by MetricFlow on the warehouse the loader writes (`pipelines/dbt/semantic.py`), printed as
a table, CSV or JSON:

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
import sys
from decimal import Decimal
from typing import Any, Optional

from metricsync.commands._options import _date, add_command, settle_destination
from metricsync.exits import UsageError
from metricsync.output import document, real_stdout
from metricsync.sources._common.http.masking import register_configured_secrets

GRAINS = ("day", "week", "month", "quarter", "year")
SETTLES_ITSELF = True  # cli.py leaves the settings to `run_query`: a question asked before reads none


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


def run_query(args: Any, out: Optional[Any] = None) -> int:
    """A question asked before in the same context is answered from what was kept, before dlt reads
    any setting (`warm.py`); any other through dlt, dbt and MetricFlow (`semantic.py`)."""
    from metricsync.dbt import kept, warm  # noqa: PLC0415 - start-up time: the CLI imports this module for --help

    out = out or real_stdout()
    context = kept.Context(args.destination)  # as named on the command line (None: from the settings)
    first, last = _date(args.date_from, "--from"), _date(args.date_to, "--to")
    asked = kept.question(args, first, last)
    answered = warm.answer(context, asked) if args.metrics and not (args.list or args.write_profile) else None
    if answered is None:
        register_configured_secrets()  # before anything parses a credential (and may quote it in an error)
        settle_destination(args)
        if args.write_profile:
            return write_profile(args, out)
        answered = ask_through_dbt(args, context, asked, out)
    if answered is not None:
        render(*answered, "csv" if args.csv else "json" if args.json else "table", out)
    return 0


def ask_through_dbt(args: Any, context: Any, asked: dict, out: Any) -> Optional[tuple[list[str], list[tuple]]]:
    """The answer (None for --list, printed here) with dlt resolving the warehouse and dbt's adapter."""
    from metricsync.dbt.kept import QueryFailed  # noqa: PLC0415 - start-up time: the CLI imports this module for --help
    from metricsync.dbt.questions import request  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt and dbt load when the command runs
    from metricsync.dbt.semantic import MetricFlow  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt and dbt load when the command runs
    from metricsync.runner import describe_failure  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt and dbt load when the command runs

    session = MetricFlow(args.destination, verbose=args.log_level.upper() in ("INFO", "DEBUG"), context=context)
    try:
        semantic = session.open()
        if args.list:
            list_metrics(semantic.metrics, args.json, out)
            return None
        if not args.metrics:
            raise UsageError("query: name a metric (metricsync query --list shows them)")
        mf_request = request(
            semantic, asked["metrics"], asked["grain"], asked["by"], asked["where"], asked["from"], asked["to"]
        )
        return session.answer(semantic, mf_request, asked)
    except (UsageError, QueryFailed):
        raise
    except Exception as exc:  # no credentials, warehouse unreachable: one line, as the runner reports
        code, line = describe_failure("query", exc, args.destination)
        raise QueryFailed(line, code) from None
    finally:
        session.close()


def list_metrics(metrics: dict, as_json: bool, out: Any) -> None:
    """`--list`: each metric with its description."""
    described = {name: " ".join((metric.description or "").split()) for name, metric in metrics.items()}
    if as_json:
        document([{"metric": name, "description": text} for name, text in described.items()], out)
    else:
        for name, text in described.items():
            out.write(f"{name}: {text}\n")


def write_profile(args: Any, out: Any) -> int:
    """`--write-profile DIR`: DIR/profiles.yml for this destination, to run dbt and mf by hand."""
    from metricsync.dbt.kept import QueryFailed  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt and dbt load when the command runs
    from metricsync.dbt.profiles import PASSWORD_ENV, write_prod_profile  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt and dbt load when the command runs
    from metricsync.runner import describe_failure  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt and dbt load when the command runs

    if args.json:
        raise UsageError("query: --write-profile writes a file, it prints no data - drop --json")
    try:
        path, password = write_prod_profile(args.destination, args.write_profile)
    except Exception as exc:
        code, line = describe_failure("query", exc, args.destination)
        raise QueryFailed(line, code) from None
    secret = f"; set {PASSWORD_ENV} to the password" if password else ""
    out.write(f"query: wrote {path} ({args.destination}){secret} - then in transform/: dbt parse, mf query ...\n")
    return 0


def register(commands) -> None:
    query = add_command(
        commands,
        "query",
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
    from metricsync.dbt.kept import QueryFailed  # noqa: PLC0415 - start-up time: the CLI imports this module for --help

    try:
        return run_query(args)
    except QueryFailed as exc:
        print(str(exc), file=sys.stderr, flush=True)
        return exc.exit_code
