"""Whop requests and row shaping (no dlt here)."""

import datetime as dt
import json
from decimal import Decimal
from typing import Any, Optional

import pyarrow as pa

from .._common import ApiError, ConfigError, MONEY, Request, Window, to_date
from .._common.config import queries as check_queries
from .._common.resource import in_window
from . import settings

WALLET_TYPES = {
    "query_name": pa.string(), "period": pa.date32(), "currency": pa.string(), "amount": MONEY,
    "line_count": pa.int64(), "group_by": pa.string(), "account_id": pa.string(),
    "reporting_category": pa.string(), "grouping": pa.string(), "line_category": pa.string(),
    "currency_filter": pa.string(), "convert_currency": pa.string(), "timezone": pa.string(),
}
METRIC_TYPES = {"query_name": pa.string(), "period": pa.date32(), "breakdown_key": pa.string()}


def wallet_queries(value: Any) -> list[dict]:
    queries = check_queries("whop", "wallet_queries", value, settings.WALLET_QUERY_KEYS)
    for query in queries:
        query.setdefault("group_by", "month")
        if query["group_by"] not in settings.WALLET_GROUP_BY:
            raise ConfigError(f"whop: wallet query {query['name']!r} has group_by {query['group_by']!r} - "
                              f"use one of {', '.join(settings.WALLET_GROUP_BY)}")
    return queries


def metric_queries(value: Any) -> list[dict]:
    queries = check_queries("whop", "metric_queries", value, settings.METRIC_QUERY_KEYS, required=("resource",))
    for query in queries:
        query.setdefault("granularity", "daily")
        if query["granularity"] not in settings.METRIC_GRANULARITIES:
            raise ConfigError(f"whop: metric query {query['name']!r} has granularity {query['granularity']!r} - "
                              f"use one of {', '.join(settings.METRIC_GRANULARITIES)}")
        if not isinstance(query.get("breakdowns", []), list):
            raise ConfigError(f"whop: metric query {query['name']!r}: breakdowns must be a list of column names")
        if not isinstance(query.get("filters", {}), dict):
            raise ConfigError(f"whop: metric query {query['name']!r}: filters must be an object")
    return queries


def for_account(queries: list[dict], param: str, value: Optional[str]) -> list[dict]:
    """Queries with the account's `param` (e.g. `account_id`) where they do not set their own."""
    if not value:
        return queries
    return [{**query, param: query.get(param) or str(value)} for query in queries]


def _list_param(params: dict, name: str, values: Any, array_style: str) -> None:
    values = values if isinstance(values, list) else [values]
    params[f"{name}[]" if array_style == "brackets" else name] = [str(v) for v in values]


def wallet_request(query: dict, window: Window, today: dt.date, array_style: str) -> Request:
    """One window of `/stats/time_series`. `to` is read as inclusive (docs: "2025-12-31"); the
    window's end day is sent too and rows outside the window are dropped, so either reading of
    `to` gives whole periods."""
    params: dict = {"resource_type": "wallet", "from": window.start.isoformat(),
                    "to": min(window.end, today).isoformat(), "group_by": query["group_by"]}
    for key in ("account_id", "reporting_category", "currency", "convert_currency", "timezone"):
        if query.get(key):
            params[key] = str(query[key])
    for key in ("grouping", "line_category"):
        if query.get(key):
            _list_param(params, key, query[key], array_style)
    return Request("GET", settings.WALLET_ENDPOINT, params=params)


