"""`status --stale`: a query is stale when the newest period it has loaded (the period holding its
`loaded_through`) began longer ago than its grain allows: daily 2 days, weekly 9, monthly 35
(yearly 370), or `sources.<provider>.max_age` days for the queries it names:

    [sources.whop]
    max_age = {daily_all = 1, monthly_gross = 40}

It reads only what the warehouse stores, so it works when nothing runs (a cron that stopped):

    whop: stale - wallet_time_series / daily_all loaded through 2026-11-30, 7 days old (allowed 2) - \
run metricsync run whop, or see metricsync history whop
"""

import datetime as dt
import json
from typing import Optional

from metricsync.exits import STALE
from metricsync.sources._common.errors import ConfigError
from metricsync.sources._common.load.windows import GRANULARITIES, period_start

ALLOWED_DAYS = {"day": 2, "week": 9, "week_sunday": 9, "month": 35, "year": 370}
UNKNOWN_GRAIN = "month"  # a query loaded before its grain was kept in state: the loosest, until its next run


def max_ages(provider: str) -> dict:
    """`sources.<provider>.max_age`: {query: days}, checked (exit 2 naming the setting)."""

    from metricsync.sources._common.config.strict import setting  # noqa: PLC0415 - start-up time (imports dlt)

    value = setting(provider, "max_age")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            value = None
    if value is None:
        return {}
    fix = f'set sources.{provider}.max_age to an object of query names and days, e.g. {{"daily_all": 3}}'
    if not isinstance(value, dict):
        raise ConfigError(f"{provider}: max_age must be an object - {fix}")
    for query, days in value.items():
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 3650:
            raise ConfigError(
                f"{provider}: max_age.{query} {days!r} is not a whole number of days from 0 to 3650 - {fix}"
            )
    return dict(value)


def age(entry: dict, today: dt.date) -> Optional[tuple[int, int]]:
    """(days since the newest loaded period began, days allowed) of a status entry's query, or None
    for a definition table or a query not loaded yet."""
    if not entry.get("query") or not entry.get("loaded_through"):
        return None
    grain = GRANULARITIES.get(str(entry.get("granularity") or UNKNOWN_GRAIN).lower(), UNKNOWN_GRAIN)
    newest = period_start(dt.date.fromisoformat(entry["loaded_through"]), grain)
    allowed = entry.get("max_age")
    return (today - newest).days, ALLOWED_DAYS[grain] if allowed is None else allowed


def stale(entries: list[dict], today: dt.date, ages: dict) -> list[str]:
    """One line per stale query of `entries` (one provider's `status` entries)."""
    lines = []
    for entry in entries:
        found = age({**entry, "max_age": ages.get(entry.get("query"))}, today)
        if found and found[0] > found[1]:
            who = entry["provider"] + (f" (account {entry['account']})" if entry["account"] else "")
            lines.append(
                f"{who}: stale - {entry['resource']} / {entry['query']} loaded through "
                f"{entry['loaded_through']}, {found[0]} days old (allowed {found[1]}) - run metricsync run "
                f"{entry['provider']}, or see metricsync history {entry['provider']}"
            )
    return lines


def outcome(provider: str, account: Optional[str], lines: list[str]) -> tuple[int, str]:
    """The history's (exit code, line) of one provider's (or account's) staleness check."""
    if not lines:
        who = provider + (f" (account {account})" if account else "")
        return 0, f"{who}: fresh - every query within its allowed age"
    more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
    return STALE, lines[0] + more
