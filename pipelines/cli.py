"""Command line (`python -m pipelines`, or `metricsync`): run, check, status, reset, describe,
transform, sandbox, demo. Each command lives in its own module; this one only parses. Exit codes are listed
in the README."""

import argparse
import datetime as dt
import logging
import sys
import threading
from typing import Optional, Sequence

from .providers import PROVIDERS

USAGE_ERROR = 2
MIXED_FAILURES = 1
PROG = "metricsync"
PROVIDER_HELP = f"{', '.join(PROVIDERS)} or all"


class UsageError(Exception):
    pass


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Options accepted before or after the subcommand (after wins)."""
    default = (lambda value: argparse.SUPPRESS) if suppress else (lambda value: value)
    parser.add_argument("--log-level", default=default("WARNING"), help="DEBUG, INFO, WARNING (default) or ERROR")
    parser.add_argument("--destination", default=default(None),
                        help="a dlt destination (duckdb, postgres, motherduck, bigquery, snowflake, sqlalchemy, ...) or a "
                             "named one from .dlt config (default: destination_name / destination_type, else duckdb)")
    parser.add_argument("--pipelines-dir", default=default(None),
                        help="where dlt keeps local pipeline folders (default ~/.dlt/pipelines)")


def _command(commands, name: str, help_text: str, *examples: str) -> argparse.ArgumentParser:
    sub = commands.add_parser(name, help=help_text, description=help_text,
                              epilog="examples:\n" + "\n".join(f"  {e}" for e in examples),
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    _global_options(sub, suppress=True)
    return sub


def _selection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resources", nargs="+", metavar="R", help="only these resources (tables)")
    parser.add_argument("--queries", nargs="+", metavar="Q", help="only these configured queries")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="metricsync: SaaS metrics (Whop, Stripe Analytics, PostHog, Statsig) into your warehouse",
        epilog="examples:\n  metricsync check all\n  metricsync run all --progress log\n"
               "  metricsync status --json\n  metricsync run whop --from 2024-01-01 --to 2024-12-31",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    run = _command(commands, "run", "load providers (nightly incremental, or a --from/--to backfill)",
                   "metricsync run all --progress log",
                   "metricsync run stripe_analytics --from 2024-01-01 --to 2024-12-31 --json",
                   "metricsync run whop --queries daily_all --destination postgres")
    run.add_argument("providers", nargs="+", metavar="provider", help=PROVIDER_HELP)
    run.add_argument("--accounts", nargs="+", metavar="NAME", help="only these of sources.<provider>.accounts")
    run.add_argument("--parallel", default=1, help="accounts run at once, in separate processes (1-64)")
    run.add_argument("--from", dest="date_from", help="backfill start date (YYYY-MM-DD)")
    run.add_argument("--to", dest="date_to", help="backfill end date (YYYY-MM-DD, default today)")
    run.add_argument("--windows-per-load", help="windows per query per load (commit granularity, 1-100000)")
    _selection_options(run)
    run.add_argument("--progress", default="auto", choices=("auto", "bar", "log", "none"),
                     help="auto (default): a bar on a terminal, a log line every --progress-interval s otherwise")
    run.add_argument("--progress-interval", type=float, default=10.0, help="seconds between progress log lines")
    run.add_argument("--json", action="store_true", help="print a JSON summary (one object per provider) on stdout")
    run.add_argument("--transform", action="store_true",
                     help="then run the dbt project (as `transform`) if every load succeeded")

    _command(commands, "transform", "dbt build + source freshness of transform/ on the warehouse the runner loads",
             "metricsync transform", "metricsync transform --destination postgres")

    check = _command(commands, "check", "validate config, prove each API key with at most two cheap requests, "
                     "connect to the destination; loads nothing",
                     "metricsync check all", "metricsync check whop --destination postgres")
    check.add_argument("providers", nargs="*", default=["all"], metavar="provider", help=PROVIDER_HELP + " (default all)")

    status = _command(commands, "status", "what the destination holds: last load, loaded_through and unfinished "
                      "backfills per query, row counts", "metricsync status", "metricsync status whop --json")
    status.add_argument("providers", nargs="*", default=list(PROVIDERS), metavar="provider",
                        help=f"{', '.join(PROVIDERS)} (default: every provider)")
    status.add_argument("--json", action="store_true", help="one JSON object per (provider, resource, query)")

    reset = _command(commands, "reset", "forget loaded state so the next run reloads from start_date "
                     "(re-sync); --drop-rows also deletes the rows", "metricsync reset whop --queries daily_all --yes",
                     "metricsync reset statsig --resources metric_values --drop-rows")
    reset.add_argument("provider", metavar="provider", help=", ".join(PROVIDERS))
    _selection_options(reset)
    reset.add_argument("--drop-rows", action="store_true", help="also delete the rows of those resources/queries")
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    describe = _command(commands, "describe", "resources, tables, keys, columns, settings and queries of each provider",
                        "metricsync describe stripe_analytics")
    describe.add_argument("providers", nargs="*", default=list(PROVIDERS), metavar="provider",
                          help=f"{', '.join(PROVIDERS)} (default: every provider)")

    sandbox = _command(commands, "sandbox", "serve the provider emulator on loopback and print the settings "
                       "that point metricsync at it", "metricsync sandbox --port 8765")
    sandbox.add_argument("--port", default=8765)
    sandbox.add_argument("--latency", default=0.0, help="seconds added to every response")
    sandbox.add_argument("--max-in-flight", help="answer 429 above this many concurrent requests")

    demo = _command(commands, "demo", "start the sandbox and load every provider into a DuckDB file",
                    "metricsync demo --duckdb demo.duckdb")
    demo.add_argument("--duckdb", default="demo.duckdb")
    return parser


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
    from sources._common.errors import ConfigError

    from .catalog import provider_names

    try:
        return provider_names(names)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def check_flags(args: argparse.Namespace) -> None:
    """Numeric flags, range-checked like the settings they stand for, converted in place."""
    from sources._common.errors import ConfigError
    from sources._common.spec import SHARED, Range, number

    flags = {
        "run": [("--windows-per-load", "windows_per_load", SHARED["windows_per_load"]),
                ("--parallel", "parallel", Range(int, 1, 64)),
                ("--progress-interval", "progress_interval", Range(float, 0.1, 3600))],
        "sandbox": [("--port", "port", Range(int, 1, 65535)), ("--latency", "latency", Range(float, 0, 60)),
                    ("--max-in-flight", "max_in_flight", Range(int, 1, 10_000, optional=True))],
    }
    for flag, attr, bounds in flags.get(args.command, []):
        if getattr(args, attr) is not None:
            try:
                setattr(args, attr, number("metricsync", flag, getattr(args, attr), setting=flag, bounds=bounds))
            except ConfigError as exc:
                raise UsageError(str(exc)) from None


def _configure_logging(level: str) -> None:
    from sources._common.redaction import RedactingFilter, install_log_redaction

    from .dltlog import LOG_FORMAT, install_dlt_log_format

    logging.basicConfig(level=getattr(logging, level.upper(), logging.WARNING), stream=sys.stderr, format=LOG_FORMAT)
    install_log_redaction()
    for name in ("dlt", "metricsync"):
        logging.getLogger(name).addFilter(RedactingFilter())
    install_dlt_log_format(level)


def exit_code(codes: Sequence[int]) -> int:
    """0 when all succeeded, the one failure's code, or 1 for mixed failures."""
    failed = {c for c in codes if c}
    if not failed:
        return 0
    return failed.pop() if len(failed) == 1 else MIXED_FAILURES


