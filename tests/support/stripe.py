"""Stripe Analytics' shared test queries and the sandbox's truth for them."""

import datetime as dt

from support import configure, today

PROVIDER = "stripe_analytics"


KEY = "sk_test_sandbox_stripe"


MRR, DISCOUNTS, CREDITS, USAGE = (
    "metric_61Sud3n5oAGVCWiSr5",
    "metric_61T01fRjnqbdNuZZ85",
    "metric_61T01fRjnJIJjie353",
    "metric_61T01fR3j4kfJIbns6",
)


SUBSCRIPTIONS = "metric_61SubCnt7QwErTyUi9"


PRICES = ["price_HG4jxINMyHorkI", "price_HG4UtyJbuJIsVt"]


UTC = dt.timezone.utc


TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)


DAILY_BY_PRICE = {
    "name": "mrr_by_price",
    "metrics": [{"id": MRR}],
    "interval": "day",
    "currency": "usd",
    "group_by": ["price"],
}


WEEKLY = {"name": "revenue_weekly", "metrics": [{"name": "revenue.mrr"}, {"id": DISCOUNTS}], "interval": "week"}


MONTHLY_NY = {
    "name": "subscriptions_ny",
    "metrics": [{"id": SUBSCRIPTIONS}],
    "interval": "month",
    "timezone": "America/New_York",
    "group_by": ["product"],
}


def setup(monkeypatch, sandbox, queries, days=60, **settings):
    defaults = {
        "api_key": KEY,
        "base_url": sandbox.url,
        "queries": queries,
        "requests_per_second": 1000,
        "start_date": (TODAY - dt.timedelta(days=days)).isoformat(),
    }
    configure(monkeypatch, PROVIDER, **{**defaults, **settings})


def aligned(day, interval):
    if interval == "week":
        return day - dt.timedelta(days=day.weekday())
    return {"day": day, "month": day.replace(day=1), "year": day.replace(month=1, day=1)}[interval]


def expected(sandbox, query, first_day, end=None):
    """(timestamp, metric, dimension_name, dimension_value, value, currency) the emulator holds."""
    rows = []
    for item in sandbox.by_name[PROVIDER].expected(query, aligned(first_day, query["interval"]), end):
        dimensions = item["dimensions"] or {}
        stamp = dt.datetime.fromisoformat(item["timestamp"])
        for result in item["results"]:
            rows.append(
                (
                    stamp,
                    result["metric"],
                    ",".join(dimensions),
                    ",".join(dimensions.values()),
                    result["value"],
                    result["currency"],
                )
            )
    return sorted(rows)


def loaded(warehouse, query_name):
    rows = warehouse.query(
        'select "timestamp", metric, dimension_name, dimension_value, value, currency '
        f"from stripe_analytics.metric_results where query_name = '{query_name}'"
    )
    return sorted((ts.astimezone(UTC), *rest) for ts, *rest in rows)
