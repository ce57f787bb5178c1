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

import datetime as dt
import sys
from typing import Any, Optional

from metricsync.commands._options import add_command, providers_to_run
from metricsync.exits import STALE
from metricsync.providers import PROVIDERS

# Below, the modules that read the warehouse are imported where they are used: `metricsync.accounts`
# and `catalog` import dlt and the sources (seconds), which parsing the command line does not need.

LOAD_STATUS = {0: "loaded"}


def _backfill(entry: dict) -> Optional[dict]:
    """The unfinished backfill of a query (the newest, if several): range and how far it got."""
    backfills = entry.get("backfills") or {}
    if not backfills:
        return None
    key = sorted(backfills)[-1]
    first, _, last = key.partition("..")
    return {"from": first, "to": last, "done_through": backfills[key]}


def _rows(
    warehouse: Any, table: str, query: Optional[str], windowed_by_query: bool, account: Optional[str] = None
) -> Optional[int]:
    from metricsync.accounts import ACCOUNT_COLUMN  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt and dbt load when the command runs

    columns = _columns(warehouse, table)
    conditions, args = [], []
    if query is not None and windowed_by_query and "query_name" in columns:
        conditions.append("query_name = %s")
        args.append(query)
    if account is not None and ACCOUNT_COLUMN in columns:
        conditions.append(f"{ACCOUNT_COLUMN} = %s")
        args.append(account)
    return warehouse.count(table, ("where " + " and ".join(conditions)) if conditions else "", *args)


def _columns(warehouse: Any, table: str) -> set:
    schema = warehouse.schema() or {}
    return set(schema.get("tables", {}).get(table, {}).get("columns", {}))


def _account_entries(
    warehouse: Any, provider: str, account: Optional[str], loaded_at: Optional[str], verified: dict
) -> list[dict]:
    """The entries of one account (its own pipeline's state and rows), or of the provider (None)."""
    from metricsync.catalog import WINDOWED  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt and dbt load when the command runs

    found = warehouse.state_and_load(warehouse.pipeline_name(account)) if account else (warehouse.state(), None)
    state, committed = found or ({}, None)
    loaded_at = committed.isoformat() if committed else (None if account else loaded_at)
    resources = (state or {}).get("sources", {}).get(provider, {}).get("resources", {})
    windowed = WINDOWED[provider]
    entries = []
    for resource in windowed:
        for query, entry in (resources.get(resource, {}).get("queries") or {}).items():
            entries.append(
                {
                    "provider": provider,
                    "account": account,
                    "resource": resource,
                    "query": query,
                    "loaded_through": entry.get("loaded_through"),
                    "granularity": entry.get("granularity"),
                    "backfill": _backfill(entry),
                    "rows": _rows(warehouse, resource, query, windowed[resource] is not None, account),
                    "last_loaded_at": loaded_at,
                    "last_verified": _verified(verified, account, resource, query),
                }
            )
    for table, spec in (warehouse.schema() or {}).get("tables", {}).items():
        if table.startswith("_dlt") or table in windowed or spec.get("parent") or table not in warehouse.tables():
            continue
        entries.append(
            {
                "provider": provider,
                "account": account,
                "resource": spec.get("resource", table),
                "query": None,
                "loaded_through": None,
                "granularity": None,
                "backfill": None,
                "rows": _rows(warehouse, table, None, False, account),
                "last_loaded_at": loaded_at,
                "last_verified": _verified(verified, account, spec.get("resource", table), None),
            }
        )
    return entries


def _verified(records: dict, account: Optional[str], resource: str, query: Optional[str]) -> Optional[dict]:
    """The newest `verify` of an account's query: when, how much, clean or not."""
    found = [r for (acc, res, q), r in records.items() if ((acc or None), res, q) == (account, resource, query)]
    if not found:
        return None
    newest = max(found, key=lambda r: r["verified_at"])
    at = newest["verified_at"]
    return {
        "at": (at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)).isoformat(),
        "windows": newest["windows"],
        "rows": newest["rows_compared"],
        "clean": bool(newest["clean"]),
        "drifted_periods": newest["drifted_periods"],
        "repaired": bool(newest["repaired"]),
    }


def provider_status(provider: str, destination: str) -> list[dict]:
    """One entry per account (`account` null without accounts), windowed (resource, query) in the
    stored state and definition table."""
    from metricsync.accounts import configured_accounts  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt and dbt load when the command runs
    from metricsync.verification.stored import last_verifications  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt and dbt load when the command runs
    from metricsync.warehouse.reads import Warehouse  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt and dbt load when the command runs

    accounts: list[Optional[str]] = [a.name for a in configured_accounts(provider)] or [None]
    with Warehouse(destination, provider) as warehouse:
        last = warehouse.last_load()
        loaded_at = last[2].isoformat() if last else None
        verified = last_verifications(warehouse)
        entries = [
            e for account in accounts for e in _account_entries(warehouse, provider, account, loaded_at, verified)
        ]
        summary = {
            "provider": provider,
            "last_load": last,
            "has_dataset": warehouse.has_dataset(),
            "where": warehouse.label,
            "dataset": warehouse.dataset,
        }
        for entry in entries:
            entry["warehouse"] = warehouse.label
    return [summary, *entries]


def _text(summary: dict, entries: list[dict]) -> list[str]:
    from metricsync.verification.compare import plural  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt and dbt load when the command runs

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
    from metricsync.runner import describe_failure  # noqa: PLC0415 - start-up time (imports dlt)

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
        from metricsync.output import document  # noqa: PLC0415 - start-up time

        document(everything)
    return code


def _stale(provider: str, entries: list[dict]) -> list[str]:
    """The stale queries' lines of one provider; each account's outcome noted for the history."""
    from metricsync.operations import tell  # noqa: PLC0415 - start-up time (imports dlt)
    from metricsync.sources._common.load.windows import utc_today  # noqa: PLC0415 - start-up time
    from metricsync.staleness import max_ages, outcome, stale  # noqa: PLC0415 - start-up time

    ages, found = max_ages(provider), []
    for account in dict.fromkeys(e["account"] for e in entries):
        lines = stale([e for e in entries if e["account"] == account], utc_today(), ages)
        tell("status", provider, account, *outcome(provider, account, lines))
        found.extend(lines)
    return found


def last_runs(destination: str) -> dict:
    """(provider, account) -> the newest rows of the run history (`history.latest`), {} without one."""
    from metricsync import history  # noqa: PLC0415 - start-up time (imports dlt)

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
