"""Statsig constants: endpoints, headers, paging limits."""

BASE_URL = "https://statsigapi.net"
API_PREFIX = "/console/v1"  # accepted at the end of base_url too, and dropped there
API_VERSION = "20240601"

METRIC_SOURCES_ENDPOINT = "/console/v1/metrics/metric_source/list"
SOURCE_METRICS_ENDPOINT = "/console/v1/metrics/metric_source/{name}/metrics"
METRICS_ENDPOINT = "/console/v1/metrics/list"
VALUES_ENDPOINT = "/console/v1/metrics/values"

MAX_PAGE_SIZE = 100  # the console API rejects a larger `limit`
WINDOWS_PER_LOAD = 365  # dates per dlt load (a crash loses at most these: ~365 requests to redo;
# each load costs ~0.6 s of dlt overhead, so 60 made a 2-year backfill 1.7x slower - see bench/RESULTS.md)

KEY_HINT = "set SOURCES__STATSIG__API_KEY to a Console API key (Project Settings > Keys & Environments)"
PERMISSION = "use a Console API key with read access; server and client SDK keys are not accepted"

# what the runner needs to know of this provider (pipelines/catalog.py, accounts.py, deploy/dagster)
WINDOWED_TABLES = {"metric_values": None}  # table -> its query setting (None: no queries, every metric)
DEFINITION_TABLES = ["metric_sources", "metric_source_metrics", "metrics"]  # scd2 snapshots
ACCOUNT_PARAMS: tuple = ()  # source arguments an account may set, besides api_key (one key per project)
# placeholder arguments that make the source declare every table it can load (asset specs; no request)
SPEC_ARGS = {"start_date": "2020-01-01"}
# what each of this source's own settings means (`metricsync init` comments, `describe --json-schema`)
SETTING_MEANINGS = {
    "api_version": "STATSIG-API-VERSION header (empty: not sent)",
    "page_size": "limit per page (the API's maximum is 100)",
}
