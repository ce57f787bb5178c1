"""Statsig's shared test settings and the sandbox's truth for its daily values."""

import datetime as dt

from support import configure, today

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)


VALUES = "/console/v1/metrics/values"


VALUE_COLUMNS = ("date", "metric_name", "metric_type", "unit_type", "value", "numerator", "denominator")


def setup(monkeypatch, sandbox, days: int, **settings) -> dt.date:
    first = TODAY - dt.timedelta(days=days)
    configure(
        monkeypatch,
        "statsig",
        api_key="console-sandbox-statsig",
        base_url=sandbox.url,
        start_date=first.isoformat(),
        **settings,
    )
    return first


def days(first: dt.date, last: dt.date = TODAY) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def expected_values(statsig, dates) -> list[tuple]:
    rows = []
    for day in dates:
        for item in statsig.values_for(day):
            rows.append(
                (
                    day,
                    item["metricName"],
                    item["metricType"],
                    item.get("unitType") or "",
                    item["value"],
                    item["numerator"],
                    item["denominator"],
                )
            )
    return sorted(rows)


def warehouse_values(warehouse) -> list[tuple]:
    return sorted(warehouse.query(f"select {', '.join(VALUE_COLUMNS)} from statsig.metric_values"))
