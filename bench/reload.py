"""Re-loading one big window (`python -m metricsync.bench.reload`, and `make bench`'s `reload` scenario): a
daily Whop metric broken down by N countries over one 92-day window is loaded, every value of the
window is restated upstream, and the same range is loaded again; each load runs in its own process
(`metricsync.bench.child`, peak RSS of that process alone). The warehouse must then hold exactly the sandbox's
new values. Prints one JSON line per run.

    python -m metricsync.bench.reload --countries 600 --destination duckdb      # 55,200 rows
    python -m metricsync.bench.reload --countries 5435 --destination postgres   # 500,020 rows
"""

import argparse
import datetime as dt
import json
import logging
import os
import shutil
import sys
import tempfile
from decimal import Decimal
from typing import Optional

from metricsync.sandbox import Sandbox

from .runs import env_for, pg_admin, run_child

logger = logging.getLogger("bench")
DAYS = 92  # Whop's daily window (sources/whop/settings.py MAX_PERIODS)
QUERY = {"name": "by_country", "resource": "receipts:gross_revenue", "granularity": "daily", "breakdowns": ["country"]}


def sandbox_for(countries: int) -> Sandbox:
    """The sandbox answering `countries` countries, each window's rows made once (not again for
    each of its pages: `rendered.clear()` after a restatement)."""
    box = Sandbox(log_requests=False).start()
    whop = box.by_name["whop"]
    whop.settings["breakdown_values"] = {"country": [f"C{n:05d}" for n in range(countries)]}
    whop.settings["metric_page_size"] = 20_000
    render, rendered = whop.metric_rows, {}

    def metric_rows(*args):
        key = repr(args)  # the breakdowns come as a list
        if key not in rendered:
            rendered[key] = render(*args)
        return rendered[key]

    whop.metric_rows, box.rendered = metric_rows, rendered
    return box


def truth(box: Sandbox, span: tuple) -> dict:
    """{(period, country): value} the sandbox answers for the span now."""
    totals = box.by_name["whop"].metric_totals(
        QUERY["resource"], "daily", ["country"], span[0], span[1] + dt.timedelta(days=1)
    )
    return {(period, combo[0]): value for (period, combo), value in totals.items()}


def stored(destination: str, where: str) -> dict:
    sql = "select period, breakdown_key, value from whop.metric_results where query_name = 'by_country'"
    if destination == "duckdb":
        import duckdb  # noqa: PLC0415 - start-up time (imports duckdb)

        with duckdb.connect(where, read_only=True) as con:
            rows = con.execute(sql).fetchall()
    else:
        import psycopg2  # noqa: PLC0415 - only the Postgres runs need it

        with psycopg2.connect(where) as con, con.cursor() as cur:
            cur.execute(sql)
            rows = cur.fetchall()
    return {(period, json.loads(key)["country"]): Decimal(str(value)) for period, key, value in rows}


def reload(countries: int, destination: str, memory_limit: Optional[str] = None) -> dict:
    """Load the window, restate it upstream, load it again; the second run's measures and whether
    the warehouse is exact."""
    box = sandbox_for(countries)
    work = tempfile.mkdtemp(prefix="metricsync-reload-")
    last = box.today - dt.timedelta(days=10)
    span = (last - dt.timedelta(days=DAYS - 1), last)
    settings = {
        "whop": {
            "api_key": box.by_name["whop"].api_key,
            "base_url": f"{box.url}/api/v1",
            "metric_queries": [QUERY],
            "wallet_queries": [],
        }
    }
    extra = {"DESTINATION__DUCKDB__CREDENTIALS": os.path.join(work, "reload.duckdb")}
    if memory_limit:
        extra["DESTINATION__DUCKDB__MEMORY_LIMIT"] = memory_limit
    where = extra["DESTINATION__DUCKDB__CREDENTIALS"]
    if destination == "postgres":
        name = f"metricsync_reload_{os.getpid()}"
        pg_admin(f"drop database if exists {name}")
        pg_admin(f"create database {name}")
        where = extra["DESTINATION__POSTGRES__CREDENTIALS"] = f"postgresql://postgres:postgres@127.0.0.1:5432/{name}"
    spec = {
        "kind": "metricsync",
        "providers": ["whop"],
        "destination": destination,
        "backfill": [d.isoformat() for d in span],
        "pipelines_dir": os.path.join(work, "pipelines"),
    }
    env = env_for(settings, extra)
    try:
        first = run_child(spec, env, work)
        box.restate(DAYS, ago=(box.today - span[1]).days)
        box.rendered.clear()
        second = run_child(spec, env, work)
        expected, got = truth(box, span), stored(destination, where)
    finally:
        box.stop()
        shutil.rmtree(work, ignore_errors=True)
        if destination == "postgres":
            pg_admin(f"drop database if exists {name}")
    return {
        "destination": destination,
        "countries": countries,
        "rows": len(expected),
        "first": {k: first[k] for k in ("seconds", "peak_rss_mb")},
        "reload": {k: second[k] for k in ("seconds", "peak_rss_mb")},
        "exact": got == expected,
    }


COUNTRIES = {False: (600, 5435), True: (60, 600)}  # quick -> countries of the re-loaded window


def scenario(quick: bool, postgres: bool) -> list:
    """`make bench`'s reload: 600 and 5,435 countries (55,200 and 500,020 rows; quick: 60 and 600),
    into DuckDB and, when reachable, Postgres."""
    out = []
    for countries in COUNTRIES[quick]:
        for destination in ("duckdb", "postgres") if postgres else ("duckdb",):
            logger.info("reload: %d countries into %s", countries, destination)
            out.append(reload(countries, destination))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metricsync.bench.reload", description=__doc__)
    parser.add_argument("--countries", type=int, default=600)
    parser.add_argument("--destination", action="append", choices=("duckdb", "postgres"))
    parser.add_argument("--memory-limit", help="destination.duckdb.memory_limit (default: metricsync's)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    for destination in args.destination or ["duckdb"]:
        sys.stdout.write(json.dumps(reload(args.countries, destination, args.memory_limit)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
