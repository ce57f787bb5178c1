"""Whop requests and row shaping (no dlt here)."""

import datetime as dt
import json
from decimal import Decimal
from typing import Any, Optional

import pyarrow as pa

from .._common import MONEY, ApiClient, ApiError, ConfigError, Request, Window, to_date
from .._common.config.values import queries as check_queries
from .._common.errors import BadAnswer
from .._common.http.paginators import Paginator
from .._common.load.answers import api_date, one_per_key, own_fields, present
from .._common.load.periods import PeriodCheck
from .._common.load.windows import latest_period, utc_now, utc_today
from . import settings

WALLET_TYPES = {
    "query_name": pa.string(),
    "period": pa.date32(),
    "currency": pa.string(),
    "amount": MONEY,
    "line_count": pa.int64(),
    "group_by": pa.string(),
    "account_id": pa.string(),
    "reporting_category": pa.string(),
    "grouping": pa.string(),
    "line_category": pa.string(),
    "currency_filter": pa.string(),
    "convert_currency": pa.string(),
    "timezone": pa.string(),
}
WALLET_FIELDS = ("period", "currency", "amount", "line_count")  # a wallet row as the docs give it
METRIC_TYPES = {
    "query_name": pa.string(),
    "period": pa.date32(),
    "breakdown_key": pa.string(),
    "granularity": pa.string(),
}


def wallet_queries(value: Any) -> list[dict]:
    queries = check_queries("whop", "wallet_queries", value, settings.WALLET_QUERY_KEYS)
    for query in queries:
        query.setdefault("group_by", "month")
        if query["group_by"] not in settings.WALLET_GROUP_BY:
            raise ConfigError(
                f"whop: wallet query {query['name']!r} has group_by {query['group_by']!r} - "
                f"use one of {', '.join(settings.WALLET_GROUP_BY)}"
            )
    return queries


def metric_queries(value: Any) -> list[dict]:
    queries = check_queries("whop", "metric_queries", value, settings.METRIC_QUERY_KEYS, required=("resource",))
    for query in queries:
        query.setdefault("granularity", "daily")
        if query["granularity"] not in settings.METRIC_GRANULARITIES:
            raise ConfigError(
                f"whop: metric query {query['name']!r} has granularity {query['granularity']!r} - "
                f"use one of {', '.join(settings.METRIC_GRANULARITIES)}"
            )
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
    params: dict = {
        "resource_type": "wallet",
        "from": window.start.isoformat(),
        "to": min(window.end, today).isoformat(),
        "group_by": query["group_by"],
    }
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
    """Rows of one window; `currency` is the row's, else the conversion target, else the filter:

    {"data": [{"period": "2025-01-01", "currency": "usd", "amount": 14550.35, "line_count": 300}],
     "metadata": {"wallet_id": "ldgr_xxx", "from": "2025-01-01", "to": "2025-06-01", "group_by": "month"}}
    """
    fallback_currency = query.get("convert_currency") or query.get("currency") or ""
    filters = {
        "group_by": query["group_by"],
        "account_id": query.get("account_id"),
        "reporting_category": query.get("reporting_category"),
        "grouping": _joined(query.get("grouping")),
        "line_category": _joined(query.get("line_category")),
        "currency_filter": query.get("currency"),
        "convert_currency": query.get("convert_currency"),
        "timezone": query.get("timezone"),
    }
    rows = []
    where = f"query {query['name']!r}"
    periods = PeriodCheck("whop", query["name"], window, query["group_by"])
    for item in body.get("data") or []:
        if not isinstance(item, dict):
            raise BadAnswer("whop", where, None, "data", item, "a row that is not an object")
        period = api_date(item.get("period"), "whop", where, "period")
        if period == window.end:  # asked for by the inclusive reading of `to`: the next window answers for it
            continue
        if not periods.keep(period):
            continue
        present(item, ("amount", "line_count"), "whop", where, period)
        extra = own_fields(
            {k: v for k, v in item.items() if k not in WALLET_FIELDS}, ("query_name", *filters), "whop", where, period
        )
        rows.append(
            {  # amount and line_count as sent: the Arrow conversion takes them exactly or refuses them
                "query_name": query["name"],
                "period": period,
                "currency": str(item.get("currency") or fallback_currency).lower(),
                "amount": item["amount"],
                "line_count": item["line_count"],
                **filters,
                **extra,
            }
        )
    periods.log()
    return rows


