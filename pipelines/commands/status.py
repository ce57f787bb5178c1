"""`status`: what the destination holds, read from the destination itself (stored state and
`_dlt_loads`), so it works on a machine that has no local pipeline folder.

    whop: last load 2026-11-23 17:02:11 UTC (loaded)
      wallet_time_series / daily_all: loaded through 2026-11-23, 1269 rows
      wallet_time_series / weekly_usd: loaded through 2026-11-23, backfill 2025-01-01..2025-06-30 at 2025-03-31, 98 rows
      wallet_time_series / monthly_usd: loaded through 2026-11-23, 23 rows, verified 2026-11-24 04:00:12 UTC (1 window, 23 rows, clean)

With `sources.<provider>.accounts`, each account's own state and rows, under `account <name>: ...`.

`--json` prints one object per (provider, account, resource, query); definition tables have query
null, a provider without accounts has account null:
    {"provider": "whop", "account": "north", "resource": "wallet_time_series", "query": "daily_all",
     "loaded_through": "2026-11-23", "backfill": null, "rows": 1269, "last_loaded_at": "2026-11-23T17:02:11+00:00",
     "last_verified": {"at": "2026-11-24T04:00:12+00:00", "windows": 20, "rows": 1269, "clean": true,
                       "drifted_periods": 0, "repaired": false}}
"""

import sys
from typing import Any

from metricsync.commands._options import add_command, providers_to_run
from metricsync.exits import STALE
from metricsync.providers import PROVIDERS

# Below, the modules that read the warehouse are imported where they are used: they import dlt and
# the sources (seconds), which parsing the command line does not need.

LOAD_STATUS = {0: "loaded"}


def _text(summary: dict, entries: list[dict]) -> list[str]:
    from metricsync.verification.compare import plural  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt loads when the command runs

    provider = summary["provider"]
    if not summary["has_dataset"]:
        return [f"{provider}: nothing loaded yet in {summary['where']} (dataset {summary['dataset']})"]
    last = summary["last_load"]
    head = f"{provider}: no load recorded"
    if last:
        head = (
            f"{provider}: last load {last[2]:%Y-%m-%d %H:%M:%S} UTC "
            f"({LOAD_STATUS.get(last[1], f'status {last[1]}')}, load id {last[0]}, dataset {summary['dataset']} "
            f"in {summary['where']})"
        )
    lines, account = [head], None
    for entry in entries:
        if entry["account"] is not None and entry["account"] != account:
            account = entry["account"]
            lines.append(f"  account {account}: last load {entry['last_loaded_at'] or 'none'}")
        name = entry["resource"] + (f" / {entry['query']}" if entry["query"] else "")
        parts = []
        if entry["query"]:
            parts.append(f"loaded through {entry['loaded_through'] or '-'}")
        if entry["backfill"]:
            b = entry["backfill"]
            parts.append(f"backfill {b['from']}..{b['to']} unfinished, done through {b['done_through']}")
        parts.append(f"{entry['rows'] if entry['rows'] is not None else 0} rows")
        if entry.get("last_verified"):
            v = entry["last_verified"]
            drifted = f"{v['drifted_periods']} {'periods drifted' if entry['query'] else 'rows differ'}"
            windows = f"{plural(v['windows'], 'window')}, " if entry["query"] else ""
            parts.append(
                f"verified {v['at'][:19].replace('T', ' ')} UTC ({windows}{plural(v['rows'], 'row')}, "
                f"{'clean' if v['clean'] else drifted}{', after repair' if v['repaired'] else ''})"
            )
        lines.append(("    " if account else "  ") + f"{name}: " + ", ".join(parts))
    return lines


def status_command(providers: list[str], destination: str, as_json: bool, stale: bool = False) -> int:
    from metricsync.runner import describe_failure  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt loads when the command runs
    from metricsync.verification.holdings import provider_status  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt loads when the command runs

    everything, code, runs = [], 0, last_runs(destination)
    for provider in providers:
        try:
            summary, *entries = provider_status(provider, destination)
            found = _stale(provider, entries) if stale else []
        except Exception as exc:  # noqa: BLE001 - one line per provider, as in `run`
            code, line = describe_failure(provider, exc, destination)
            print(line, file=sys.stderr)
            continue
        everything.extend(entries)
        if not as_json:
            print("\n".join(_text(summary, entries) + _runs(runs, provider, entries)), flush=True)
        if found:
            print("\n".join(found), file=sys.stderr, flush=True)
            code = code or STALE
    if as_json:
        from metricsync.output import document  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt loads when the command runs

        document(everything)
    return code


def _stale(provider: str, entries: list[dict]) -> list[str]:
    """The stale queries' lines of one provider; each account's outcome noted for the history."""
    from metricsync.operations import tell  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt loads when the command runs
    from metricsync.sources._common.load.windows import utc_today  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt loads when the command runs
    from metricsync.staleness import max_ages, outcome, stale  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt loads when the command runs

    ages, found = max_ages(provider), []
    for account in dict.fromkeys(e["account"] for e in entries):
        lines = stale([e for e in entries if e["account"] == account], utc_today(), ages)
        tell("status", provider, account, *outcome(provider, account, lines))
        found.extend(lines)
    return found


def last_runs(destination: str) -> dict:
    """(provider, account) -> the newest rows of the run history (`history.latest`), {} without one."""
    from metricsync import history  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt loads when the command runs

    try:
        with history.history_warehouse(destination) as warehouse:
            return history.latest(history.read(warehouse))
    except Exception:  # noqa: BLE001 - status shows what the warehouse holds even without a history
        return {}


def _runs(runs: dict, provider: str, entries: list[dict]) -> list[str]:
    """`  last success ...` per account, and the last failure when it is newer."""
    lines = []
    for account in dict.fromkeys([None] + [e["account"] for e in entries]):
        found = runs.get((provider, account))
        if not found:
            continue
        who = f"  account {account}: " if account else "  "
        ok, failed = found.get("success"), found.get("failure")
        said = [f"last success {_when(ok)} ({ok['command']})" if ok else "no success recorded"]
        if failed and (not ok or failed["finished_at"] > ok["finished_at"]):
            said.append(
                f"last failure {_when(failed)} ({failed['command']}, exit {failed['exit_code']}): {failed['message']}"
            )
        lines.append(who + ", ".join(said))
    return lines


def _when(row: dict) -> str:
    return f"{row['finished_at']:%Y-%m-%d %H:%M:%S} UTC"


def register(commands) -> None:
    status = add_command(
        commands,
        "status",
        "metricsync status",
        "metricsync status whop --json",
    )
    status.add_argument(
        "providers",
        nargs="*",
        default=list(PROVIDERS),
        metavar="provider",
        help=f"{', '.join(PROVIDERS)} (default: every provider)",
    )
    status.add_argument("--json", action="store_true", help="one JSON object per (provider, account, resource, query)")
    status.add_argument(
        "--stale",
        action="store_true",
        help="exit 8 naming each query whose newest loaded period is older than its grain allows "
        "(daily 2 days, weekly 9, monthly 35; sources.<provider>.max_age), and alert",
    )


def main(args: Any) -> int:
    return status_command(providers_to_run(args.providers), args.destination, args.json, args.stale)
