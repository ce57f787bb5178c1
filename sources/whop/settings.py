"""Whop constants: endpoints, parameter names, request limits."""

BASE_URL = "https://api.whop.com/api/v1"
WALLET_ENDPOINT = "/stats/time_series"
METRIC_ENDPOINT = "/stats/metric"
SCHEMA_ENDPOINT = "/stats/schema"

PERMISSION = "company:balance:read (see Whop's Permissions docs)"

WALLET_QUERY_KEYS = ("group_by", "account_id", "reporting_category", "grouping", "line_category", "currency",
                     "convert_currency", "timezone")
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
