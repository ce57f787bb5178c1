"""`status`: what the destination holds, read from the destination itself (stored state and
`_dlt_loads`), so it works on a machine that has no local pipeline folder.

    whop: last load 2026-11-23 17:02:11 UTC (loaded)
      wallet_time_series / daily_all: loaded through 2026-11-23, 1269 rows
      wallet_time_series / weekly_usd: loaded through 2026-11-23, backfill 2025-01-01..2025-06-30 at 2025-03-31, 98 rows
      wallet_time_series / monthly_usd: loaded through 2026-11-23, 23 rows, verified 2026-11-24 04:00:12 UTC (1 window, 23 rows, clean)

`--json` prints one object per (provider, resource, query); definition tables have query null:
    {"provider": "whop", "resource": "wallet_time_series", "query": "daily_all", "loaded_through": "2026-11-23",
     "backfill": null, "rows": 1269, "last_loaded_at": "2026-11-23T17:02:11+00:00",
     "last_verified": {"at": "2026-11-24T04:00:12+00:00", "windows": 20, "rows": 1269, "clean": true,
                       "drifted_periods": 0, "repaired": false}}
"""

import datetime as dt
import json
import sys
from typing import Any, Optional

from pipelines.catalog import WINDOWED
from pipelines.commands._options import add_command, providers_to_run
from pipelines.providers import PROVIDERS
from pipelines.verification.compare import plural
from pipelines.verification.stored import last_verifications

LOAD_STATUS = {0: "loaded"}


def _backfill(entry: dict) -> Optional[dict]:
    """The unfinished backfill of a query (the newest, if several): range and how far it got."""
    backfills = entry.get("backfills") or {}
    if not backfills:
        return None
    key = sorted(backfills)[-1]
    first, _, last = key.partition("..")
    return {"from": first, "to": last, "done_through": backfills[key]}


def _rows(warehouse: Any, table: str, query: Optional[str], windowed_by_query: bool) -> Optional[int]:
    if query is not None and windowed_by_query and "query_name" in _columns(warehouse, table):
        return warehouse.count(table, "where query_name = %s", query)
    return warehouse.count(table)


def _columns(warehouse: Any, table: str) -> set:
    schema = warehouse.schema() or {}
    return set(schema.get("tables", {}).get(table, {}).get("columns", {}))


def _verified(records: dict, resource: str, query: str) -> Optional[dict]:
    """The newest `verify` of a query (of any account): when, how much, clean or not."""
    found = [r for (_account, res, q), r in records.items() if (res, q) == (resource, query)]
    if not found:
        return None
    newest = max(found, key=lambda r: r["verified_at"])
    at = newest["verified_at"]
    return {"at": (at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)).isoformat(), "windows": newest["windows"], "rows": newest["rows_compared"],
            "clean": bool(newest["clean"]), "drifted_periods": newest["drifted_periods"],
            "repaired": bool(newest["repaired"])}


def provider_status(provider: str, destination: str) -> list[dict]:
    """One entry per windowed (resource, query) in the stored state and per definition table."""
    from pipelines.warehouse.reads import Warehouse

    entries = []
    with Warehouse(destination, provider) as warehouse:
        state = warehouse.state() or {}
        last = warehouse.last_load()
        loaded_at = last[2].isoformat() if last else None
        resources = state.get("sources", {}).get(provider, {}).get("resources", {})
        windowed = WINDOWED[provider]
        verified = last_verifications(warehouse)
        for resource in windowed:
            for query, entry in (resources.get(resource, {}).get("queries") or {}).items():
                entries.append({
                    "provider": provider, "resource": resource, "query": query,
                    "loaded_through": entry.get("loaded_through"), "backfill": _backfill(entry),
                    "rows": _rows(warehouse, resource, query, windowed[resource] is not None),
                    "last_loaded_at": loaded_at, "last_verified": _verified(verified, resource, query),
                })
        schema = warehouse.schema() or {}
        for table, spec in schema.get("tables", {}).items():
            if table.startswith("_dlt") or table in windowed or spec.get("parent"):
                continue
            if table not in warehouse.tables():
                continue
            entries.append({"provider": provider, "resource": spec.get("resource", table), "query": None,
                            "loaded_through": None, "backfill": None, "rows": _rows(warehouse, table, None, False),
                            "last_loaded_at": loaded_at, "last_verified": None})
        summary = {"provider": provider, "last_load": last, "has_dataset": warehouse.has_dataset(),
                   "where": warehouse.where}
    return [summary, *entries]


def _text(summary: dict, entries: list[dict]) -> list[str]:
    provider = summary["provider"]
    if not summary["has_dataset"]:
        return [f"{provider}: nothing loaded yet in {summary['where']}"]
    last = summary["last_load"]
    head = f"{provider}: no load recorded"
    if last:
        head = (f"{provider}: last load {last[2]:%Y-%m-%d %H:%M:%S} UTC "
                f"({LOAD_STATUS.get(last[1], f'status {last[1]}')}, load id {last[0]})")
    lines = [head]
    for entry in entries:
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
            verdict = "clean" if v["clean"] else f"{v['drifted_periods']} periods drifted"
            parts.append(f"verified {v['at'][:19].replace('T', ' ')} UTC ({plural(v['windows'], 'window')}, "
                         f"{plural(v['rows'], 'row')}, {verdict}{', after repair' if v['repaired'] else ''})")
        lines.append(f"  {name}: " + ", ".join(parts))
    return lines


def status_command(providers: list[str], destination: str, as_json: bool) -> int:
    from pipelines.runner import describe_failure

    everything, code = [], 0
    for provider in providers:
        try:
            summary, *entries = provider_status(provider, destination)
        except Exception as exc:  # noqa: BLE001 - one line per provider, as in `run`
            code, line = describe_failure(provider, exc, destination)
            print(line, file=sys.stderr)
            continue
        everything.extend(entries)
        if not as_json:
            print("\n".join(_text(summary, entries)), flush=True)
    if as_json:
        print(json.dumps(everything, indent=2, default=str))
    return code

def register(commands) -> None:
    status = add_command(commands, "status", "what the destination holds: last load, loaded_through and unfinished "
                         "backfills per query, row counts", "metricsync status", "metricsync status whop --json")
    status.add_argument("providers", nargs="*", default=list(PROVIDERS), metavar="provider",
                        help=f"{', '.join(PROVIDERS)} (default: every provider)")
    status.add_argument("--json", action="store_true", help="one JSON object per (provider, resource, query)")


def main(args: Any) -> int:
    return status_command(providers_to_run(args.providers), args.destination, args.json)
