"""Statsig source: metric sources and metrics (definitions, with history) and daily metric values.

Definitions are full snapshots merged with dlt's scd2 strategy: the current version of a row has
`_dlt_valid_to` null, a changed definition gets a new version, one deleted upstream is closed.
Nested objects (`warehouseNative`, `criteria`, `owner`, ...) are JSON columns.

`metric_values` asks `/metrics/values` for one date at a time (every page of it), dates fetched
concurrently; a fetched date replaces that whole date in the table (merge key `date`, with a
tombstone for a date that returns no rows), so a metric dropped from a restated date disappears
there too. `metric_source_metrics` has one row per (`metric_source_name`, `id`): a ratio metric
listed under its numerator's and its denominator's source is kept under both.

Assumptions where the docs are silent (configurable or accepting both):
* `base_url` may be given with or without the `/console/v1` suffix;
* `pagination.nextPage` is a path with `page`/`limit` (as in the docs' example), a full URL on the
  same origin, or a bare page number; paging stops when it is null or empty;
* the values endpoint is read as one row per metric x unit type; a row without `unitType`
  (or `metricType`) gets "" in the key; fields not in the docs become columns;
* a date with no rows has none (rows loaded earlier for it are deleted);
* an empty definitions list is a snapshot too: it closes every current definition.
"""

import functools
from typing import Any

import dlt

from .._common import QueryProgress, RunControl, build_client, run_concurrently
from .._common.config.shared import SharedValues, metricsync_source
from .._common.config.spec import number
from .._common.config.values import require_key
from .._common.config.values import start_date as check_start_date
from .._common.load.definitions import DEFINITION_FORMAT, SCD2, snapshot
from .._common.load.resource import WindowedTable, windowed_rows
from . import helpers, settings

VALUES_QUERY = {"name": "metric_values"}
VALUES = WindowedTable(
    "statsig", "metric_values", helpers.VALUE_KEY, period="date", query=None, types=helpers.VALUE_TYPES
)


@metricsync_source("statsig", base_url=settings.BASE_URL, windows_per_load=settings.WINDOWS_PER_LOAD)
def statsig_source(
    api_version: str = settings.API_VERSION,
    page_size: int = settings.MAX_PAGE_SIZE,
    control: Any = None,
    *,
    shared: SharedValues,
) -> Any:
    control = control or RunControl()
    key = require_key("statsig", shared.api_key)
    first_day = check_start_date("statsig", shared.start_date, control.today, required=control.backfill is None)
    lookback, per_load, workers = shared.lookback_days, shared.windows_per_load, shared.max_concurrency
    control.checkpoint_seconds = shared.checkpoint_seconds
    limit = number("statsig", "page_size", page_size)
    headers = {"STATSIG-API-VERSION": str(api_version)} if api_version else {}
    client = build_client(
        "statsig",
        helpers.base_url(shared.base_url),
        {"STATSIG-API-KEY": key},
        secret=key,
        headers=headers,
        permission_hint=settings.PERMISSION,
        key_hint=settings.KEY_HINT,
        **shared.client,
    )

    def plan_dates(query: dict, progress: QueryProgress) -> list:
        return progress.next_windows(first_day, lookback, "day", 1, per_load)  # type: ignore[arg-type]  # first_day is set when a query is planned

    def fetch_date(unit: tuple) -> list:
        _query, window = unit
        items = helpers.list_all(
            client, settings.VALUES_ENDPOINT, "GET /metrics/values", limit, {"date": window.start.isoformat()}
        )
        return helpers.value_rows(window.start, items)

    @functools.lru_cache(maxsize=1)
    def source_list() -> list[dict]:
        sources = helpers.list_all(client, settings.METRIC_SOURCES_ENDPOINT, "GET /metrics/metric_source/list", limit)
        return helpers.unique(sources, lambda s: s.get("name"), "GET /metrics/metric_source/list")

    @dlt.resource(name="metric_sources", write_disposition=SCD2, file_format=DEFINITION_FORMAT)
    def metric_sources() -> Any:
        yield from snapshot([source_list()], "statsig", "metric_sources")

    @dlt.resource(name="metric_source_metrics", write_disposition=SCD2, file_format=DEFINITION_FORMAT)
    def metric_source_metrics() -> Any:
        names = [str(s["name"]) for s in source_list() if s.get("name")]
        fetched = run_concurrently(lambda name: helpers.source_metrics(client, name, limit), names, workers)
        yield from snapshot(
            [
                helpers.unique(
                    (row for _name, rows in fetched for row in rows),
                    helpers.source_metric_key,
                    "GET /metrics/metric_source/{name}/metrics",
                )
            ],
            "statsig",
            "metric_source_metrics",
        )

    @dlt.resource(name="metrics", write_disposition=SCD2, file_format=DEFINITION_FORMAT)
    def metrics() -> Any:
        yield from snapshot(
            [
                helpers.unique(
                    helpers.list_all(client, settings.METRICS_ENDPOINT, "GET /metrics/list", limit),
                    helpers.definition_key,
                    "GET /metrics/list",
                )
            ],
            "statsig",
            "metrics",
        )

    @dlt.resource(**VALUES.hints())
    def metric_values() -> Any:
        yield from windowed_rows(VALUES, [VALUES_QUERY], plan_dates, fetch_date, control, workers)

    # the values first: dlt takes from its resources in turn, so their paced fetches are under way
    # (on the prefetch threads) while the definitions are asked for, in the same schedule
    return [metric_values, metric_sources, metric_source_metrics, metrics]
