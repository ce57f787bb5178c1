"""`verify`: re-ask the API for what the loads covered and compare row for row (definition
tables: the current rows with the API's lists); with `--repair`, reload what drifted through the
normal load path and check it again; with `--fill-gaps`, load the ranges never loaded.

    $ metricsync verify whop --sample 20 --seed 1
    whop: 40 windows checked, 1512 rows compared, 6 periods drifted, 3 definition tables checked (41 rows, 0 differ), 55 requests
    whop daily_all: 6 periods drifted (2026-10-21..2026-10-26), 24 rows changed, max |Δ| 4127.33 usd

Exit 0 when nothing drifted (or everything drifted was repaired; ranges never loaded are not
drift), 9 when drift was found (and, with `--repair`, is still there), the failure's code otherwise.
"""

import argparse
import sys
from typing import Optional

from metricsync.commands._options import (
    PROVIDER_HELP,
    add_command,
    backfill_range,
    check_numbers,
    providers_to_run,
    selection_options,
)
from metricsync.exits import DRIFT_FOUND, exit_code
from metricsync.operations import tell
from metricsync.output import document
from metricsync.sources._common.config.spec import Range
from metricsync.sources._common.errors import ConfigError
from metricsync.sources._common.load.windows import utc_today
from metricsync.verification.choose import DEFAULT_SAMPLE, Scope
from metricsync.verification.compare import plural

ANNOUNCE_OVER = 500  # windows: print the count before starting when there are more
GAPS_SHOWN = 3  # ranges never loaded named per query


def _jobs(provider: str, args: argparse.Namespace, scope) -> list:
    from metricsync.accounts import configured_accounts, select_accounts  # noqa: PLC0415 - start-up time (imports dlt)
    from metricsync.catalog import select  # noqa: PLC0415 - start-up time (imports dlt)
    from metricsync.verification.job import Verification  # noqa: PLC0415 - start-up time (imports dlt)

    selection = select(provider, args.resources, args.queries)
    accounts = select_accounts(provider, configured_accounts(provider), args.accounts) or [None]  # type: ignore[list-item]  # None: the provider without accounts
    return [
        Verification(provider, args.destination, account, selection, scope, args.pipelines_dir) for account in accounts
    ]


def _verify_one(job, args: argparse.Namespace, out) -> int:
    """Check (and repair, fill) one pipeline; prints its lines (the report on stdout unless --json,
    a failure on stderr); returns its exit code."""
    from metricsync.runner import describe_failure  # noqa: PLC0415 - start-up time (imports dlt)

    report: list[str] = []
    try:
        planned = job.prepare()
        if job.candidates > ANNOUNCE_OVER:
            capped = (
                f"; --max-requests: {planned} of them" if planned < job.candidates else " - cap with --max-requests"
            )
            print(
                f"{job.label}: {job.candidates} windows to verify, a request or more each{capped}", file=out, flush=True
            )
        if job.stored:
            job.check()
        report = [_summary(job)] + [d.line() for d in job.found if not d.clean] + _gap_lines(job, args)
        failure = _repair(job, report) if args.repair and not job.clean else None
        if args.fill_gaps and job.gaps and not failure:
            failure = _fill(job, report)
    except Exception as exc:  # noqa: BLE001 - one line per pipeline, as in `run`
        failure = describe_failure(job.provider, exc, args.destination)
    if report and not args.json:
        print("\n".join(report), flush=True)
    code, line = failure or (0 if job.clean else DRIFT_FOUND, " / ".join(report[:2]))
    tell("verify", job.provider, job.account_name, code, line, requests=job.requests)
    if failure:
        print(failure[1], file=sys.stderr, flush=True)
    return code


def _repair(job, report: list[str]) -> Optional[tuple]:
    """Reload the drifted windows and re-verify them; (exit code, line) of a failed load."""
    failed = [r for r in job.repair() if not r.ok]
    if failed:
        return failed[0].exit_code, failed[0].message
    queries = len([d for d in job.found if not d.clean and d.query is not None])
    tables = len([d for d in job.found if not d.clean and d.query is None])
    what = " and ".join(
        [f"{queries} {'query' if queries == 1 else 'queries'}"] * bool(queries)
        + [plural(tables, "definition table")] * bool(tables)
    )
    verdict = "clean" if job.clean else "still drifted:"
    report.append(f"{job.label}: repaired {what} in {plural(job.repair_loads, 'load')}; re-verify {verdict}")
    report.extend(d.line() for d in job.drifts if not d.clean)
    return None


def _fill(job, report: list[str]) -> Optional[tuple]:
    """Load the ranges never loaded; (exit code, line) of a failed load."""
    failed = [r for r in job.fill_gaps() if not r.ok]
    if failed:
        return failed[0].exit_code, failed[0].message
    count = sum(len(found) for found in job.gaps.values())
    report.append(f"{job.label}: loaded {plural(count, 'range')} never loaded in {plural(job.fill_loads, 'load')}")
    return None


def _gap_lines(job, args: argparse.Namespace) -> list[str]:
    """One line per query with ranges never loaded (not drift), then how to load them."""
    lines = []
    for (_resource, query), found in sorted(job.gaps.items()):
        shown = ", ".join(f"{first}..{last}" for first, last in found[:GAPS_SHOWN])
        more = f" and {len(found) - GAPS_SHOWN} more" if len(found) > GAPS_SHOWN else ""
        days = sum((last - first).days + 1 for first, last in found)
        lines.append(f"{job.label} {query}: not loaded {shown}{more} ({plural(days, 'day')}; not verified, not drift)")
    if lines and not args.fill_gaps:
        lines.append(f"{job.label}: to load what was never loaded, run: {_fill_command(job, args)}")
    return lines


