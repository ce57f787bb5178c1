"""The nightly transform at two sizes (`python -m metricsync.bench.transform_nightly`, and `make bench`'s
`transform_nightly` scenario, Postgres): a daily Whop metric broken down by N countries over 92 days
is loaded and transformed (the first, full build), its last 3 days are restated upstream and loaded
again (a nightly load), and `metricsync transform` runs again: that second transform is the nightly
cost. The incremental `fct_metric_values` should make it nearly flat in the mart's size: the target
is the nightly transform at 1M fact rows within 1.3x its time at 10k. Each transform is its own
process (`python -m metricsync transform`), timed from start to exit. Prints one JSON line per size;
with `--nodes N`, each transform's N slowest dbt nodes too (seconds, from its `run_results.json`).

    python -m metricsync.bench.transform_nightly --rows 10000 --rows 1000000 --nodes 12
"""

import argparse
import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal

import psycopg2

from .reload import DAYS, QUERY, sandbox_for, truth
from .runs import env_for, pg_admin, run_child

logger = logging.getLogger("bench")
NIGHTLY_DAYS = 3  # the days a nightly load restates
TARGET_RATIO = 1.3  # nightly transform at the largest size / at the smallest
SIZES = {False: (10_000, 1_000_000), True: (2_000, 20_000)}  # quick -> fact rows


def slowest(work: str, count: int) -> list:
    """[[node, seconds], ...]: the `count` slowest nodes of the last dbt build in `work`."""
    with open(os.path.join(work, "dbt_target", "run_results.json")) as results:
        timed = [(r["unique_id"], r["execution_time"]) for r in json.load(results)["results"]]
    return [[node, round(seconds, 2)] for node, seconds in sorted(timed, key=lambda t: -t[1])[:count]]


def transform(env: dict, work: str) -> float:
    """Seconds of one `metricsync transform --destination postgres` (its own process)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "metricsync", "transform", "--destination", "postgres"],
        env={**env, "DBT_TARGET_PATH": os.path.join(work, "dbt_target"), "DBT_LOG_PATH": os.path.join(work, "logs")},
        cwd=work,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"transform failed: {(done.stderr or done.stdout).strip()[-500:]}")
    return time.perf_counter() - started


def marted(url: str, since: dt.date) -> dict:
    """{(period, country): value} of the mart's Whop rows from `since` on."""

    with psycopg2.connect(url) as con, con.cursor() as cur:
        cur.execute(
            "select period_start, dimension_value, value from metrics.fct_metric_values "
            f"where provider = 'whop' and series = 'by_country' and period_start >= '{since}'"
        )
        return {(day, country): Decimal(value).normalize() for day, country, value in cur.fetchall()}


def nightly(rows: int, nodes: int = 0) -> dict:
    """Load, transform, restate and load the last days, transform again: both transforms' seconds,
    the fact rows, and whether the restated days in the mart equal the sandbox's new values."""
    countries = max(1, rows // DAYS)
    box = sandbox_for(countries)
    work = tempfile.mkdtemp(prefix="metricsync-transform-")
    last = box.today - dt.timedelta(days=10)
    span, recent = (last - dt.timedelta(days=DAYS - 1), last), (last - dt.timedelta(days=NIGHTLY_DAYS - 1), last)
    name = f"metricsync_transform_{os.getpid()}"
    pg_admin(f"drop database if exists {name}")
    pg_admin(f"create database {name}")
    url = f"postgresql://postgres:postgres@127.0.0.1:5432/{name}"
    settings = {"whop": {"api_key": box.by_name["whop"].api_key, "base_url": f"{box.url}/api/v1"}}
    settings["whop"].update(metric_queries=[QUERY], wallet_queries=[])
    env = env_for(settings, {"DESTINATION__POSTGRES__CREDENTIALS": url})
    spec = {"kind": "metricsync", "providers": ["whop"], "destination": "postgres"}
    spec.update(pipelines_dir=os.path.join(work, "pipelines"))
    try:
        run_child({**spec, "backfill": [d.isoformat() for d in span]}, env, work)
        full = transform(env, work)
        first_nodes = slowest(work, nodes)
        box.restate(NIGHTLY_DAYS, ago=(box.today - last).days)
        box.rendered.clear()
        run_child({**spec, "backfill": [d.isoformat() for d in recent]}, env, work)
        again = transform(env, work)
        nightly_nodes = slowest(work, nodes)
        expected = {key: value.normalize() for key, value in truth(box, recent).items()}
        exact = marted(url, recent[0]) == expected
    finally:
        box.stop()
        shutil.rmtree(work, ignore_errors=True)
        pg_admin(f"drop database if exists {name}")
    out = {"rows": countries * DAYS, "full_s": full, "nightly_s": again, "exact": exact}
    return {**out, "full_nodes": first_nodes, "nightly_nodes": nightly_nodes} if nodes else out


def scenario(quick: bool, postgres: bool) -> list:
    """`make bench`'s transform_nightly: 10k and 1M fact rows (quick: 2k and 20k), Postgres only."""
    if not postgres:
        return []
    out = []
    for rows in SIZES[quick]:
        logger.info("transform_nightly: %d fact rows into postgres", rows)
        out.append(nightly(rows))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metricsync.bench.transform_nightly", description=__doc__)
    parser.add_argument("--rows", type=int, action="append", help="fact rows (repeat for several sizes)")
    parser.add_argument("--nodes", type=int, default=0, help="also print each transform's N slowest dbt nodes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    for rows in args.rows or [10_000]:
        sys.stdout.write(json.dumps(nightly(rows, args.nodes)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
