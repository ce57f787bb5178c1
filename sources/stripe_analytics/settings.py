"""Stripe Analytics constants: endpoint, API version, query rules from the docs, request limits."""

BASE_URL = "https://api.stripe.com"
# where Stripe's defaults differ from the shared ones: the Analytics API allows few requests in
# flight, rate-limits without Retry-After, and a metric query can take long
SHARED_DEFAULTS = {"max_concurrency": 2, "requests_per_second": 5.0, "timeout": 60.0, "max_attempts": 8}
ENDPOINT = "/v2/data/analytics/metric_query"
ENDPOINT_NAME = "POST /v2/data/analytics/metric_query"

# The `Stripe-Version` header, sent only when set. The docs' example request sends none (the API
# then answers in the account's default version); a preview version `YYYY-MM-DD.preview` can be
# pinned with `stripe_version` once Stripe names one for the Analytics preview.
STRIPE_VERSION = None
DEFAULT_TIMEZONE = "UTC"

KEY_HINT = "check SOURCES__STRIPE_ANALYTICS__API_KEY (a secret sk_... or restricted rk_... key)"
PERMISSION = "a restricted key needs read access to the Analytics API metrics it queries"

# Query parameters and the documented limits, checked before any request.
QUERY_KEYS = ("metrics", "interval", "currency", "timezone", "filters", "group_by")
METRIC_KEYS = ("id", "name")
INTERVALS = ("day", "week", "month", "year")
MAX_GROUP_BY = 1
MAX_FILTER_KEYS = 2
MAX_FILTER_VALUES = 10
MAX_TIMEZONE_CHARS = 64
LIMIT = 1000  # rows per page, the documented maximum

# Periods per request. The docs say a range may exceed "the maximum allowed for the specified
# interval" without giving it: these are deliberately small, and a window the API still finds
# too long is split in halves and retried.
MAX_PERIODS = {"day": 30, "week": 26, "month": 12, "year": 5}
WINDOWS_PER_LOAD = 24  # windows per query per dlt load (a crash loses at most these)
CLOCK_SKEW_SECONDS = 30  # `ends_at` is clamped to now minus this: never in the future, even with some clock skew

RANGE_ERROR = "metric_invalid_time_range"
RANGE_TOO_LONG_WORDS = ("maximum", "exceed")

# what the runner needs to know of this provider (pipelines/catalog.py, accounts.py, deploy/dagster)
WINDOWED_TABLES = {"metric_results": "queries"}  # table -> its query setting
DEFINITION_TABLES: list = []  # scd2 snapshots
ACCOUNT_PARAMS = ("stripe_account",)  # source arguments an account may set, besides api_key
# placeholder arguments that make the source declare every table it can load (asset specs; no request)
SPEC_ARGS = {"start_date": "2020-01-01", "queries": [{"name": "spec", "metrics": [{"id": "spec"}], "interval": "day"}]}
# what each of this source's own settings means (`metricsync init` comments, `describe --json-schema`)
SETTING_MEANINGS = {
    "queries": "list of {name, metrics, interval (day/week/month/year), currency, timezone, filters, group_by}",
    "stripe_version": "Stripe-Version header, sent only when set",
    "body_encoding": "request body as json, or form (metrics[0][id]=..., as in the docs' curl example)",
    "default_timezone": "time zone of queries without their own",
    "max_periods": "periods per request, per interval, e.g. {day = 30, week = 26, month = 12, year = 5}",
    "stripe_account": "connected account (acct_...) sent as the Stripe-Account header; mostly set per account",
}
