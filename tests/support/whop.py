"""Whop's shared test settings and the sandbox's truth for them (used by the Whop, accounts,
destination and deploy tests)."""

import datetime as dt
import json
from decimal import Decimal

from metricsync.sandbox.whop import LINE_CATEGORIES

from support import configure, period_floor, today

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)


START = TODAY - dt.timedelta(days=75)  # mid-period on purpose: windows must align it down


KEY = "whop_sandbox_key"


WALLET_QUERIES = [
    {"name": "daily_all", "group_by": "day"},
    {"name": "weekly_usd", "group_by": "week", "convert_currency": "usd"},
    {"name": "weekly_raw", "group_by": "week"},
    {"name": "monthly_usd", "group_by": "month", "convert_currency": "usd"},
    {"name": "monthly_gross_eur", "group_by": "month", "reporting_category": "gross_income", "currency": "eur"},
    {"name": "weekly_refunds", "group_by": "week", "grouping": ["payments", "refunds"]},
]


METRIC_QUERIES = [
    {
        "name": "gross_by_country",
        "resource": "receipts:gross_revenue",
        "granularity": "daily",
        "breakdowns": ["country"],
    },
    {"name": "users_weekly", "resource": "members:new_users", "granularity": "weekly"},
    {
        "name": "gross_monthly_plan",
        "resource": "receipts:gross_revenue",
        "granularity": "monthly",
        "breakdowns": ["country", "plan"],
    },
]


def setup_whop(monkeypatch, sandbox, **overrides):
    settings = {
        "api_key": KEY,
        "base_url": f"{sandbox.url}/api/v1",
        "start_date": START.isoformat(),
        "wallet_queries": WALLET_QUERIES,
        "metric_queries": METRIC_QUERIES,
        "lookback_days": 3,
        "max_attempts": 4,
    }
    settings.update(overrides)
    configure(monkeypatch, "whop", **settings)


def expected_wallet(emulator, query, account=None):
    """The sandbox's wallet truth for a query, of `account` (the `account_id` sent; None = none)."""
    lines = sorted(LINE_CATEGORIES)
    if query.get("reporting_category"):
        lines = [k for k in lines if query["reporting_category"] in LINE_CATEGORIES[k][1]]
    if query.get("grouping"):
        lines = [k for k in lines if LINE_CATEGORIES[k][0] in query["grouping"]]
    first = period_floor(START, query["group_by"])
    return emulator.wallet_totals(
        first, TODAY, query["group_by"], lines, query.get("currency"), query.get("convert_currency"), account
    )


def loaded_wallet(warehouse, name):
    rows = warehouse.query(
        f"select period, currency, amount, line_count from whop.wallet_time_series where query_name = '{name}'"
    )
    return {(r[0], r[1]): (Decimal(r[2]), r[3]) for r in rows}


def expected_metric(emulator, query):
    g = {"daily": "day", "weekly": "week", "monthly": "month"}[query["granularity"]]
    totals = emulator.metric_totals(
        query["resource"],
        query["granularity"],
        query.get("breakdowns", []),
        period_floor(START, g),
        TODAY + dt.timedelta(days=1),
    )
    names = query.get("breakdowns", [])
    return {(p, json.dumps(dict(zip(names, combo)), sort_keys=True)): v for (p, combo), v in totals.items()}


def loaded_metric(warehouse, name):
    rows = warehouse.query(f"select period, breakdown_key, value from whop.metric_results where query_name = '{name}'")
    return {(r[0], r[1]): Decimal(r[2]) for r in rows}
