"""Whop constants: endpoints, parameter names, request limits."""

BASE_URL = "https://api.whop.com/api/v1"
WALLET_ENDPOINT = "/stats/time_series"
METRIC_ENDPOINT = "/stats/metric"
SCHEMA_ENDPOINT = "/stats/schema"

PERMISSION = "company:balance:read (see Whop's Permissions docs)"

WALLET_QUERY_KEYS = (
    "group_by",
    "account_id",
    "reporting_category",
    "grouping",
    "line_category",
    "currency",
    "convert_currency",
    "timezone",
)
WALLET_GROUP_BY = ("day", "week", "month")
METRIC_QUERY_KEYS = ("resource", "granularity", "breakdowns", "filters", "company_id", "user_id", "time_column")
METRIC_GRANULARITIES = {"daily": "day", "weekly": "week", "monthly": "month"}

# Periods per request. The docs give no maximum range; these keep responses small.
MAX_PERIODS = {"day": 92, "week": 52, "month": 24}
WINDOWS_PER_LOAD = 24  # windows per query per dlt load (a crash loses at most these)
CURSOR_PARAM = "cursor"  # not in the docs; `pagination.next_cursor` is sent back as this

TIME_COLUMNS = ("period", "date", "day", "timestamp", "time", "bucket", "ts", "week", "month")
SCHEMA_SECTIONS = {
    "wallet_reporting_categories": "reporting_categories",
    "wallet_groupings": "groupings",
    "wallet_line_categories": "line_categories",
}

# what the runner needs to know of this provider (pipelines/catalog.py, accounts.py, deploy/dagster)
WINDOWED_TABLES = {"wallet_time_series": "wallet_queries", "metric_results": "metric_queries"}  # -> query setting
DEFINITION_TABLES = ["wallet_reporting_categories", "wallet_groupings", "wallet_line_categories"]  # scd2 snapshots
ACCOUNT_PARAMS = ("account_id", "company_id")  # source arguments an account may set, besides api_key
# placeholder arguments that make the source declare every table it can load (asset specs; no request)
SPEC_ARGS = {
    "start_date": "2020-01-01",
    "wallet_queries": [{"name": "spec"}],
    "metric_queries": [{"name": "spec", "resource": "spec"}],
}
# what each of this source's own settings means (`metricsync init` comments, `describe --json-schema`)
SETTING_MEANINGS = {
    "wallet_queries": "list of {name, group_by (day/week/month), account_id, reporting_category, grouping, "
    "line_category, currency, convert_currency, timezone}",
    "metric_queries": "list of {name, resource, granularity (daily/weekly/monthly), breakdowns, filters, company_id, "
    "user_id, time_column}",
    "cursor_param": "request parameter that carries pagination.next_cursor back (not in the docs)",
    "array_params": "list parameters as grouping[]=a (brackets) or grouping=a (repeat)",
    "account_id": "scope every wallet query without its own to this sub-account (biz_...); mostly set per account",
    "company_id": "scope every metric query without its own to this company (biz_...); mostly set per account",
}
