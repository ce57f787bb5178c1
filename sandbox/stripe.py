"""Stripe Analytics emulator: `POST /v2/data/analytics/metric_query`.

Written from `stripe-analytics-metric-query.md`: JSON or form-encoded bodies, the documented
validation errors (status, code, message in Stripe's v2 error shape), the "never in the future"
rule, `ends_at` exclusive. Where the docs are silent it picks one reading: a bucket holds the days
(in the request's time zone) whose midnight lies in [starts_at, ends_at), so a range that cuts a
period gives a partial sum for it; weeks start on Monday; buckets are labelled by their start as a
UTC `Z` timestamp; the maximum range per interval is the `max_range_days` setting.

Where the docs are literal, the default is the literal behaviour: `next_page_url` is always null
and an answer is cut at `limit` rows (at most 1000). Other plausible readings are switches:
`pagination` (pages of `page_size` rows with `next_page_url` carrying a `page` token, read from the
body or the URL), `bucket_labels` (`local`: a bucket is labelled by its local midnight; `utc`: by
UTC midnight of its date), `require_version` (refuse a request without `Stripe-Version`),
`customers` (how many customers the data has), `result_names` (a metric renamed), `fixed_values` (every money result in a
currency has one value, e.g. 99,013 ISK minor units), `revision_deletes` (a revised day loses the
customers whose hash says so: a refunded customer's MRR row disappears).

Accounts: each connected account (`Stripe-Account` header) has numbers of its own; a request
without the header gets the default data.
"""

import base64
import datetime as dt
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass
from itertools import product
from typing import Any, Optional
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .base import Emulator
from .data import DATA_START, number
from .messages import Response, SandboxRequest

ENDPOINT = "/v2/data/analytics/metric_query"
UTC = dt.timezone.utc


@dataclass(frozen=True)
class Metric:
    id: str
    name: str  # common name: namespace.metric
    result_name: str
    monetary: bool
    live_only: bool = False
    restricted: bool = False

    @property
    def namespace(self) -> str:
        return self.name.split(".", 1)[0]


METRICS = (
    Metric("metric_61Sud3n5oAGVCWiSr5", "revenue.mrr", "mrr_minor_units", True),
    Metric("metric_61T01fRjnqbdNuZZ85", "revenue.discounts", "discounts_minor_units", True),
    Metric("metric_61T01fRjnJIJjie353", "revenue.credits", "credits_minor_units", True, restricted=True),
    Metric("metric_61T01fR3j4kfJIbns6", "revenue.usage_revenue", "usage_revenue_minor_units", True, live_only=True),
    Metric("metric_61SubCnt7QwErTyUi9", "subscriptions.active_count", "active_subscriptions", False),
)
BY_ID = {m.id: m for m in METRICS}
BY_NAME = {m.name: m for m in METRICS}
PRICES = {"price_HG4jxINMyHorkI": "prod_basic", "price_HG4UtyJbuJIsVt": "prod_basic", "price_1Pro9x1Kq2LmN": "prod_pro"}


def customers(count: int) -> list[str]:
    return [f"cus_{1001 + i}" for i in range(count)]


def combos(namespace: str, count: int) -> list[dict]:
    """The finest combinations of a namespace's dimensions for `count` customers; a result sums
    the matching ones."""
    if namespace == "revenue":
        return [{"price": p, "customer": c, "product": PRICES[p]} for p, c in product(PRICES, customers(count))]
    return [{"product": p, "customer": c} for p, c in product(sorted(set(PRICES.values())), customers(count))]


INTERVALS = ("day", "week", "month", "year")
RATE_LIMIT_MESSAGES = {
    "metric_query_rate_limit_exceeded": "Too many metric queries per second.",
    "metric_query_concurrency_limit_exceeded": "Too many concurrent metric queries.",
    "metric_query_metric_rate_limit_exceeded": "Too many queries per second for this specific metric.",
    "metric_query_metric_concurrency_limit_exceeded": "Too many concurrent queries for this specific metric.",
}
TIME_RANGE_MESSAGE = "Invalid time range: `starts_at` must be less than `ends_at`, and neither can be in the future."
TOO_LONG_MESSAGE = "Time range exceeds the maximum allowed for the specified interval."


