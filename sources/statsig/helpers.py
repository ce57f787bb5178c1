"""Statsig requests and row shaping (no dlt resources here)."""

import datetime as dt
from typing import Any, Callable, Iterable, Optional
from urllib.parse import quote

import pyarrow as pa
from dlt.common.normalizers.naming.snake_case import NamingConvention

from .._common import ApiClient, ApiError, PageNumberPaginator, Request
from .._common.errors import BadAnswer
from .._common.load.answers import one_per_key, own_fields
from . import settings

VALUE_KEY = ("date", "metric_name", "metric_type", "unit_type")
# Statsig numbers are doubles ("format: double"): float64 keeps each one exactly as sent. Declared
# for the documented fields so an all-integer page cannot make them decimals; other JSON doubles
# are typed double by the shared Arrow inference.
VALUE_TYPES = {
    "date": pa.date32(),
    "metric_name": pa.string(),
    "metric_type": pa.string(),
    "unit_type": pa.string(),
    "value": pa.float64(),
    "numerator": pa.float64(),
    "denominator": pa.float64(),
    "input_rows": pa.float64(),
}

_naming = NamingConvention()
_paginator = PageNumberPaginator()


def base_url(value: str) -> str:
    """The API origin; a base URL given with the `/console/v1` prefix (as in the docs' curl
    examples) is accepted and the prefix dropped, since every endpoint path carries it."""
    url = (value or "").rstrip("/")
    return url[: -len(settings.API_PREFIX)] if url.endswith(settings.API_PREFIX) else url


def is_list_body(body: Any) -> bool:
    """A list page: `data` is a list (or null, read as empty)."""
    return isinstance(body, dict) and "data" in body and isinstance(body["data"] or [], list)


def list_all(client: ApiClient, path: str, endpoint: str, page_size: int, params: Optional[dict] = None) -> list:
    """Every item of a paginated console list, following `pagination.nextPage` until null:

    {"message": "Metric values listed successfully.", "data": [{...}, ...],
     "pagination": {"itemsPerPage": 100, "pageNumber": 1, "totalItems": 5767,
                    "nextPage": "/console/v1/metrics/values?date=2024-02-04&page=2&limit=100",
                    "previousPage": null}}
    """
    first = Request("GET", path, params={**(params or {}), "page": 1, "limit": page_size})
    items: list = []
    for body in client.pages(first, _paginator, endpoint=endpoint, check=is_list_body):
        items.extend(body["data"] or [])
    return items


def source_metrics(client: ApiClient, source: str, page_size: int) -> list[dict]:
    """The metrics of one metric source, each with `metric_source_name`; a 404 names the source."""
    path = settings.SOURCE_METRICS_ENDPOINT.format(name=quote(source, safe=""))
    try:
        items = list_all(client, path, "GET /metrics/metric_source/{name}/metrics", page_size)
    except ApiError as exc:
        if exc.status != 404:
            raise
        raise ApiError(
            "statsig",
            f"GET /metrics/metric_source/{source}/metrics",
            404,
            f"metric source {source!r} not found ({exc.api_message})",
            hint="it was deleted or renamed while syncing; run again",
        ) from None
    where, rows = f"GET /metrics/metric_source/{source}/metrics", []
    for item in items:
        if not isinstance(item, dict):
            raise BadAnswer("statsig", where, None, "data", item, "a row that is not an object")
        rows.append({**own_fields(item, ("metric_source_name",), "statsig", where), "metric_source_name": source})
    return rows


def unique(rows: Iterable[Any], key: Callable[[dict], Any], where: str) -> list[dict]:
    """Dict rows with one row per key: a row repeated as it was across pages that shifted during
    paging is loaded once; two different rows with one key fail the run (exit 3)."""
    return one_per_key(rows, key, "statsig", where)


def definition_key(row: dict) -> Any:
    return row.get("id") or row.get("name")


def source_metric_key(row: dict) -> Any:
    """A metric of a source: the same metric may be listed under two sources (a ratio metric's
    numerator and denominator sources), and is kept under each."""
    return row.get("metric_source_name"), definition_key(row)


def value_rows(day: dt.date, items: list) -> list[dict]:
    """One date of `/metrics/values`, keys in dlt's snake_case (so the merge key names the real
    columns), plus `date`; missing key parts become "" (key columns are never null):

        {"value": 0.2184, "unitType": "userID", "numerator": 1310, "denominator": 5998,
         "metricName": "Checkout Conversion", "metricType": "ratio"}
        -> {"value": 0.2184, "unit_type": "userID", "numerator": 1310, "denominator": 5998,
            "metric_name": "Checkout Conversion", "metric_type": "ratio", "date": day}
    """
    rows, where = [], f"GET /metrics/values date {day}"
    for item in items:
        if not isinstance(item, dict):
            raise BadAnswer("statsig", where, None, "data", item, "a row that is not an object")
        row = {_naming.normalize_identifier(k): v for k, v in own_fields(item, ("date",), "statsig", where).items()}
        if len(row) != len(item):
            raise BadAnswer("statsig", where, None, "data", sorted(item), "two fields with one name in dlt's naming")
        row["date"] = day
        for name in VALUE_KEY[1:]:
            row[name] = "" if row.get(name) is None else str(row[name])
        rows.append(row)
    return unique(rows, lambda r: tuple(r[k] for k in VALUE_KEY), where)


def fetch_date(client: ApiClient, page_size: int, unit: tuple) -> list[dict]:
    """One date of `/metrics/values` (its window is one day), every page of it, as rows."""
    _query, window = unit
    params = {"date": window.start.isoformat()}
    return value_rows(
        window.start, list_all(client, settings.VALUES_ENDPOINT, "GET /metrics/values", page_size, params)
    )


def probe(client: Any, values: dict) -> str:
    """`check`: the metrics list, one item."""
    request = Request("GET", settings.METRICS_ENDPOINT, params={"page": 1, "limit": 1})
    client.request(request, endpoint="GET /metrics/list", check=is_list_body)
    return f"metric values from {values['start_date'] or 'start_date (not set: --from needed)'}"