def _joined(value: Any) -> Optional[str]:
    if value in (None, "", []):
        return None
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def wallet_rows(query: dict, body: dict, window: Window) -> list[dict]:
    """Rows of one window; `currency` is the row's, else the conversion target, else the filter."""
    fallback_currency = query.get("convert_currency") or query.get("currency") or ""
    filters = {
        "group_by": query["group_by"], "account_id": query.get("account_id"),
        "reporting_category": query.get("reporting_category"), "grouping": _joined(query.get("grouping")),
        "line_category": _joined(query.get("line_category")), "currency_filter": query.get("currency"),
        "convert_currency": query.get("convert_currency"), "timezone": query.get("timezone"),
    }
    rows = []
    for item in body.get("data") or []:
        period = to_date(item.get("period"), "whop", "period")
        if not in_window(period, window):
            continue
        extra = {k: v for k, v in item.items() if k not in ("period", "currency", "amount", "line_count")}
        rows.append({
            "query_name": query["name"], "period": period,
            "currency": str(item.get("currency") or fallback_currency).lower(),
            "amount": Decimal(str(item.get("amount", 0))), "line_count": int(item.get("line_count") or 0),
            **filters, **extra,
        })
    return rows


def is_wallet_body(body: Any) -> bool:
    return isinstance(body, dict) and isinstance(body.get("data"), list)


def is_metric_body(body: Any) -> bool:
    return isinstance(body, dict) and "data" in body and isinstance(body.get("data") or [], list)


def metric_request(query: dict, window: Window, now: dt.datetime, array_style: str) -> Request:
    """One window of `/stats/metric`: [window start, window end) as UTC date-times, the end
    clamped to now."""
    end = min(dt.datetime.combine(window.end, dt.time(), dt.timezone.utc), now.replace(microsecond=0))
    params: dict = {"resource": query["resource"], "granularity": query["granularity"],
                    "from": f"{window.start.isoformat()}T00:00:00Z", "to": end.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if query.get("breakdowns"):
        _list_param(params, "breakdowns", query["breakdowns"], array_style)
    for key, value in (query.get("filters") or {}).items():
        params[f"filters[{key}]"] = value if not isinstance(value, list) else [str(v) for v in value]
    for key in ("company_id", "user_id"):
        if query.get(key):
            params[key] = query[key]
    return Request("GET", settings.METRIC_ENDPOINT, params=params)


def time_column(query: dict, columns: list, first: Any) -> str:
    if query.get("time_column"):
        return query["time_column"]
    for name in settings.TIME_COLUMNS:
        if name in columns:
            return name
    record = dict(zip(columns, first)) if isinstance(first, list) else (first or {})
    for name, value in record.items():
        try:
            to_date(value)
            return name
        except ConfigError:
            continue
    raise ApiError("whop", settings.METRIC_ENDPOINT, 200, f"no time column among {columns}",
                   hint=f"set time_column in metric query {query['name']!r}")


def metric_rows(query: dict, body: dict, window: Window) -> list[dict]:
    """One row per data row (arrays matching `columns`, or objects), plus `query_name`, the
    normalised `period` and `breakdown_key` (the breakdown values as JSON) for the merge key."""
    columns = list(body.get("columns") or [])
    data = body.get("data") or []
    if not data:
        return []
    time_col = time_column(query, columns, data[0])
    breakdowns = list(query.get("breakdowns") or [])
    rows = []
    for item in data:
        record = dict(zip(columns, item)) if isinstance(item, list) else dict(item)
        period = to_date(record.get(time_col), "whop", time_col)
        if not in_window(period, window):
            continue
        keys = breakdowns if all(b in record for b in breakdowns) else [
            k for k, v in record.items() if k != time_col and isinstance(v, str)]
        rows.append({"query_name": query["name"], "period": period,
                     "breakdown_key": json.dumps([record.get(k) for k in keys]),
                     **{k: v for k, v in record.items() if k not in ("query_name", "period", "breakdown_key")}})
    return rows


def schema_rows(body: Any, section: str) -> list[dict]:
    """Definitions of one schema section, keyed by `key`, whether the API lists objects or maps
    keys to objects."""
    items = body.get(section) if isinstance(body, dict) else None
    if isinstance(items, dict):
        return [{"key": key, **(value if isinstance(value, dict) else {"value": value})} for key, value in items.items()]
    rows = []
    for item in items or []:
        if isinstance(item, dict):
            key = item.get("key") or item.get("id") or item.get("slug") or item.get("name")
            rows.append({**item, "key": str(key)})
        else:
            rows.append({"key": str(item)})
    return rows
