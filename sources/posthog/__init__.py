"""PostHog source: the group types of each project and the usage metrics defined per group type.

Both tables are definitions kept with history (dlt `scd2`): every run loads the complete snapshot
of all configured projects, so a changed definition gets a new version, the old one is closed
(`_dlt_valid_to` set) and a definition deleted upstream is closed too. Current rows are
`_dlt_valid_to IS NULL`. Removing a project from the config closes its rows the same way.

Assumptions where the docs are silent:
* `project_id` is PostHog's numeric project id (one, a list, `1,2` or `[1, 2]`);
* `groups_types/` is a plain JSON array; a paginated `{"results": [...], "next": ...}` body or the
  single object the docs show as example are accepted too;
* metric pages follow the absolute `next` link as given (limit/offset); a link to another origin
  than `base_url` is refused, so `base_url` must be the host PostHog puts in its links;
* a 404 on `groups_types/` means the project does not exist (or is not visible to the key).
"""

import functools
from typing import Any, Optional

import dlt

from .._common import NextUrlPaginator, RunControl, build_client, run_concurrently
from .._common.config.shared import SharedValues, metricsync_source
from .._common.config.spec import number
from .._common.config.values import require_key
from .._common.load.definitions import DEFINITION_FORMAT, SCD2, snapshot
from . import helpers, settings


@metricsync_source("posthog", windowed=False, base_url=settings.BASE_URL, max_retry_wait=settings.MAX_RETRY_WAIT)
def posthog_source(
    project_id: Any = None,
    page_size: int = settings.PAGE_SIZE,
    control: Optional[RunControl] = None,  # the runner's; definitions are whole snapshots, so unused
    *,
    shared: SharedValues,
) -> Any:
    key = require_key("posthog", shared.api_key)
    projects = helpers.project_ids(project_id)
    limit = number("posthog", "page_size", page_size)
    workers = shared.max_concurrency
    client = build_client(
        "posthog",
        shared.base_url,
        {"Authorization": f"Bearer {key}"},
        secret=key,
        permission_hint=settings.PERMISSION,
        key_hint="check SOURCES__POSTHOG__API_KEY (a personal API key, phx_...)",
        **shared.client,
    )
    paginator = NextUrlPaginator()

    @functools.lru_cache(maxsize=1)
    def all_group_types() -> list[list]:
        """Group types of every project, fetched once per run for both resources."""
        fetch = functools.partial(helpers.fetch_group_types, client, paginator)
        return [rows for _, rows in run_concurrently(fetch, projects, workers)]

    def metrics_of(unit: tuple) -> list:
        return helpers.fetch_metrics(client, paginator, *unit, limit)  # type: ignore[call-arg]  # a unit is (project_id, group_type_index)

    @dlt.resource(
        name="group_types", write_disposition=SCD2, columns=settings.GROUP_TYPE_COLUMNS, file_format=DEFINITION_FORMAT
    )
    def group_types() -> Any:
        yield from snapshot(all_group_types(), "posthog", "group_types", helpers.integers(settings.GROUP_TYPE_COLUMNS))

    @dlt.resource(
        name="group_type_metrics",
        write_disposition=SCD2,
        columns=settings.METRIC_COLUMNS,
        file_format=DEFINITION_FORMAT,
    )
    def group_type_metrics() -> Any:
        units = [(row["project_id"], row["group_type_index"]) for rows in all_group_types() for row in rows]
        yield from snapshot(
            (rows for _, rows in run_concurrently(metrics_of, units, workers)),
            "posthog",
            "group_type_metrics",
            helpers.integers(settings.METRIC_COLUMNS),
        )

    return group_types, group_type_metrics
