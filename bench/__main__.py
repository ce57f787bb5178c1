"""`python -m metricsync.bench` (`make bench`): metricsync's backfills against a bare-httpx floor and dlt's
`rest_api`, on the sandbox with per-request latency and a concurrency cap; writes
bench/results/latest.{md,json} and bench/RESULTS.md."""

import argparse
import json
import logging
import os
import platform
import sys

from . import accounts, htmlreport, questions, reload, transform_nightly
from .report import markdown
from .runs import Bench


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m metricsync.bench", description=__doc__)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request (default 0.05)")
    parser.add_argument("--concurrency", type=int, default=8, help="the API's concurrency cap (default 8)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--no-postgres", action="store_true", help="skip the Postgres runs")
    parser.add_argument("--only", action="append", help="scenario name(s) to run (default all)")
    return parser.parse_args(argv)


NOTES = "<!-- notes: what follows is written by hand and kept when `python -m metricsync.bench` rewrites the tables above -->"


def write_results(path: str, text: str) -> None:
    """The run's tables, then the hand-written notes already in `path` (from the `NOTES` line on)."""
    notes = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
        if NOTES in old:
            notes = "\n" + old[old.index(NOTES) :]
    with open(path, "w") as f:
        f.write(text + notes)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    here = os.path.dirname(os.path.abspath(__file__))
    bench = Bench(
        latency=args.latency,
        concurrency=args.concurrency,
        quick=args.quick,
        postgres=not args.no_postgres,
        only=args.only,
    )
    results = bench.run_all()
    if bench.wanted("accounts"):
        results["accounts"] = accounts.scenario(args.quick, args.concurrency)
    if bench.wanted("reload"):
        results["reload"] = reload.scenario(args.quick, bench.postgres)
    if bench.wanted("report"):
        results["report"] = htmlreport.scenario()
    if bench.wanted("transform_nightly"):
        results["transform_nightly"] = transform_nightly.scenario(args.quick, bench.postgres)
    if bench.wanted("questions"):
        results["questions"] = questions.scenario(args.quick)
    results["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}
    text = markdown(results)
    os.makedirs(os.path.join(here, "results"), exist_ok=True)
    with open(os.path.join(here, "results", "latest.json"), "w") as f:
        json.dump(results, f, indent=2, default=str)
    with open(os.path.join(here, "results", "latest.md"), "w") as f:
        f.write(text)
    write_results(os.path.join(here, "RESULTS.md"), text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