class Invalid(Exception):
    """A request the API rejects: becomes a Stripe v2 error body."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _period_start(day: dt.date, interval: str) -> dt.date:
    if interval == "week":
        return day - dt.timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    if interval == "year":
        return day.replace(month=1, day=1)
    return day


def parse_form(text: str) -> dict:
    """`metrics[0][id]=m&filters[price][0]=p` -> {"metrics": [{"id": "m"}], "filters": {"price": ["p"]}}."""
    root: dict = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if parts:
            node[parts[-1]] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {k: _listify(v) for k, v in node.items()}
    if items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items


def _instant(value: Any, name: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise Invalid(400, "metric_invalid_time_range", f"`{name}` must be an RFC 3339 timestamp.") from None
    if parsed.tzinfo is None:
        raise Invalid(400, "metric_invalid_time_range", f"`{name}` must include a time zone offset.")
    return parsed


def _zulu(instant: dt.datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _query_digest(params: dict) -> str:
    text = json.dumps({k: v for k, v in params.items() if k != "page"}, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


class StripeEmulator(Emulator):
    name = "stripe_analytics"
    prefix = "/v2/"
    api_key = "sk_test_sandbox_stripe"
    default_settings = {
        "page_size": 1000,  # rows per page (the request's `limit` can only lower it)
        "pagination": False,  # docs: next_page_url "Currently returns null" - answers are cut at `limit`
        "bucket_labels": "local",  # or "utc": buckets labelled at UTC midnight of their local date
        "require_version": False,  # refuse requests without a Stripe-Version header
        "customers": 4,
        "revision_deletes": False,  # a revised day drops every third customer (by hash)
        "max_range_days": {"day": 92, "week": 731, "month": 1830, "year": 3660},
        "account_timezone": "UTC",
        "account_currency": "usd",
        "max_concurrent": None,  # above this many requests in flight: 429 concurrency_limit_exceeded
        "latency": 0.0,  # seconds each request is held (counted as in flight)
        "throttle": [],  # 429 codes answered, one per request, before serving normally
        "result_names": {},  # metric id -> the result name it is answered under (a rename upstream)
        "fixed_values": {},  # currency -> the minor-unit value of every money result in it (e.g. {"isk": 99013})
    }

    def __init__(self, sandbox: Any) -> None:
        super().__init__(sandbox)
        self._lock = threading.Lock()
        self.in_flight = 0
        self.peak_in_flight = 0

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.in_flight = self.peak_in_flight = 0

    def demo_settings(self, sandbox_url: str) -> dict:
        return {
            "api_key": self.api_key,
            "base_url": sandbox_url,
            "start_date": "2026-01-01",
            "requests_per_second": 50,
            "queries": [
                {
                    "name": "mrr_by_price",
                    "metrics": [{"id": "metric_61Sud3n5oAGVCWiSr5"}],
                    "interval": "day",
                    "currency": "usd",
                    "group_by": ["price"],
                },
                {
                    "name": "revenue_weekly",
                    "metrics": [{"name": "revenue.mrr"}, {"name": "revenue.discounts"}],
                    "interval": "week",
                    "currency": "eur",
                },
                {
                    "name": "subscriptions_monthly_ny",
                    "metrics": [{"id": "metric_61SubCnt7QwErTyUi9"}],
                    "interval": "month",
                    "timezone": "America/New_York",
                    "group_by": ["product"],
                },
            ],
        }

    # -- the data --------------------------------------------------------------------------
    def daily_value(
        self, metric: Metric, currency: Optional[str], day: dt.date, combo: dict, account: Optional[str] = None
    ) -> int:
        """One metric's value for one day and one finest dimension combination, of the connected
        `account` (the `Stripe-Account` header; None = the platform, the default data)."""
        key = tuple(sorted(combo.items()))
        salt = (account,) if account else ()
        if metric.monetary:
            return number("stripe", metric.id, currency, day, key, self.revision(day), *salt, modulo=50_000)
        return number("stripe", metric.id, day, key, self.revision(day), *salt, modulo=40)

    def series(
        self,
        metrics: list,
        interval: str,
        timezone: str,
        start: dt.datetime,
        end: dt.datetime,
        group_by: Optional[list] = None,
        filters: Optional[dict] = None,
        currency: Optional[str] = None,
        account: Optional[str] = None,
    ) -> list[dict]:
        """The `data` rows for [start, end) of `account` (None = no `Stripe-Account`): one per
        bucket (and group), sorted."""
        metrics = [m if isinstance(m, Metric) else self._metric(m) for m in metrics]
        zone, group, filters = ZoneInfo(timezone), (group_by or [None])[0], filters or {}
        currency = (currency or self.settings["account_currency"]).lower()
        matching = [
            c
            for c in combos(metrics[0].namespace, self.settings["customers"])
            if all(c[k] in v for k, v in filters.items())
        ]
        totals: dict[tuple, dict] = {}
        day = start.astimezone(zone).date()
        while dt.datetime.combine(day, dt.time(), zone) < end:
            if dt.datetime.combine(day, dt.time(), zone) >= start and day >= DATA_START:
                bucket = _period_start(day, interval)
                for combo in self._present(matching, day):
                    values = totals.setdefault((bucket, combo[group] if group else ""), {})
                    for metric in metrics:
                        values[metric.id] = values.get(metric.id, 0) + self.daily_value(
                            metric, currency, day, combo, account
                        )
            day += dt.timedelta(days=1)
        rows = []
        for (bucket, value), results in sorted(totals.items()):
            label_zone = UTC if self.settings["bucket_labels"] == "utc" else zone
            stamp = _zulu(dt.datetime.combine(bucket, dt.time(), label_zone))
            rows.append(
                {
                    "id": "row_" + hashlib.blake2b(f"{stamp}|{value}".encode(), digest_size=6).hexdigest(),
                    "timestamp": stamp,
                    "dimensions": {group: value} if group else None,
                    "results": [
                        {
                            "metric": m.id,
                            "name": self.settings["result_names"].get(m.id, m.result_name),
                            "currency": currency if m.monetary else None,
                            "value": self._value(m, currency, results[m.id]),
                        }
                        for m in metrics
                    ],
                }
            )
        return rows

    def _value(self, metric: Metric, currency: str, value: int) -> int:
        return self.settings["fixed_values"].get(currency, value) if metric.monetary else value

    def _present(self, matching: list[dict], day: dt.date) -> list[dict]:
        """The combinations with data on `day`: with `revision_deletes`, a revised day loses every
        customer whose hash with the revision is 0 mod 3 (its rows vanish upstream)."""
        revision = self.revision(day)
        if not (self.settings["revision_deletes"] and revision):
            return matching
        return [c for c in matching if number("gone", c["customer"], day, revision, modulo=3) != 0]

    def expected(
        self, query: dict, first_day: dt.date, end: Optional[dt.datetime] = None, account: Optional[str] = None
    ) -> list[dict]:
        """What a source query (its config object) should have loaded from `first_day` to now,
        for the connected `account` (`stripe_account`; None = none)."""
        timezone = query.get("timezone") or self.settings["account_timezone"]
        start = dt.datetime.combine(first_day, dt.time(), ZoneInfo(timezone))
        return self.series(
            query["metrics"],
            query["interval"],
            timezone,
            start,
            end or self.sandbox.clock(),
            query.get("group_by"),
            query.get("filters"),
            query.get("currency"),
            account,
        )

    # -- HTTP ------------------------------------------------------------------------------
    @staticmethod
    def _error(status: int, code: Optional[str], message: str, error_type: str = "invalid_request_error") -> Response:
        body = {"error": {"type": error_type, "code": code, "message": message}}
        return Response(status, body, {"Request-Id": f"req_sandbox_{status}_{code or 'error'}"})

    def handle(self, request: SandboxRequest, base_url: str) -> Response:
        if request.path.rstrip("/") != ENDPOINT:
            return self._error(404, "not_found", f"Unrecognized request URL (POST: {request.path}).")
        if request.method != "POST":
            return self._error(405, "method_not_allowed", "This endpoint only accepts POST requests.")
        key = request.header("authorization").removeprefix("Bearer ").strip()
        if key != self.api_key:
            shown = f"{key[:8]}****{key[-4:]}" if len(key) > 12 else "****"
            return self._error(401, "invalid_api_key", f"Invalid API Key provided: {shown}")
        if self.settings["require_version"] and not request.header("stripe-version"):
            return self._error(400, "invalid_request", "A Stripe-Version header is required for /v2 endpoints.")
        with self._lock:
            throttled = self.settings["throttle"].pop(0) if self.settings["throttle"] else None
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            limit = self.settings["max_concurrent"]
            over = limit is not None and self.in_flight > limit
        try:
            if self.settings["latency"]:
                time.sleep(self.settings["latency"])
            if throttled or over:
                code = throttled or "metric_query_concurrency_limit_exceeded"
                return self._error(429, code, RATE_LIMIT_MESSAGES[code], "rate_limit_error")
            return self._metric_query(request)
        except Invalid as exc:
            return self._error(exc.status, exc.code, exc.message)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _params(self, request: SandboxRequest) -> dict:
        if "json" in request.header("content-type"):
            try:
                params = json.loads(request.body or b"{}")
            except ValueError:
                raise Invalid(400, "invalid_request", "The request body is not valid JSON.") from None
        else:
            params = parse_form(request.body.decode("utf-8", "replace"))
        if not isinstance(params, dict):
            raise Invalid(400, "invalid_request", "The request body must be an object.")
        if not params.get("page") and request.arg("page"):
            params["page"] = request.arg("page")
        return params

    def _metric(self, identifier: Any) -> Metric:
        if not isinstance(identifier, dict) or not (identifier.get("id") or identifier.get("name")):
            raise Invalid(
                400, "metric_invalid_parameter_use", "You must specify at least one of `id` and `name` for each metric."
            )
        by_id, by_name = BY_ID.get(identifier.get("id")), BY_NAME.get(identifier.get("name"))
        if (identifier.get("id") and not by_id) or (identifier.get("name") and not by_name):
            shown = identifier.get("id") or identifier.get("name")
            raise Invalid(404, "missing_resource", f"No such metric: '{shown}'.")
        if by_id and by_name and by_id != by_name:
            raise Invalid(
                400,
                "metric_invalid_parameter_use",
                "The `id` and `name` in a MetricIdentifier refer to different metrics.",
            )
        return by_id or by_name

    def _metrics(self, params: dict) -> list[Metric]:
        identifiers = params.get("metrics")
        if not isinstance(identifiers, list) or not identifiers:
            raise Invalid(400, "metric_invalid_parameter_use", "You must specify at least one metric in `metrics`.")
        metrics = [self._metric(i) for i in identifiers]
        for metric in metrics:
            if metric.restricted:
                raise Invalid(
                    403,
                    "metric_inaccessible",
                    f"You don't have the required permissions to view the metric '{metric.id}'.",
                )
            if metric.live_only:
                raise Invalid(400, "missing_resource", f"The metric '{metric.id}' is only accessible in live mode.")
        if len({m.namespace for m in metrics}) > 1:
            raise Invalid(
                400, "metric_invalid_parameter_use", "Metrics in a single request must share the same namespace."
            )
        return metrics

    def _dimensions(self, params: dict, namespace: str) -> tuple[list, dict]:
        group_by, filters = params.get("group_by") or [], params.get("filters") or {}
        if not isinstance(group_by, list) or not isinstance(filters, dict):
            raise Invalid(400, "metric_invalid_parameter_value", "`group_by` must be an array, `filters` an object.")
        if len(group_by) > 1:
            raise Invalid(400, "metric_invalid_parameter_value", "Can't `group_by` more than 1 dimension.")
        if len(filters) > 2 or any(not isinstance(v, list) or len(v) > 10 for v in filters.values()):
            raise Invalid(
                400,
                "metric_invalid_parameter_value",
                "Can't filter on more than 10 values per dimension or more than 2 dimensions.",
            )
        all_combos = combos(namespace, self.settings["customers"])
        known = all_combos[0]
        for dimension in [*group_by, *filters]:
            if dimension not in known:
                raise Invalid(400, "missing_resource", f"The dimension '{dimension}' doesn't exist on this metric.")
        for dimension, values in filters.items():
            valid = {c[dimension] for c in all_combos}
            for value in values:
                if value not in valid:
                    raise Invalid(
                        400, "missing_resource", f"'{value}' isn't a valid value for the dimension '{dimension}'."
                    )
        return group_by, filters

    def _time_range(self, params: dict, interval: str) -> tuple[dt.datetime, dt.datetime]:
        if not params.get("starts_at") or not params.get("ends_at"):
            raise Invalid(400, "metric_invalid_time_range", "`starts_at` and `ends_at` are required.")
        start, end = _instant(params["starts_at"], "starts_at"), _instant(params["ends_at"], "ends_at")
        if start >= end or end > self.sandbox.clock():
            raise Invalid(400, "metric_invalid_time_range", TIME_RANGE_MESSAGE)
        if end - start > dt.timedelta(days=self.settings["max_range_days"][interval]):
            raise Invalid(400, "metric_invalid_time_range", TOO_LONG_MESSAGE)
        return start, end

    @staticmethod
    def _timezone(value: Any) -> str:
        if not isinstance(value, str) or len(value) > 64:
            raise Invalid(400, "metric_invalid_parameter_value", "An unsupported time zone was specified.")
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise Invalid(400, "metric_invalid_parameter_value", "An unsupported time zone was specified.") from None
        return value

    @staticmethod
    def _limit(value: Any) -> int:
        try:
            limit = int(value if value not in (None, "") else 1000)
        except (TypeError, ValueError):
            raise Invalid(400, "metric_invalid_parameter_value", "`limit` must be an integer.") from None
        if limit > 1000 or limit < 1:
            raise Invalid(400, "metric_invalid_parameter_value", "`limit` can't be greater than 1,000.")
        return limit

    def _page_offset(self, params: dict) -> int:
        token = params.get("page")
        if not token:
            return 0
        try:
            digest, offset = base64.urlsafe_b64decode(str(token).encode()).decode().split(":")
            if digest == _query_digest(params):
                return int(offset)
        except ValueError:
            pass
        raise Invalid(400, "invalid_page_token", "The `page` token is invalid for this query.")

    def _metric_query(self, request: SandboxRequest) -> Response:
        params = self._params(request)
        metrics = self._metrics(params)
        interval = params.get("interval")
        if interval not in INTERVALS:
            raise Invalid(400, "metric_invalid_parameter_value", "`interval` must be one of day, week, month, year.")
        timezone = self._timezone(params.get("timezone") or self.settings["account_timezone"])
        group_by, filters = self._dimensions(params, metrics[0].namespace)
        if params.get("currency") and not any(m.monetary for m in metrics):
            raise Invalid(
                400, "metric_invalid_parameter_use", "Can't specify a currency for a metric with no monetary measures."
            )
        limit = self._limit(params.get("limit"))
        start, end = self._time_range(params, interval)
        offset = self._page_offset(params)
        rows = self.series(
            metrics,
            interval,
            timezone,
            start,
            end,
            group_by,
            filters,
            params.get("currency"),
            request.header("stripe-account") or None,
        )
        size = min(limit, int(self.settings["page_size"])) if self.settings["pagination"] else limit
        more = self.settings["pagination"] and offset + size < len(rows)
        token = base64.urlsafe_b64encode(f"{_query_digest(params)}:{offset + size}".encode()).decode()
        now = self.sandbox.clock()
        return Response(
            200,
            {
                "object": "v2.data.analytics.metric_query",
                "livemode": False,
                "refreshed_at": _zulu(now.replace(minute=0, second=0, microsecond=0)),
                "next_page_url": f"{ENDPOINT}?page={token}" if more else None,
                "previous_page_url": None,
                "data": rows[offset : offset + size],
            },
            {"Request-Id": f"req_sandbox_{len(self.sandbox.requests)}"},
        )