def _run(args: argparse.Namespace) -> int:
    from .run import run_command

    backfill = backfill_range(args.date_from, args.date_to, dt.date.today())
    code = run_command(args, providers_to_run(args.providers), backfill)
    return _transform(args) if code == 0 and args.transform else code


def _sandbox(args: argparse.Namespace) -> int:
    from sandbox import Sandbox

    from .sandbox_info import sandbox_banner

    box = Sandbox(latency=args.latency, max_in_flight=args.max_in_flight).start(args.port)
    print(sandbox_banner(box), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        box.stop()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.duckdb)


def _check(args: argparse.Namespace) -> int:
    from .check import check_command

    return check_command(providers_to_run(args.providers), args.destination)


def _status(args: argparse.Namespace) -> int:
    from .status import status_command

    return status_command(providers_to_run(args.providers), args.destination, args.json)


def _reset(args: argparse.Namespace) -> int:
    from .reset import reset_command

    provider = providers_to_run([args.provider])[0]
    return reset_command(provider, args)


def _describe(args: argparse.Namespace) -> int:
    from .describe import describe_command

    return describe_command(providers_to_run(args.providers), args.destination)


def _transform(args: argparse.Namespace) -> int:
    from .transform import run_transform

    result = run_transform(args.destination, verbose=args.log_level.upper() in ("INFO", "DEBUG"))
    for line in result.warnings:
        print(line, file=sys.stderr, flush=True)
    print(result.message, file=sys.stdout if result.ok else sys.stderr, flush=True)
    return result.exit_code


# command -> handler; other commands (e.g. `transform`) add themselves in `_parser` and here
HANDLERS = {"run": _run, "transform": _transform, "check": _check, "status": _status, "reset": _reset, "describe": _describe,
            "sandbox": _sandbox, "demo": _demo}


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging(args.log_level)
    try:
        check_flags(args)
        if hasattr(args, "destination"):
            from .destinations import destination_name

            args.destination = destination_name(args.destination)
        return HANDLERS[args.command](args)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return USAGE_ERROR


def main_exit() -> None:
    """The `metricsync` console script."""
    sys.exit(main())
