"""`run`: load the chosen providers one after the other, with progress and a closing line (or a
JSON summary) per provider; with `--transform`, then the dbt project (in the JSON summary as one
more object, `"step": "transform"`)."""

import argparse
import sys
from typing import Any, Optional

from metricsync.commands import transform
from metricsync.commands._options import (
    PROVIDER_HELP,
    add_command,
    backfill_range,
    check_numbers,
    providers_to_run,
    selection_options,
)
from metricsync.display import make_display
from metricsync.exits import exit_code
from metricsync.interrupts import Interrupted, handled, received
from metricsync.operations import note
from metricsync.output import document
from metricsync.report import as_json, transform_json
from metricsync.sources._common.config.spec import SHARED, Range
from metricsync.sources._common.errors import ConfigError
from metricsync.sources._common.load.windows import utc_today


def run_command(args: argparse.Namespace, providers: list[str], backfill: Optional[tuple]) -> tuple[int, list]:
    """The exit code and each pipeline's result."""

    display = make_display(args.progress, args.progress_interval)
    results = []
    try:
        for provider in providers:
            if received():
                break
            provider_results = run_one(args, provider, backfill, display)
            results.extend(provider_results)
            report(args, provider, provider_results, display)
    except Interrupted:  # Ctrl-C / SIGTERM between two providers' runs
        pass
    finally:
        display.close()
    signum = received()
    if signum:  # one line for each provider the run did not finish
        for provider in providers:
            if not any(r.provider == provider for r in results):
                print(f"{provider}: interrupted before it finished - re-run to resume", file=sys.stderr, flush=True)
        return 128 + signum, results
    return exit_code([r.exit_code for r in results]), results


def run_one(args: argparse.Namespace, provider: str, backfill: Optional[tuple], display: Any) -> list:
    """One provider's results: its accounts in turn or in parallel (`fanout`), or its one pipeline,
    its progress shown as it goes."""
    from metricsync.catalog import select  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt and dbt load when the command runs
    from metricsync.fanout import run_accounts  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt and dbt load when the command runs
    from metricsync.runner import ProviderResult, run_provider  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt and dbt load when the command runs

    try:
        selection = select(provider, args.resources, args.queries)
    except ConfigError as exc:
        return [ProviderResult(provider, exit_code=exc.exit_code, message=str(exc))]
    where = (args.destination, backfill, args.pipelines_dir, args.windows_per_load)
    results = run_accounts(provider, *where, args.accounts, args.parallel, args.log_level, selection)
    if results is None:  # one pipeline
        display.start(provider)
        results = [run_provider(provider, *where, selection=selection, on_change=display.update)]
        display.finish(results[0])
    return results


def report(args: argparse.Namespace, provider: str, results: list, display: Any) -> None:
    """Each result noted for the run history, its closing line printed (failures on stderr, and
    with `--json` only those), then one summary line for the accounts of a provider."""
    from metricsync.fanout import summary  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt and dbt load when the command runs

    for result in results:
        note("run", result)
    for result in results:
        if not result.ok or not args.json:
            print(display.closing(result.message), file=sys.stdout if result.ok else sys.stderr, flush=True)
    if results[0].account and not args.json:
        ok = all(r.ok for r in results)
        print(summary(provider, results), file=sys.stdout if ok else sys.stderr, flush=True)


def register(commands) -> None:
    run = add_command(
        commands,
        "run",
        "metricsync run all --progress log",
        "metricsync run stripe_analytics --from 2024-01-01 --to 2024-12-31 --json",
        "metricsync run whop --queries daily_all --destination postgres",
    )
    run.add_argument("providers", nargs="+", metavar="provider", help=PROVIDER_HELP)
    run.add_argument("--accounts", nargs="+", metavar="NAME", help="only these of sources.<provider>.accounts")
    run.add_argument("--parallel", default=1, help="groups of accounts run at once, in processes (1-64)")
    run.add_argument("--from", dest="date_from", help="backfill start date (YYYY-MM-DD)")
    run.add_argument("--to", dest="date_to", help="backfill end date (YYYY-MM-DD, default today)")
    run.add_argument("--windows-per-load", help="windows per query per load (commit granularity, 1-100000)")
    selection_options(run)
    run.add_argument(
        "--progress",
        default="auto",
        choices=("auto", "bar", "log", "none"),
        help="auto (default): a bar on a terminal, a log line every --progress-interval s otherwise",
    )
    run.add_argument("--progress-interval", type=float, default=10.0, help="seconds between progress log lines")
    run.add_argument("--json", action="store_true", help="print a JSON summary (one object per provider) on stdout")
    run.add_argument(
        "--transform", action="store_true", help="then run the dbt project (as `transform`) if every load succeeded"
    )


def main(args: argparse.Namespace) -> int:
    check_numbers(
        args,
        [
            ("--windows-per-load", "windows_per_load", SHARED["windows_per_load"].bounds),
            ("--parallel", "parallel", Range(int, 1, 64)),
            ("--progress-interval", "progress_interval", Range(float, 0.1, 3600)),
        ],
    )

    backfill = backfill_range(args.date_from, args.date_to, utc_today())  # UTC, as planned
    with handled():
        code, results = run_command(args, providers_to_run(args.providers), backfill)
    transformed = None
    if code == 0 and args.transform:
        transformed = transform.transform_and_report(args)
        code = transformed.exit_code
    if args.json:
        document([as_json(r) for r in results] + ([transform_json(transformed)] if args.transform else []))
    return code