def _fill_command(job, args: argparse.Namespace) -> str:
    """`metricsync verify whop --fill-gaps`, with the options that chose this pipeline and its ranges."""
    from metricsync.warehouse.destinations import destination_name  # noqa: PLC0415 - start-up time (imports dlt)

    parts = ["metricsync verify", job.provider]
    if job.account:
        parts.append(f"--accounts {job.account.name}")
    for flag, values in (("--resources", args.resources), ("--queries", args.queries)):
        if values:
            parts.append(f"{flag} {' '.join(values)}")
    if job.scope.ranged:
        parts.append(f"--from {job.scope.date_from} --to {job.scope.date_to}")
    if args.destination != destination_name(None):
        parts.append(f"--destination {args.destination}")
    return " ".join([*parts, "--fill-gaps"])


def _summary(job) -> str:
    if not job.stored:
        return f"{job.label}: nothing stored yet"
    if not (job.windows or job.tables or job.gaps):
        return f"{job.label}: nothing stored to verify"
    windowed = [d for d in job.found if d.query is not None]
    tables = [d for d in job.found if d.query is None]
    parts = []
    if job.windows or not tables:
        parts += [
            plural(job.planned, "window") + " checked",
            plural(sum(d.rows_compared for d in windowed), "row") + " compared",
            plural(sum(d.drifted for d in windowed), "period") + " drifted",
        ]
    if tables:
        parts.append(
            f"{plural(len(tables), 'definition table')} checked ({plural(sum(d.rows_compared for d in tables), 'row')}, "
            f"{sum(d.drifted for d in tables)} differ)"
        )
    return f"{job.label}: {', '.join(parts)}, {plural(job.requests, 'request')}"


def verify_command(args: argparse.Namespace, providers: list[str], scope) -> int:
    codes: list[int] = []
    reports: list = []
    out = sys.stderr if args.json else sys.stdout
    for provider in providers:
        try:
            jobs = _jobs(provider, args, scope)
        except ConfigError as exc:
            print(str(exc), file=sys.stderr, flush=True)
            codes.append(exc.exit_code)
            tell("verify", provider, None, exc.exit_code, str(exc))
            continue
        for job in jobs:
            codes.append(_verify_one(job, args, out))
            reports.extend(_as_json(job, d, args) for d in job.found)
    if args.json:
        document(reports)
    return exit_code(codes)


def _as_json(job, drift, args: argparse.Namespace) -> dict:
    gaps = job.gaps.get((drift.resource, drift.query), [])
    return {
        **drift.as_json(),
        "repaired": bool(args.repair and not drift.clean and job.clean),
        "not_loaded": [[str(first), str(last)] for first, last in gaps],
        "filled": bool(args.fill_gaps and gaps),
    }


def register(commands) -> None:
    verify = add_command(
        commands,
        "verify",
        "metricsync verify all",
        "metricsync verify whop --queries daily_all --from 2026-01-01 --to 2026-03-31",
        "metricsync verify stripe_analytics --sample 50 --seed 7 --repair --json",
    )
    verify.add_argument("providers", nargs="+", metavar="provider", help=PROVIDER_HELP)
    verify.add_argument("--accounts", nargs="+", metavar="NAME", help="only these of sources.<provider>.accounts")
    selection_options(verify)
    which = verify.add_mutually_exclusive_group()
    which.add_argument("--sample", help="N windows per query, weighted toward older data (default 20)")
    which.add_argument("--all", action="store_true", help="every stored window")
    which.add_argument("--from", dest="date_from", help="every window from this date (YYYY-MM-DD), whole periods")
    verify.add_argument("--to", dest="date_to", help="with --from: the last date (default today)")
    verify.add_argument("--seed", help="makes the --sample pick repeatable")
    verify.add_argument("--max-requests", help="fetch at most this many windows in all (1-1000000)")
    verify.add_argument(
        "--repair",
        action="store_true",
        help="reload drifted windows through the normal load path, then verify them again",
    )
    verify.add_argument(
        "--fill-gaps",
        action="store_true",
        help="load the ranges never loaded (between loaded ones; reported, never loaded otherwise)",
    )
    verify.add_argument(
        "--json", action="store_true", help="one JSON object per (provider, account, query or definition table)"
    )


def main(args: argparse.Namespace) -> int:
    check_numbers(
        args,
        [
            ("--sample", "sample", Range(int, 1, 100000)),
            ("--seed", "seed", Range(int, 0, 2**63 - 1)),
            ("--max-requests", "max_requests", Range(int, 1, 1000000)),
        ],
    )
    window: Optional[tuple] = backfill_range(args.date_from, args.date_to, utc_today())
    sample = None if args.all or window else (args.sample or DEFAULT_SAMPLE)
    scope = Scope(
        date_from=window[0] if window else None,
        date_to=window[1] if window else None,
        sample=sample,
        seed=args.seed,
        max_requests=args.max_requests,
    )
    return verify_command(args, providers_to_run(args.providers), scope)
