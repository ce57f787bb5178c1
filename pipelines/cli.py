"""Command line: `run`, `sandbox` and `demo`. Exit codes are listed in the README."""

import argparse
import datetime as dt
import logging
import sys
from typing import Optional, Sequence

from .providers import PROVIDERS

USAGE_ERROR = 2
MIXED_FAILURES = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipelines", description="metricsync: SaaS metrics into your warehouse")
    parser.add_argument("--log-level", default="WARNING", help="DEBUG, INFO, WARNING (default) or ERROR")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="load providers (nightly incremental, or a --from/--to backfill)")
    run.add_argument("providers", nargs="+", metavar="provider", help=f"{', '.join(PROVIDERS)} or all")
    run.add_argument("--destination", help="a dlt destination (duckdb, postgres, motherduck, bigquery, snowflake, "
                     "sqlalchemy, ...) or a named one from .dlt config (default: destination_name / duckdb)")
    run.add_argument("--accounts", nargs="+", metavar="NAME", help="only these of sources.<provider>.accounts")
    run.add_argument("--parallel", type=int, default=1, help="accounts run at once, in separate processes")
    run.add_argument("--from", dest="date_from", help="backfill start date (YYYY-MM-DD)")
    run.add_argument("--to", dest="date_to", help="backfill end date (YYYY-MM-DD, default today)")
    run.add_argument("--pipelines-dir", help="where dlt keeps local pipeline folders (default ~/.dlt/pipelines)")
    run.add_argument("--windows-per-load", type=int, help="windows per query per load (commit granularity)")

    sandbox = commands.add_parser("sandbox", help="serve the provider emulator on loopback")
    sandbox.add_argument("--port", type=int, default=8765)
    sandbox.add_argument("--latency", type=float, default=0.0, help="seconds added to every response")
    sandbox.add_argument("--max-in-flight", type=int, help="answer 429 above this many concurrent requests")

    demo = commands.add_parser("demo", help="start the sandbox and load every provider into a DuckDB file")
    demo.add_argument("--duckdb", default="demo.duckdb")
    return parser


class UsageError(Exception):
    pass


def _date(text: Optional[str], flag: str) -> Optional[dt.date]:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"metricsync: {flag} {text!r} is not an ISO date - use YYYY-MM-DD") from None


def backfill_range(date_from: Optional[str], date_to: Optional[str], today: dt.date) -> Optional[tuple]:
    first, last = _date(date_from, "--from"), _date(date_to, "--to")
    if first is None and last is None:
        return None
    if first is None:
        raise UsageError("metricsync: --to needs --from - give the first day of the backfill")
    if first > today:
        raise UsageError(f"metricsync: --from {first} is in the future - use a date on or before {today}")
    last = min(last or today, today)
    if last < first:
        raise UsageError(f"metricsync: --to {last} is before --from {first} - swap them")
    return first, last


def providers_to_run(names: Sequence[str]) -> list[str]:
    from .providers import is_configured

    unknown = [n for n in names if n != "all" and n not in PROVIDERS]
    if unknown:
        raise UsageError(f"metricsync: unknown provider {unknown[0]!r} - use one of {', '.join(PROVIDERS)} or all")
    if "all" not in names:
        return list(dict.fromkeys(names))
    chosen = [p for p in PROVIDERS if is_configured(p)]
    if not chosen:
        raise UsageError("metricsync: no provider is configured - set SOURCES__<PROVIDER>__API_KEY (see README)")
    return chosen


def _configure_logging(level: str) -> None:
    from sources._common.redaction import RedactingFilter, install_log_redaction

    logging.basicConfig(level=getattr(logging, level.upper(), logging.WARNING), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction()
    for name in ("dlt", "metricsync"):
        logging.getLogger(name).addFilter(RedactingFilter())


def _run(args: argparse.Namespace) -> int:
    from .destinations import destination_name
    from .fanout import run_accounts, summary
    from .runner import run_provider

    backfill = backfill_range(args.date_from, args.date_to, dt.date.today())
    providers = providers_to_run(args.providers)
    if args.parallel < 1:
        raise UsageError(f"metricsync: --parallel {args.parallel} - use 1 or more")
    destination = destination_name(args.destination)
    codes = []
    for provider in providers:
        results = run_accounts(provider, destination, backfill, args.pipelines_dir, args.windows_per_load,
                               args.accounts, args.parallel, args.log_level)
        if results is None:
            results = [run_provider(provider, destination, backfill, args.pipelines_dir, args.windows_per_load)]
        for result in results:
            print(result.message, file=sys.stdout if result.ok else sys.stderr, flush=True)
            codes.append(result.exit_code)
        if results[0].account:
            print(summary(provider, results), file=sys.stdout if all(r.ok for r in results) else sys.stderr,
                  flush=True)
    failed = {c for c in codes if c}
    if not failed:
        return 0
    return failed.pop() if len(failed) == 1 else MIXED_FAILURES


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging(args.log_level)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "sandbox":
            from sandbox import Sandbox

            box = Sandbox(latency=args.latency, max_in_flight=args.max_in_flight)
            print(f"sandbox listening on http://127.0.0.1:{args.port}", flush=True)
            box.serve_forever(args.port)
            return 0
        from .demo import run_demo

        return run_demo(args.duckdb)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return USAGE_ERROR
