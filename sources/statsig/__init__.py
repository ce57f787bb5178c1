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
from typing import Any, Optional

import dlt

from .._common import ApiClient, RunControl, run_concurrently
from .._common.config.shared import SharedValues, metricsync_source
from .._common.config.spec import number
from .._common.load.definitions import DEFINITION_FORMAT, SCD2, snapshot
from .._common.load.resource import WindowedTable
from .._common.source.windowed import WindowedSetup
from . import helpers, settings

VALUES_QUERY = {"name": "metric_values"}
VALUES = WindowedTable(
    "statsig", "metric_values", helpers.VALUE_KEY, period="date", query=None, types=helpers.VALUE_TYPES
)


@metricsync_source("statsig", base_url=settings.BASE_URL, windows_per_load=settings.WINDOWS_PER_LOAD)
def statsig_source(
    api_version: str = settings.API_VERSION,
    page_size: int = settings.MAX_PAGE_SIZE,
    control: Optional[RunControl] = None,
    *,
    shared: SharedValues,
) -> Any:
    setup = WindowedSetup("statsig", shared, control)
    setup.first_day(loads=True)
    limit = number("statsig", "page_size", page_size)
    client = setup.client(
        helpers.base_url(shared.base_url),
        {"STATSIG-API-KEY": setup.key},
        headers={"STATSIG-API-VERSION": str(api_version)} if api_version else {},
        permission_hint=settings.PERMISSION,
        key_hint=settings.KEY_HINT,
    )

    @dlt.resource(**VALUES.hints())
    def metric_values() -> Any:
        plan = setup.planner(lambda _query: "day", {"day": 1})  # one date per request
        fetch = functools.partial(helpers.fetch_date, client, limit)
        yield from setup.rows(VALUES, [VALUES_QUERY], plan, fetch)

    # the values first: dlt takes from its resources in turn, so their paced fetches are under way
    # (on the prefetch threads) while the definitions are asked for, in the same schedule
    return [metric_values, *definition_resources(client, limit, shared.max_concurrency)]


def definition_resources(client: ApiClient, limit: int, workers: int) -> list:
    """Metric sources, their metrics and metrics: definitions, loaded as scd2 snapshots."""

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
        rows = (row for _name, rows in fetched for row in rows)
        where = "GET /metrics/metric_source/{name}/metrics"
        yield from snapshot(
            [helpers.unique(rows, helpers.source_metric_key, where)], "statsig", "metric_source_metrics"
        )

    @dlt.resource(name="metrics", write_disposition=SCD2, file_format=DEFINITION_FORMAT)
    def metrics() -> Any:
        listed = helpers.list_all(client, settings.METRICS_ENDPOINT, "GET /metrics/list", limit)
        yield from snapshot([helpers.unique(listed, helpers.definition_key, "GET /metrics/list")], "statsig", "metrics")

    return [metric_sources, metric_source_metrics, metrics]
