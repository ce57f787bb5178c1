"""The headline metrics for the report, read from the marts `transform` publishes (dataset
`metrics`), not from the loaded tables: `fct_mrr_monthly` (monthly MRR per account and currency, a
running month marked incomplete), `fct_whop_wallet_net_revenue_monthly`, and the periods of
`fct_metric_values` for Stripe's active subscriptions and Statsig's metrics. The semantic layer
(`metricsync query`) computes its metrics from the same `fct_metric_values`; it is not asked here
because MetricFlow's start (a dbt parse of the project, then its engine) takes longer than the
whole report may (docs/report.md)."""

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from metricsync.warehouse.reads import Warehouse

logger = logging.getLogger("metricsync.report")

MARTS = "metrics"
# (name, title, unit, mart, SQL over it: {where} takes the account and --since filters, period column)
QUERIES = (
    (
        "mrr",
        "Monthly recurring revenue (Stripe)",
        "currency",
        "fct_mrr_monthly",
        "select month, account, currency, series, sum(mrr) as value, bool_and(is_complete) as is_complete "
        "from {table} where mrr is not null {where} "
        "group by month, account, currency, series order by account, currency, series, month",
        "month",
    ),
    (
        "net_revenue",
        "Net revenue per month (Whop wallet)",
        "currency",
        "fct_whop_wallet_net_revenue_monthly",
        "select month, account, currency, series, sum(net_revenue) as value, bool_and(is_complete) as is_complete "
        "from {table} where true {where} "
        "group by month, account, currency, series order by account, currency, series, month",
        "month",
    ),
    (
        "active_subscriptions",
        "Active subscriptions (Stripe)",
        "subscriptions",
        "fct_metric_values",
        "select period_start as month, account, grain as currency, series, sum(value) as value, "
        "bool_and(is_complete) as is_complete from {table} "
        "where provider = 'stripe_analytics' and metric = 'active_subscriptions' {where} "
        "group by period_start, account, grain, series order by account, series, period_start",
        "period_start",
    ),
    (
        "statsig",
        "Statsig metrics",
        "value",
        "fct_metric_values",
        "select period_start as month, account, metric_id as currency, series, sum(value) as value, "
        "bool_and(is_complete) as is_complete from {table} "
        "where provider = 'statsig' {where} "
        "group by period_start, account, metric_id, series order by series, account, period_start",
        "period_start",
    ),
)


@dataclass
class Figure:
    name: str
    title: str
    unit: str  # "currency": the rows' currency is the unit; else the unit itself
    rows: list[dict] = field(default_factory=list)  # period, account, key (currency/grain/metric), series, value


def _filters(quote, column: str, since: Optional[dt.date], accounts: Sequence[str]) -> tuple[str, list]:
    clauses: list[str] = []
    values: list[Any] = []
    if since:
        clauses.append(f"{quote(column)} >= %s")
        values.append(since.replace(day=1) if column == "month" else since)
    if accounts:
        clauses.append(f"{quote('account')} in ({', '.join(['%s'] * len(accounts))})")
        values.extend(accounts)
    return "".join(f" and {c}" for c in clauses), values


def read(destination: str, since: Optional[dt.date], accounts: Sequence[str]) -> tuple[list[Figure], list[str]]:
    """The figures whose mart is published (a mart not built yet: a line saying so, no figure)."""

    figures, missing = [], []
    with Warehouse(destination, MARTS, MARTS) as warehouse:  # its failures start with `metrics: `
        tables = warehouse.tables() if warehouse.has_dataset() else set()
        for name, title, unit, table, sql, column in QUERIES:
            if table not in tables:
                missing.append(
                    f"report: {title}: the mart {MARTS}.{table} is not built - run metricsync transform "
                    f"--destination {destination}"
                )
                continue
            where, values = _filters(warehouse.quote, column, since, accounts)
            text = sql.format(table=warehouse.table(table), where=where)
            figure = Figure(name, title, unit)
            for period, account, key, series, value, complete in warehouse.query(text, *values):
                figure.rows.append(
                    {
                        "period": period.date() if isinstance(period, dt.datetime) else period,
                        "account": account or "",
                        "key": key or "",
                        "series": series,
                        "value": value,
                        "complete": bool(complete),
                    }
                )
            figures.append(figure)
    return figures, missing


def last_complete(figure: Figure) -> dict:
    """(account, key, series) -> the newest complete row (the headline beside each chart)."""
    found: dict = {}
    for row in figure.rows:
        if row["complete"]:
            key = (row["account"], row["key"], row["series"])
            if key not in found or row["period"] > found[key]["period"]:
                found[key] = row
    return found
