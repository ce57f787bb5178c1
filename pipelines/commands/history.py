"""`history`: the recorded runs (`pipelines/history.py`), newest first, one line each: when it
ended, the outcome, command and provider, how long, rows landed and the closing line.

    $ metricsync history whop --limit 2
    2026-12-07 02:00:09 UTC  exit 4 authentication or permission  run whop  1.2s  0 rows  whop: the API refused ...
    2026-12-06 02:00:14 UTC  ok                                   run whop  5.8s  2436 rows  whop: ok - incremental ...

`--json` prints the rows as they are stored (every column of `runs`).
"""

import argparse
import datetime as dt
import sys
from typing import Any

from metricsync.commands._options import PROVIDER_HELP, _date, add_command, check_numbers, providers_to_run
from metricsync.output import document

DEFAULT_LIMIT = 20


def register(commands) -> None:
    history = add_command(
        commands,
        "history",
        "metricsync history",
        "metricsync history whop --failed --limit 5",
        "metricsync history --since 2026-12-01 --json",
    )
    history.add_argument("providers", nargs="*", metavar="provider", help=f"{PROVIDER_HELP} (default: every one)")
    history.add_argument("--account", help="only this account's runs")
    history.add_argument("--failed", action="store_true", help="only runs that failed (exit code not 0)")
    history.add_argument("--since", help="only runs that ended on or after this date (YYYY-MM-DD, UTC)")
    history.add_argument("--limit", help=f"at most this many runs (default {DEFAULT_LIMIT})")
    history.add_argument("--json", action="store_true", help="the rows as JSON, every column")


def _filters(args: argparse.Namespace, quote: Any) -> tuple[str, tuple]:
    clauses: list[str] = []
    values: list[Any] = []
    providers = providers_to_run(args.providers) if args.providers else []
    if providers:
        clauses.append(f"{quote('provider')} in ({', '.join(['%s'] * len(providers))})")
        values.extend(providers)
    if args.account:
        clauses.append(f"{quote('account')} = %s")
        values.append(args.account)
    if args.failed:
        clauses.append(f"{quote('exit_code')} <> 0")
    since = _date(args.since, "--since")
    if since:
        clauses.append(f"{quote('finished_at')} >= %s")
        values.append(dt.datetime.combine(since, dt.time()))  # stored as naive UTC
    return ("where " + " and ".join(clauses)) if clauses else "", tuple(values)


def line(row: dict) -> str:
    """One run at a glance."""
    outcome = "ok" if row["exit_code"] == 0 else f"exit {row['exit_code']} {row['outcome']}"
    who = row["provider"] + (f" (account {row['account']})" if row["account"] else "")
    return (
        f"{row['finished_at']:%Y-%m-%d %H:%M:%S} UTC  {outcome:<38} {row['command']} {who}  "
        f"{row['seconds']:.1f}s  {row['rows_total']} rows  {row['message']}"
    )


def main(args: argparse.Namespace) -> int:
    from dlt.common.pipeline import get_dlt_pipelines_dir  # noqa: PLC0415 - start-up time (imports dlt)
    from metricsync import history  # noqa: PLC0415 - start-up time (imports dlt)
    from metricsync.runner import describe_failure  # noqa: PLC0415 - start-up time (imports dlt, pyarrow, httpx)
    from metricsync.sources._common.config.spec import Range  # noqa: PLC0415 - start-up time (imports pyarrow, httpx, rich)

    check_numbers(args, [("--limit", "limit", Range(int, 1, 100000))])
    try:
        with history.history_warehouse(args.destination) as warehouse:
            where, values = _filters(args, warehouse.quote) if warehouse.has_dataset() else ("", ())
            rows = history.read(warehouse, where, values, args.limit or DEFAULT_LIMIT)
    except Exception as exc:  # noqa: BLE001 - one line, as every command
        code, text = describe_failure("history", exc, args.destination)
        print(text, file=sys.stderr)
        return code
    if args.json:
        document(rows)
    else:
        print(
            "\n".join(map(line, rows))
            if rows
            else f"history: no run recorded in {args.destination} (dataset {history.dataset()})"
        )
    waiting = history.read_pending(
        history.pending_path(args.pipelines_dir or get_dlt_pipelines_dir(), args.destination)
    )
    if waiting:
        print(
            f"history: {len(waiting)} more run(s) wait on this machine for the warehouse - the next run "
            "that reaches it writes them",
            file=sys.stderr,
        )
    return 0
