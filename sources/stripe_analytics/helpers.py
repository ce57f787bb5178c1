"""Stripe Analytics query checks, metric_query requests, window splitting and row shaping (no dlt here)."""

import datetime as dt
import functools
import logging
from dataclasses import replace
from typing import Any, Callable, NoReturn, Optional
from urllib.parse import urlsplit

import pendulum
import pyarrow as pa

from .._common import ApiClient, ApiError, ConfigError, PageTokenPaginator, Request, RunControl, Window
from .._common.config.values import queries as check_query_list
from .._common.errors import BadAnswer
from .._common.load.periods import PeriodCheck
from .._common.load.prefetch import note as note_fetched
from .._common.load.spool import Spool
from .._common.load.windows import latest_period, next_period, period_start, utc_now
from . import settings

logger = logging.getLogger("metricsync.stripe_analytics")

PROVIDER = "stripe_analytics"
RESULTS_TABLE = "metric_results"  # the windowed table (`__init__.RESULTS`)
UTC = dt.timezone.utc
TYPES = {
    "query_name": pa.string(),
    "period": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "timezone": pa.string(),
    "metric": pa.string(),
    "name": pa.string(),
    "value": pa.int64(),
    "currency": pa.string(),
    "dimension_name": pa.string(),
    "dimension_value": pa.string(),
    "interval": pa.string(),
    "livemode": pa.bool_(),
    "refreshed_at": pa.timestamp("us", tz="UTC"),
}


