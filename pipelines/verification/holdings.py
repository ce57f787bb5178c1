"""What a provider's dataset holds, read from the destination itself (stored state, row counts,
`_dlt_loads`, the last `verify`): `status` prints it, the report (`pipelines/html_report/`) and
Dagster's freshness checks read it. One entry per (account, resource, query); see
`pipelines/commands/status.py` for its JSON form."""

import datetime as dt
from typing import Any, Optional

from metricsync.accounts import ACCOUNT_COLUMN, configured_accounts
from metricsync.catalog import WINDOWED
from metricsync.warehouse.reads import Warehouse

from .stored import last_verifications


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
