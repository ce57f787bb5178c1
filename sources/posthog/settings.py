"""PostHog constants: endpoints, defaults, required scopes, column hints."""

BASE_URL = "https://us.posthog.com"
GROUP_TYPES_PATH = "/api/projects/{project_id}/groups_types/"
METRICS_PATH = "/api/projects/{project_id}/groups_types/{group_type_index}/metrics/"

PAGE_SIZE = 100  # `limit` per metrics page (PostHog's default page size)
# PostHog throttles per team, per minute and per hour; an hourly throttle asks for long waits.
MAX_RETRY_WAIT = 3600.0
PROJECT_SETTING = "SOURCES__POSTHOG__PROJECT_ID"
PERMISSION = (
    "personal API key scopes group:read (group types) and usage_metric:read (group type metrics), "
    "with access to every configured project"
)

# Types of the documented fields, so a column never depends on the first value seen (a null, or
# a name that looks like a date). Other fields are typed by dlt; objects and lists are JSON.
GROUP_TYPE_COLUMNS = {
    "project_id": {"data_type": "bigint", "nullable": False},
    "group_type_index": {"data_type": "bigint", "nullable": False},
    "group_type": {"data_type": "text"},
    "name_singular": {"data_type": "text"},
    "name_plural": {"data_type": "text"},
}
METRIC_COLUMNS = {
    "project_id": {"data_type": "bigint", "nullable": False},
    "group_type_index": {"data_type": "bigint", "nullable": False},
    "id": {"data_type": "text", "nullable": False},
    "name": {"data_type": "text"},
    "format": {"data_type": "text"},
    "interval": {"data_type": "bigint"},
    "display": {"data_type": "text"},
    "filters": {"data_type": "json"},
    "math": {"data_type": "text"},
    "math_property": {"data_type": "text"},
}

# what the runner needs to know of this provider (pipelines/catalog.py, accounts.py, deploy/dagster)
WINDOWED_TABLES: dict = {}  # table -> its query setting
DEFINITION_TABLES = ["group_types", "group_type_metrics"]  # scd2 snapshots
ACCOUNT_PARAMS = ("project_id",)  # source arguments an account may set, besides api_key
# placeholder arguments that make the source declare every table it can load (asset specs; no request)
SPEC_ARGS = {"project_id": [1]}
# what each of this source's own settings means (`metricsync init` comments, `describe --json-schema`)
SETTING_MEANINGS = {
    "project_id": "required: one numeric project id or several ([12345, 67890])",
    "page_size": "limit per metrics page",
}