# -- configuration ----------------------------------------------------------------------------
def check_timezone(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{PROVIDER}: {where} must be an IANA time zone name such as America/New_York")
    if len(value) > settings.MAX_TIMEZONE_CHARS:
        raise ConfigError(
            f"{PROVIDER}: {where} is longer than {settings.MAX_TIMEZONE_CHARS} characters - "
            "use an IANA time zone name such as America/New_York"
        )
    try:
        pendulum.timezone(value)
    except (ValueError, OSError):
        raise ConfigError(
            f"{PROVIDER}: {where} {value!r} is not an IANA time zone (for example UTC or America/New_York)"
        ) from None
    return value


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _check_metrics(metrics: Any, fail: Callable[[str], NoReturn]) -> list[dict]:
    if not isinstance(metrics, list) or not metrics:
        fail('needs at least one metric - set metrics to a list like [{"id": "metric_..."}]')
    for metric in metrics:
        if not isinstance(metric, dict) or set(metric) - set(settings.METRIC_KEYS):
            fail(f'has metric {metric!r} - each metric is an object with "id" and/or "name"')
        if not any(isinstance(metric.get(k), str) and metric[k].strip() for k in settings.METRIC_KEYS):
            fail(f"has metric {metric!r} without an id or a name - give at least one of them")
    return [{k: m[k] for k in settings.METRIC_KEYS if m.get(k)} for m in metrics]


def _check_filters(filters: Any, fail: Callable[[str], NoReturn]) -> dict:
    if not isinstance(filters, dict):
        fail('has filters that are not an object - use {"dimension": ["value", ...]}')
    if len(filters) > settings.MAX_FILTER_KEYS:
        fail(f"filters on {len(filters)} dimensions - the API allows at most {settings.MAX_FILTER_KEYS}")
    checked = {}
    for key, values in filters.items():
        values = _as_list(values)
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
            fail(f"has filter {key!r} that is not a non-empty list of dimension values")
        if len(values) > settings.MAX_FILTER_VALUES:
            fail(f"filters {key!r} on {len(values)} values - the API allows at most {settings.MAX_FILTER_VALUES}")
        checked[key] = values
    return checked


def _check_query(query: dict, default_timezone: str) -> dict:
    name = query["name"]

    def fail(problem: str) -> NoReturn:
        raise ConfigError(f"{PROVIDER}: query {name!r} {problem} (sources.{PROVIDER}.queries)")

    checked = {"name": name, "metrics": _check_metrics(query.get("metrics"), fail)}
    interval = query.get("interval")
    if interval not in settings.INTERVALS:
        fail(f"has interval {interval!r} - use one of {', '.join(settings.INTERVALS)}")
    checked["interval"] = interval
    group_by = _as_list(query.get("group_by") or [])
    if not isinstance(group_by, list) or not all(isinstance(g, str) and g for g in group_by):
        fail('has group_by that is not a list of dimension names, like ["price"]')
    if len(group_by) > settings.MAX_GROUP_BY:
        fail(f"groups by {len(group_by)} dimensions - the API allows at most {settings.MAX_GROUP_BY}")
    checked["group_by"] = group_by
    checked["filters"] = _check_filters(query.get("filters") or {}, fail)
    checked["timezone"] = check_timezone(query.get("timezone") or default_timezone, f"query {name!r} timezone")
    currency = query.get("currency")
    if currency is not None and not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
        fail(f"has currency {currency!r} - use a three-letter ISO code such as usd")
    checked["currency"] = currency.lower() if currency else None
    return checked


def check_queries(value: Any, default_timezone: str) -> list[dict]:
    """The configured queries, each checked against the documented limits before any request."""
    listed = check_query_list(PROVIDER, "queries", value, settings.QUERY_KEYS)
    return [_check_query(query, default_timezone) for query in listed]


def max_periods(value: Any) -> dict:
    """Periods per request by interval: the defaults, overridden by `{"day": 60, ...}`."""
    overrides = value or {}
    if not isinstance(overrides, dict) or set(overrides) - set(settings.INTERVALS):
        raise ConfigError(
            f'{PROVIDER}: max_periods must be an object like {{"day": 30, "week": 26}} '
            f"with keys among {', '.join(settings.INTERVALS)}"
        )
    merged = {**settings.MAX_PERIODS, **overrides}
    for interval, periods in merged.items():
        if not isinstance(periods, int) or isinstance(periods, bool) or periods < 1:
            raise ConfigError(f"{PROVIDER}: max_periods.{interval} must be an integer >= 1, got {periods!r}")
    return merged


# -- requests ---------------------------------------------------------------------------------
def _utc_text(instant: dt.datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def window_range(window: Window, timezone: str, now: dt.datetime) -> Optional[tuple[str, str]]:
    """`starts_at`/`ends_at` of a window: its first and end dates at 00:00 in the query's time
    zone, the end clamped to `now` minus a few seconds; None when the window has not started
    yet there (the machine's today can be ahead of the query's time zone)."""
    start = pendulum.datetime(window.start.year, window.start.month, window.start.day, tz=timezone)
    end = pendulum.datetime(window.end.year, window.end.month, window.end.day, tz=timezone)
    latest = now - dt.timedelta(seconds=settings.CLOCK_SKEW_SECONDS)
    end = min(end, latest)
    if end <= start:
        return None
    return _utc_text(start), _utc_text(end)


def check_first_day(queries: list[dict], day: Optional[dt.date], setting: str) -> None:
    """Every query's first window (`day` aligned to its interval) begins at a representable instant
    in its time zone: 0001-01-01 00:00 in Asia/Tokyo lies before year 1 in UTC (exit 2, one line)."""
    for query in queries if day else []:
        start = period_start(day, query["interval"])  # type: ignore[arg-type]  # day is set: the loop is empty otherwise
        try:
            pendulum.datetime(start.year, start.month, start.day, tz=query["timezone"]).astimezone(UTC)
        except (OverflowError, ValueError):
            raise ConfigError(
                f"{PROVIDER}: query {query['name']!r}: {setting} {day} starts its first {query['interval']} "
                f"on {start}, before year 1 in {query['timezone']} - use a later {setting}"
            ) from None


def form_pairs(body: dict) -> list[tuple[str, str]]:
    """A JSON body as Stripe's form encoding: `metrics[0][id]`, `filters[price][0]`, `group_by[0]`."""
    pairs: list[tuple[str, str]] = []

    def add(key: str, value: Any) -> None:
        if isinstance(value, dict):
            for sub, item in value.items():
                add(f"{key}[{sub}]", item)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                add(f"{key}[{index}]", item)
        else:
            pairs.append((key, str(value)))

    for key, value in body.items():
        add(key, value)
    return pairs


def metric_request(query: dict, window: Window, now: dt.datetime, encoding: str) -> Optional[Request]:
    """The first page's request for one window (JSON body, or form-encoded), None if the window
    lies entirely after `now`."""
    instants = window_range(window, query["timezone"], now)
    if instants is None:
        return None
    body: dict = {
        "metrics": query["metrics"],
        "starts_at": instants[0],
        "ends_at": instants[1],
        "interval": query["interval"],
    }
    for key in ("currency", "timezone", "filters", "group_by"):
        if query.get(key):
            body[key] = query[key]
    body["limit"] = settings.LIMIT
    if encoding == "form":
        return Request("POST", settings.ENDPOINT, form=form_pairs(body))
    return Request("POST", settings.ENDPOINT, json=body)


class MetricQueryPaginator(PageTokenPaginator):
    """Stripe v2 `next_page_url` (documented as always null for now):

        {"object": "v2.data.analytics.metric_query", "next_page_url": "/v2/data/analytics/metric_query?page=pg_2",
         "previous_page_url": null, "data": [...]}

    The next page is the same query with its `page` token in the body, posted to the path and
    query of `next_page_url` (so an API reading the token from either place gets it) below the
    configured base URL, so the key only ever goes there.
    """

    def next_request(self, request: Request, body: Any) -> Optional[Request]:
        following = super().next_request(request, body)
        link = body.get(self.url_field) if isinstance(body, dict) else None
        if following is None or not link:
            return following
        parts = urlsplit(str(link))
        return replace(following, url=parts.path + (f"?{parts.query}" if parts.query else ""))


def is_metric_query_body(body: Any) -> bool:
    """A page with its `data` list (null read as empty); a 200 without it (`{"status": "maintenance"}`)
    is not an empty answer, which would delete the window's stored rows."""
    return isinstance(body, dict) and "data" in body and isinstance(body["data"] or [], list)


# -- window splitting and errors --------------------------------------------------------------
class Truncated(Exception):
    """A page held `limit` rows and named no next page: the answer was cut, the window must shrink."""


def check_complete(body: dict, following: Any, paged: bool) -> None:
    """Raise `Truncated` for a full page that names no next page when no page of the window did
    (the docs: `next_page_url` "Currently returns null", `limit` at most 1000), so no window ever
    loads a cut answer. An API that paginates (`paged`: an earlier page named a next one) ends
    with a null link, and a full last page is then just full."""
    if following is None and not paged and len(body.get("data") or []) >= settings.LIMIT:
        raise Truncated()


def is_range_too_long(exc: ApiError) -> bool:
    message = (exc.api_message or "").lower()
    return exc.code == settings.RANGE_ERROR and any(w in message for w in settings.RANGE_TOO_LONG_WORDS)


def split_window(window: Window, interval: str) -> list[Window]:
    """Two halves of `window` at a period boundary, or [] for a window of a single period."""
    starts, cursor = [], window.start
    while cursor < window.end:
        starts.append(cursor)
        cursor = next_period(cursor, interval)
    if len(starts) < 2:
        return []
    middle = starts[len(starts) // 2]
    return [Window(window.start, middle), Window(middle, window.end)]


def fetch_split(window: Window, query: dict, fetch_one: Callable[[Window], Spool]) -> Spool:
    """`fetch_one(window)`, or the same for both halves of the window (recursively) when the API
    finds the range longer than its maximum for the interval, or cut its answer at `limit` rows.
    A single period that still fills a page fails the query: its rows cannot all be had."""
    try:
        return fetch_one(window)
    except ApiError as exc:
        halves = split_window(window, query["interval"]) if is_range_too_long(exc) else []
        if not halves:
            raise
        reason = "is too long for the API"
    except Truncated:
        halves = split_window(window, query["interval"])
        if not halves:
            raise ApiError(
                PROVIDER,
                f"query {query['name']!r}",
                200,
                f"the API returned its maximum of {settings.LIMIT} rows for the single {query['interval']} "
                f"starting {window.start} and no next page, so rows are missing",
                hint="add filters or group_by a coarser dimension (e.g. price instead of customer)",
            ) from None
        reason = f"returned a full page of {settings.LIMIT} rows and no next page"
    logger.info("%s: query %r: window %s %s, splitting it", PROVIDER, query["name"], window, reason)
    return Spool.join([fetch_split(half, query, fetch_one) for half in halves])


def fetch_window(
    client: ApiClient,
    paginator: "MetricQueryPaginator",
    control: RunControl,
    encoding: str,
    query: dict,
    window: Window,
) -> Spool:
    """A query's window, every page of it as Arrow (`control.converters`: page by page, a long
    window is never a dict per row), waiting on disk for the load (a long window is ~150 pages)."""
    spool = Spool()
    request = metric_request(query, window, utc_now(), encoding)
    if request is None:
        return spool
    to_arrow = control.converters[RESULTS_TABLE]
    paged = False
    for body in client.pages(request, paginator, endpoint=settings.ENDPOINT_NAME, check=is_metric_query_body):
        check_complete(body, paginator.next_request(request, body), paged=paged)
        page = to_arrow.columns(result_columns(query, body, window))
        note_fetched(page.nbytes)  # counted against the bytes held ahead, in memory or spooled
        spool.add(page)
        paged = True
    return spool


def query_error(query: dict, exc: ApiError) -> ApiError:
    """The same error, one line naming the query (the client already hid the key)."""
    if isinstance(exc, BadAnswer):
        return BadAnswer(PROVIDER, f"query {query['name']!r}", exc.period, exc.field, exc.value, exc.problem)
    hint = exc.hint or f"check query {query['name']!r} in sources.{PROVIDER}.queries"
    return type(exc)(
        PROVIDER,
        f"query {query['name']!r}",
        exc.status,
        exc.api_message,
        code=exc.code,
        request_id=exc.request_id,
        hint=hint,
    )


# -- rows -------------------------------------------------------------------------------------
def _instant(value: Any, field: str) -> dt.datetime:
    """An instant the API sent (ISO text or epoch seconds) in UTC; one that is no instant, or
    that lies outside the years 1 to 9999, fails the query (exit 3)."""
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return dt.datetime.fromtimestamp(value, UTC)
        parsed = dt.datetime.fromisoformat(str(value))
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        raise BadAnswer(PROVIDER, settings.ENDPOINT_NAME, None, field, value, "not a timestamp") from None


def bucket_day(bucket: dt.datetime, timezone: str) -> dt.date:
    """The day a bucket starts on in the query's time zone, rounded to the nearest midnight, so a
    bucket labelled at local midnight (`05:00Z` for New York) or at UTC midnight gives the same day."""
    local = pendulum.instance(bucket).in_timezone(timezone).add(hours=12)
    return dt.date(local.year, local.month, local.day)


@functools.lru_cache(maxsize=4096)
def _bucket(value: Any, timezone: str) -> tuple[dt.datetime, dt.date]:
    """(bucket start in UTC, its day in `timezone`): parsed once per distinct label, not per row
    (a page grouped by customer repeats each day's label on every row)."""
    bucket = _instant(value, "timestamp")
    try:
        return bucket, bucket_day(bucket, timezone)
    except (ValueError, OverflowError):  # a bucket at the end of year 9999 in a time zone east of UTC
        raise BadAnswer(PROVIDER, settings.ENDPOINT_NAME, None, "timestamp", value, "not a bucket's start") from None


def _dimensions(dimensions: dict) -> tuple[str, str]:
    """(names, values) of a row's dimensions, each joined by commas (a missing value as "")."""
    if len(dimensions) == 1:  # the usual case (at most one group_by), without the joins
        ((name, value),) = dimensions.items()
        return str(name), value if type(value) is str else "" if value is None else str(value)
    return ",".join(map(str, dimensions)), ",".join(["" if v is None else str(v) for v in dimensions.values()])


def result_columns(query: dict, body: dict, window: Window) -> dict[str, list]:
    """One row per (data row x result) of one page, as columns (name -> values; none for a page
    without rows), buckets outside `window` dropped; `period` is the bucket's first day in the
    query's time zone:

        {"livemode": false, "refreshed_at": "2026-03-03T02:34:15Z", "next_page_url": null,
         "data": [{"id": "row_abc123", "timestamp": "2026-03-01T00:00:00Z", "dimensions": {"price": "price_HG4j"},
                   "results": [{"metric": "metric_61Sud3n5oAGVCWiSr5", "name": "mrr_minor_units",
                                "currency": "usd", "value": 9000}]}]}
        -> {"query_name": [...], "period": [2026-03-01], "timestamp": [2026-03-01 00:00 UTC], "timezone": ["UTC"],
            "metric": ["metric_61Sud3n5oAGVCWiSr5"], "name": ["mrr_minor_units"], "value": [9000], "currency": ["usd"],
            "dimension_name": ["price"], "dimension_value": ["price_HG4j"], "interval": ["day"], "livemode": [False],
            "refreshed_at": [...]}

    Columns, not a dict per row: a page grouped by customer has a thousand rows.
    """
    refreshed = _instant(body["refreshed_at"], "refreshed_at") if body.get("refreshed_at") else None
    timezone = query["timezone"]
    periods = PeriodCheck(PROVIDER, query["name"], window, query["interval"])
    days, buckets, metrics, names, values, currencies, dimension_names, dimension_values = ([] for _ in range(8))
    for item in body.get("data") or []:
        bucket, period = _bucket(item.get("timestamp"), timezone)
        if not periods.keep(period):
            continue
        dimension_name, dimension_value = _dimensions(item.get("dimensions") or {})
        for result in item.get("results") or []:
            days.append(period)
            buckets.append(bucket)
            metrics.append(str(result.get("metric") or result.get("name") or ""))
            names.append(result.get("name"))
            values.append(result.get("value"))  # an integer: the Arrow conversion takes it exactly or refuses it
            currencies.append(result.get("currency"))
            dimension_names.append(dimension_name)
            dimension_values.append(dimension_value)
    periods.log()
    count = len(days)
    if not count:
        return {}
    return {
        "query_name": [query["name"]] * count,
        "period": days,
        "timestamp": buckets,
        "timezone": [timezone] * count,
        "metric": metrics,
        "name": names,
        "value": values,
        "currency": currencies,
        "dimension_name": dimension_names,
        "dimension_value": dimension_values,
        "interval": [query["interval"]] * count,
        "livemode": [body.get("livemode")] * count,
        "refreshed_at": [refreshed] * count,
    }


def probe(client: Any, values: dict) -> str:
    """`check`: a metric query of the first query over its latest whole period (one bucket)."""
    queries = check_queries(values["queries"], check_timezone(values["default_timezone"], "default_timezone"))
    query = queries[0]
    request = metric_request(query, latest_period(query["interval"]), utc_now(), values["body_encoding"])
    if request is not None:  # None only when the period has not started in the query's time zone
        client.request(request, endpoint=settings.ENDPOINT_NAME, check=is_metric_query_body)
    return f"{len(queries)} queries"
