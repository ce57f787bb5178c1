"""`run`: load the chosen providers one after the other, with progress and a closing line (or a
JSON summary) per provider; with `--transform`, then the dbt project (in the JSON summary as one
more object, `"step": "transform"`)."""

import argparse
import sys
from typing import Optional

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
    from metricsync.catalog import select  # noqa: PLC0415 - start-up time (imports dlt)
    from metricsync.fanout import run_accounts, summary  # noqa: PLC0415 - start-up time (imports dlt)
    from metricsync.runner import ProviderResult, run_provider  # noqa: PLC0415 - start-up time (imports dlt)

    display = make_display(args.progress, args.progress_interval)
    results = []
    try:
        for provider in providers:
            if received():
                break
            provider_results: Optional[list[ProviderResult]]
            try:
                selection = select(provider, args.resources, args.queries)
            except ConfigError as exc:
                provider_results = [ProviderResult(provider, exit_code=exc.exit_code, message=str(exc))]
            else:
                provider_results = run_accounts(
                    provider,
                    args.destination,
                    backfill,
                    args.pipelines_dir,
                    args.windows_per_load,
                    args.accounts,
                    args.parallel,
                    args.log_level,
                    selection,
                )
                if provider_results is None:  # one pipeline: progress shown as it goes
                    display.start(provider)
                    provider_results = [
                        run_provider(
                            provider,
                            args.destination,
                            backfill,
                            args.pipelines_dir,
                            args.windows_per_load,
                            selection=selection,
                            on_change=display.update,
                        )
                    ]
                    display.finish(provider_results[0])
            results.extend(provider_results)
            for result in provider_results:
                note("run", result)
            for result in provider_results:
                if not result.ok or not args.json:
                    print(display.closing(result.message), file=sys.stdout if result.ok else sys.stderr, flush=True)
            if provider_results[0].account and not args.json:
                ok = all(r.ok for r in provider_results)
                print(summary(provider, provider_results), file=sys.stdout if ok else sys.stderr, flush=True)
    except Interrupted:  # Ctrl-C / SIGTERM between two providers' runs
        pass
    finally:
        display.close()
    if received():  # one line for each provider the run did not finish
        for provider in providers:
            if not any(r.provider == provider for r in results):
                print(f"{provider}: interrupted before it finished - re-run to resume", file=sys.stderr, flush=True)
    signum = received()
    if signum:
        return 128 + signum, results
    return exit_code([r.exit_code for r in results]), results


def register(commands) -> None:
    run = add_command(
        commands,
        "run",
        "load providers (nightly incremental, or a --from/--to backfill)",
        "metricsync run all --progress log",
        "metricsync run stripe_analytics --from 2024-01-01 --to 2024-12-31 --json",
        "metricsync run whop --queries daily_all --destination postgres",
    )
    run.add_argument("providers", nargs="+", metavar="provider", help=PROVIDER_HELP)
    run.add_argument("--accounts", nargs="+", metavar="NAME", help="only these of sources.<provider>.accounts")
    run.add_argument("--parallel", default=1, help="accounts run at once, in separate processes (1-64)")
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
