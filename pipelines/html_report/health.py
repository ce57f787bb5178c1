"""Sync health for the report, read from what the warehouse stores: the run history (`runs`,
`pipelines/history.py`), each provider's stored state and verifications (`status`'s entries) and
the staleness rules of `status --stale` (`pipelines/staleness.py`)."""

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from metricsync import evolution, history, vanishing
from metricsync.runner import describe_failure
from metricsync.sources._common.load.windows import utc_today
from metricsync.staleness import age, max_ages
from metricsync.verification.holdings import provider_status

logger = logging.getLogger("metricsync.report")

RUNS_LIMIT = 500_000  # a year of 100 accounts, four providers, nightly: 146,000 rows


@dataclass
class Health:
    warehouse: str = ""
    runs: list[dict] = field(default_factory=list)  # newest first
    entries: list[dict] = field(default_factory=list)  # one per stored query or definition table
    problems: list[str] = field(default_factory=list)  # what could not be read, one line each


def read_runs(destination: str, since: Optional[dt.date], accounts: Sequence[str]) -> tuple[str, list[dict]]:
    """(the warehouse's label, the history's rows since `since`, newest first)."""

    with history.history_warehouse(destination) as warehouse:
        if not warehouse.has_dataset():
            return warehouse.label, []
        clauses: list[str] = []
        values: list[Any] = []
        if since:
            clauses.append(f"{warehouse.quote('finished_at')} >= %s")
            values.append(dt.datetime.combine(since, dt.time()))  # stored as naive UTC
        if accounts:
            clauses.append(f"{warehouse.quote('account')} in ({', '.join(['%s'] * len(accounts))})")
            values.extend(accounts)
        where = ("where " + " and ".join(clauses)) if clauses else ""
        return warehouse.label, history.read(warehouse, where, tuple(values), RUNS_LIMIT)


def freshness(entries: list[dict], today: dt.date) -> list[dict]:
    """Each stored query's age against its grain (`staleness.age`), with `days`, `allowed`, `stale`."""

    ages: dict = {}
    for entry in entries:
        provider = entry["provider"]
        if provider not in ages:
            ages[provider] = max_ages(provider)
        found = age({**entry, "max_age": ages[provider].get(entry.get("query"))}, today)
        entry["days"], entry["allowed"] = found if found else (None, None)
        entry["stale"] = bool(found and found[0] > found[1])
    return entries


def read_entries(destination: str, providers: Sequence[str], accounts: Sequence[str]) -> tuple[list, list]:
    """`status`'s entries of every provider that has a dataset (accounts limited to `accounts`), and a
    line for each provider that could not be read."""

    entries: list[dict] = []
    problems: list[str] = []
    for provider in providers:
        try:
            summary, *found = provider_status(provider, destination)
        except Exception as exc:  # noqa: BLE001 - the report shows what it could read, and says what not
            problems.append(describe_failure(provider, exc, destination)[1])
            continue
        if summary["has_dataset"]:
            entries.extend(e for e in found if not accounts or e["account"] in accounts)
    return entries, problems


def gather(destination: str, providers: Sequence[str], since: Optional[dt.date], accounts: Sequence[str]) -> Health:

    health = Health()
    try:
        health.warehouse, health.runs = read_runs(destination, since, accounts)
    except Exception as exc:  # noqa: BLE001 - a warehouse without a history still has a report
        health.problems.append(describe_failure("history", exc, destination)[1])
    entries, problems = read_entries(destination, providers, accounts)
    health.entries = freshness(entries, utc_today())
    health.problems += problems
    if not health.warehouse and entries:
        health.warehouse = entries[0]["warehouse"]
    return health


def _who(row: dict) -> str:
    return row["provider"] + (f" / {row['account']}" if row.get("account") else "")


def per_account(runs: list[dict]) -> list[dict]:
    """One line per provider and account: its last run, last success and failure, and the period's
    requests, 429s, schema changes and vanished data."""

    mine: dict = {}
    for row in runs:
        mine.setdefault((row["provider"], row["account"]), []).append(row)
    lines = []
    for key, found in sorted(history.latest(runs).items(), key=lambda item: _who(item[1]["last"])):
        rows, last = mine[key], found["last"]
        lines.append(
            {
                "who": _who(last),
                "last": last,
                "success": found.get("success"),
                "failure": found.get("failure"),
                "runs": len(rows),
                "failed": sum(1 for r in rows if r["exit_code"]),
                "requests": sum(r["requests"] or 0 for r in rows),
                "throttled": sum(r["throttled"] or 0 for r in rows),
                "changes": [line for r in rows for line in _listed(r["schema_changes"], r, evolution.describe)],
                "vanished": [line for r in rows for line in _listed(r["vanished"], r, vanishing.item)],
            }
        )
    return lines


def _listed(stored: Optional[str], row: dict, describe: Callable[[dict], str]) -> list[str]:
    """A history row's recorded list (schema changes, vanished data) as lines stamped with the run."""
    items = json.loads(stored) if stored and stored != "[]" else []
    when = f"{row['finished_at']:%Y-%m-%d %H:%M} UTC"
    return [f"{when}: {describe(item)}" for item in items]


def daily(runs: list[dict]) -> list[dict]:
    """The timeline's numbers: per day (UTC), provider and outcome, the runs, their seconds and rows."""
    totals: dict = {}
    for row in runs:
        key = (row["finished_at"].date(), row["provider"], "ok" if row["exit_code"] == 0 else "failed")
        total = totals.setdefault(key, {"runs": 0, "seconds": 0.0, "rows": 0, "requests": 0, "throttled": 0})
        total["runs"] += 1
        total["seconds"] += row["seconds"] or 0.0
        total["rows"] += row["rows_total"] or 0
        total["requests"] += row["requests"] or 0
        total["throttled"] += row["throttled"] or 0
    return [
        {"day": day, "provider": provider, "outcome": outcome, **total}
        for (day, provider, outcome), total in sorted(totals.items())
    ]