def is_wallet_body(body: Any) -> bool:
    return isinstance(body, dict) and isinstance(body.get("data"), list)


def is_metric_body(body: Any) -> bool:
    return isinstance(body, dict) and "data" in body and isinstance(body.get("data") or [], list)


def metric_request(query: dict, window: Window, now: dt.datetime, array_style: str) -> Optional[Request]:
    """One window of `/stats/metric`: [window start, window end) as UTC date-times, the end
    clamped to now (UTC); None when the window has not begun yet, so `from` < `to` always."""
    start = dt.datetime.combine(window.start, dt.time(), dt.timezone.utc)
    end = min(
        dt.datetime.combine(window.end, dt.time(), dt.timezone.utc),
        now.astimezone(dt.timezone.utc).replace(microsecond=0),
    )
    if end <= start:
        return None
    params: dict = {
        "resource": query["resource"],
        "granularity": query["granularity"],
        "from": f"{window.start.isoformat()}T00:00:00Z",
        "to": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if query.get("breakdowns"):
        _list_param(params, "breakdowns", query["breakdowns"], array_style)
    for key, value in (query.get("filters") or {}).items():
        params[f"filters[{key}]"] = value if not isinstance(value, list) else [str(v) for v in value]
    for key in ("company_id", "user_id"):
        if query.get(key):
            params[key] = query[key]
    return Request("GET", settings.METRIC_ENDPOINT, params=params)


def time_column(query: dict, record: dict) -> str:
    """The column holding the period: `time_column` if set, a usual name, else the first column
    whose value reads as a date."""
    if query.get("time_column"):
        if query["time_column"] not in record:
            raise ApiError(
                "whop",
                settings.METRIC_ENDPOINT,
                200,
                f"no column {query['time_column']!r} in the answer (columns: {list(record)})",
                hint=f"fix time_column in metric query {query['name']!r}",
            )
        return query["time_column"]
    for name in settings.TIME_COLUMNS:
        if name in record:
            return name
    for name, value in record.items():
        try:
            to_date(value)
            return name
        except ConfigError:
            continue
    raise ApiError(
        "whop",
        settings.METRIC_ENDPOINT,
        200,
        f"no time column among {list(record)}",
        hint=f"set time_column in metric query {query['name']!r}",
    )


def metric_records(body: dict, where: str = "GET /stats/metric") -> list[dict]:
    """A page's data rows as objects (rows come as arrays matching `columns`, or as objects):

    {"columns": ["period", "country", "value"], "data": [["2025-01-01T00:00:00Z", "US", 120.5]],
     "pagination": {"next_cursor": "bzoxMDA="}, "node": "receipts.gross_revenue", "typename": "Result"}
    -> [{"period": "2025-01-01T00:00:00Z", "country": "US", "value": 120.5}]
    """
    columns = list(body.get("columns") or [])
    if len(set(map(str, columns))) != len(columns):
        raise BadAnswer("whop", where, None, "columns", columns, "a column named twice")
    records = []
    for item in body.get("data") or []:
        if isinstance(item, list) and len(item) != len(columns):
            raise BadAnswer(
                "whop", where, None, "data", item, f"a row of {len(item)} values for {len(columns)} columns"
            )
        if not isinstance(item, (list, dict)):
            raise BadAnswer("whop", where, None, "data", item, "a row that is neither an array nor an object")
        records.append(dict(zip(columns, item)) if isinstance(item, list) else dict(item))
    return records


def _number(value: Any) -> Optional[Decimal]:
    """A numeric string (`"123.45"`) as its exact Decimal, else None."""
    if not isinstance(value, str):
        return None
    try:
        number = Decimal(value.strip())
    except ArithmeticError:
        return None
    return number if number.is_finite() else None


def dimension_columns(query: dict, records: list[dict], time_col: str) -> list[str]:
    """Every column that tells rows apart: the configured breakdowns and any other column whose
    values are all text, and not all numbers sent as text (e.g. a per-currency column nobody
    asked for), in a stable order."""
    names: dict[str, None] = dict.fromkeys(query.get("breakdowns") or [])
    for record in records:
        names.update(dict.fromkeys(record))
    breakdowns = query.get("breakdowns") or []

    def is_dimension(name: str) -> bool:
        values = [r.get(name) for r in records if r.get(name) is not None]
        return all(isinstance(v, str) for v in values) and not (values and all(_number(v) is not None for v in values))

    return sorted(name for name in names if name != time_col and (name in breakdowns or is_dimension(name)))


def metric_rows(query: dict, records: list[dict], window: Window) -> list[dict]:
    """One row per data row of a whole window, plus `query_name`, the normalised `period` and
    `breakdown_key`: the JSON object of every dimension column (sorted), `{}` when none, so
    rows per currency or per breakdown never share a key; and the query's `granularity`
    (daily/weekly/monthly: what a period spans, for models downstream)."""
    if not records:
        return []
    time_col = time_column(query, records[0])
    dimensions = dimension_columns(query, records, time_col)
    periods = PeriodCheck("whop", query["name"], window, settings.METRIC_GRANULARITIES[query["granularity"]])
    rows, where = [], f"query {query['name']!r}"
    ours = [c for c in ("query_name", "period", "breakdown_key", "granularity") if c != time_col]
    for record in records:
        period = api_date(record.get(time_col), "whop", where, time_col)
        if not periods.keep(period):
            continue
        own_fields(record, ours, "whop", where, period)
        key = json.dumps({k: record.get(k) for k in dimensions}, sort_keys=True)
        values = {
            k: v if k in dimensions or _number(v) is None else _number(v) for k, v in record.items() if k != "period"
        }  # numbers sent as text: exact
        rows.append(
            {
                "query_name": query["name"],
                "period": period,
                "breakdown_key": key,
                **values,
                "granularity": query["granularity"],
            }
        )
    periods.log()
    return rows


def fetch_wallet(client: ApiClient, today: dt.date, array_style: str, unit: tuple) -> list[dict]:
    """A wallet query's window: one request, its rows."""
    query, window = unit
    request = wallet_request(query, window, today, array_style)
    body = client.request(request, endpoint="GET /stats/time_series", check=is_wallet_body, decimal=True)
    return wallet_rows(query, body, window)


def fetch_metric(client: ApiClient, paginator: Paginator, array_style: str, unit: tuple) -> list[dict]:
    """A metric query's window: every page of it, its rows."""
    query, window = unit
    request = metric_request(query, window, utc_now(), array_style)
    if request is None:
        return []
    records: list = []
    for body in client.pages(request, paginator, endpoint="GET /stats/metric", check=is_metric_body, decimal=True):
        records.extend(metric_records(body, f"query {query['name']!r}"))
    return metric_rows(query, records, window)


def schema_rows(body: Any, section: str) -> list[dict]:
    """Definitions of one schema section, keyed by `key`, whether the API lists objects or maps
    keys to objects."""
    items = body.get(section) if isinstance(body, dict) else None
    where = "GET /stats/schema"
    if not isinstance(
        items, (dict, list)
    ):  # a snapshot closes every definition it lacks: never from a malformed answer
        raise BadAnswer(
            "whop",
            where,
            None,
            section,
            items if isinstance(body, dict) else body,
            f"the answer has no {section} list (a snapshot is taken only from a well-formed answer)",
        )
    if isinstance(items, dict):
        return [
            {"key": key, **(value if isinstance(value, dict) else {"value": value})} for key, value in items.items()
        ]
    rows = []
    for item in items:
        if isinstance(item, dict):
            key = item.get("key") or item.get("id") or item.get("slug") or item.get("name")
            rows.append({**item, "key": str(key)})
        else:
            rows.append({"key": str(item)})
    return one_per_key(rows, lambda row: row["key"], "whop", f"{where} {section}")


def probe(client: Any, values: dict) -> str:
    """`check`: one wallet time series request for yesterday (the first wallet query's filters, if
    any), and, when metric queries are configured, the first page of the first one for yesterday."""
    wallet, metrics = wallet_queries(values["wallet_queries"]), metric_queries(values["metric_queries"])
    account_id, company_id = values.get("account_id"), values.get("company_id")  # one account's (accounts)
    metrics = for_account(metrics, "company_id", company_id or (account_id if account_id != "global" else None))
    query = {**(wallet[0] if wallet else {"name": "check"}), "group_by": "day"}
    query = for_account([query], "account_id", account_id or company_id)[0]
    client.request(
        wallet_request(query, latest_period(), utc_today(), values["array_params"]),
        endpoint="GET /stats/time_series",
        check=is_wallet_body,
        decimal=True,
    )
    if metrics:
        request = metric_request(metrics[0], latest_period(), utc_now(), values["array_params"])
        if request is not None:
            client.request(request, endpoint="GET /stats/metric", check=is_metric_body, decimal=True)
    return f"{len(wallet)} wallet + {len(metrics)} metric queries"
