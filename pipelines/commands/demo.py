"""`make demo`: start the sandbox, load every provider into a DuckDB file (each run recorded in
the run history), show `verify` finding and repairing an old restatement (Whop), show what
landed, then run the dbt project (`transform`), show monthly MRR and a few rows of
`fct_metric_values`, the semantic layer (`metricsync query mrr --grain month --by account
currency`), and end by writing the HTML report `demo-report.html` beside the DuckDB file."""

import json
import os
import shutil
import sys
import tempfile
from argparse import Namespace
from decimal import Decimal

from metricsync.commands import query
from metricsync.commands._options import add_command
from metricsync.providers import PROVIDERS
from metricsync.sandbox import Sandbox

REPORT = "demo-report.html"  # written beside the DuckDB file


def _show(path: str, datasets: list[str]) -> None:
    import duckdb  # noqa: PLC0415 - start-up time (imports duckdb)

    out = sys.stdout
    with duckdb.connect(path, read_only=True) as conn:
        for dataset in datasets:
            tables = [
                r[0]
                for r in conn.execute(
                    "select table_name from information_schema.tables where table_schema = ? "
                    "and table_name not like '\\_%' escape '\\' order by 1",
                    [dataset],
                ).fetchall()
            ]
            for table in tables:
                count = conn.execute(f'select count(*) from "{dataset}"."{table}"').fetchone()[0]
                out.write(f"\n{dataset}.{table}: {count} rows\n")
                cursor = conn.execute(f'select * from "{dataset}"."{table}" limit 3')
                names = [d[0] for d in cursor.description if not d[0].startswith("_dlt")]
                index = [i for i, d in enumerate(cursor.description) if not d[0].startswith("_dlt")]
                out.write("  " + " | ".join(names)[:160] + "\n")
                for row in cursor.fetchall():
                    out.write("  " + " | ".join(str(row[i]) for i in index)[:160] + "\n")


MART_QUERIES = {
    "metrics.fct_mrr_monthly (Stripe MRR by account, month and currency, major units; a running month is incomplete)": "select account, month, currency, series, as_of, mrr, is_complete from metrics.fct_mrr_monthly "
    "order by month desc, series limit 6",
    "metrics.fct_metric_values (one row per provider, account, series, metric, grain, period, dimension)": "select provider, account, series, metric_id, metric, grain, period_start, period_end, dimension_name, "
    "dimension_value, value, currency, is_complete from metrics.fct_metric_values "
    "qualify row_number() over (partition by provider, account, series, metric_id "
    "order by period_start desc, dimension_value) = 1 order by provider, account, series, metric_id",
}


def _text(value) -> str:
    if value is None:
        return ""
    return format(value.normalize(), "f") if isinstance(value, Decimal) else str(value)


def _show_marts(path: str) -> None:
    import duckdb  # noqa: PLC0415 - start-up time (imports duckdb)

    with duckdb.connect(path) as conn:  # dbt (in this process) still holds the file: same configuration
        for title, sql in MART_QUERIES.items():
            cursor = conn.execute(sql)
            sys.stdout.write(f"\n{title}\n  " + " | ".join(d[0] for d in cursor.description) + "\n")
            for row in cursor.fetchall():
                sys.stdout.write("  " + " | ".join(_text(v) for v in row) + "\n")


def _transform() -> int:
    from metricsync.dbt.build import run_transform  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt and dbt load when the command runs

    print("\ntransform: dbt build + source freshness of transform/ ...", flush=True)
    result = run_transform("duckdb")
    print(result.message, file=sys.stdout if result.ok else sys.stderr, flush=True)
    return result.exit_code


def _query() -> int:
    argv = ("mrr", "--grain", "month", "--by", "account", "currency")
    print(f"\n$ metricsync query {' '.join(argv)}", flush=True)
    return query.main(query.arguments(*argv))


def _drift(box, pipelines_dir: str) -> int:
    """Restate five Whop days 60 days back (far beyond the lookback), then `verify --all` finds
    them (exit 9) and `verify --all --repair` reloads them (exit 0)."""

    from metricsync.commands.verify import verify_command  # noqa: PLC0415 - start-up time (imports pyarrow, httpx, rich)
    from metricsync.verification.choose import Scope  # noqa: PLC0415 - start-up time (imports pyarrow, httpx, rich)

    days = box.restate(5, ago=60)
    print(f"\nthe sandbox restated whop {days[0]}..{days[-1]}, far beyond the nightly lookback", flush=True)
    args = Namespace(
        resources=None,
        queries=None,
        accounts=None,
        destination="duckdb",
        pipelines_dir=pipelines_dir,
        json=False,
        repair=False,
        fill_gaps=False,
    )
    print("\n$ metricsync verify whop --all", flush=True)
    verify_command(args, ["whop"], Scope(sample=None))
    args.repair = True
    print("\n$ metricsync verify whop --all --repair", flush=True)
    return verify_command(args, ["whop"], Scope(sample=None))


def _report(duckdb_path: str) -> int:
    from metricsync.html_report import write_report  # noqa: PLC0415 - start-up time (imports altair, vl-convert)

    written = write_report("duckdb", os.path.join(os.path.dirname(os.path.abspath(duckdb_path)), REPORT))
    print(f"\nthe report: {written.path}", flush=True)
    return 0


def run_demo(duckdb_path: str) -> int:
    from metricsync.operations import record_results  # noqa: PLC0415 - start-up time (history imports dlt)
    from metricsync.runner import run_provider  # noqa: PLC0415 - start-up time (imports dlt, pyarrow, httpx)

    box = Sandbox(log_requests=False).start()
    pipelines_dir = tempfile.mkdtemp(prefix="metricsync-demo-")
    path = os.path.abspath(duckdb_path)
    for suffix in ("", ".wal"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    os.environ["DESTINATION__DUCKDB__CREDENTIALS"] = path
    loaded, code = [], 0
    try:
        print(f"sandbox on {box.url}; loading into {path}", flush=True)
        for provider in PROVIDERS:
            settings = box.by_name[provider].demo_settings(box.url)
            if not settings:
                continue
            for key, value in settings.items():
                os.environ[f"SOURCES__{provider.upper()}__{key.upper()}"] = (
                    json.dumps(value) if isinstance(value, (list, dict, bool)) else str(value)
                )
            result = run_provider(provider, "duckdb", None, pipelines_dir)
            record_results("run", [result], "duckdb", f"demo run {provider}", pipelines_dir)
            print(result.message, flush=True)
            if result.ok:
                loaded.append(provider)
            else:
                code = result.exit_code
        if "whop" in loaded:
            code = _drift(box, pipelines_dir) or code
    finally:
        box.stop()
        shutil.rmtree(pipelines_dir, ignore_errors=True)
    if loaded:
        _show(path, loaded)
    if code:
        return code
    code = _transform()
    if code == 0:
        _show_marts(path)
        code = _query() or _report(path)
    return code


def register(commands) -> None:
    demo = add_command(
        commands,
        "demo",
        "metricsync demo --duckdb demo.duckdb",
    )
    demo.add_argument("--duckdb", default="demo.duckdb")


def main(args) -> int:
    return run_demo(args.duckdb)
