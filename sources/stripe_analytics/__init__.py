"""Stripe Analytics source: `POST /v2/data/analytics/metric_query` results per time bucket.

Assumptions where the docs are silent (each configurable or accepted both ways):
* the body is JSON, as on every Stripe v2 endpoint, although the docs' curl example is
  form-encoded; `body_encoding = "form"` sends `metrics[0][id]=...`, `filters[price][0]=...`;
* a query without `timezone` is sent with `default_timezone` (UTC), so that its buckets, and the
  windows aligned to them, are known (the API's default, the account's time zone, is not);
* weeks start on Monday; a bucket is dated by its start in the query's time zone (labels at local
  or at UTC midnight both work) and buckets outside the requested window are dropped;
* the maximum range per interval is not documented: windows hold at most `max_periods` periods
  and a window the API still rejects as too long ("exceeds the maximum allowed") is halved;
* the next page's `page` token (from `next_page_url`, documented as null for now) is sent in
  the body, to `next_page_url` itself;
* 429s carry no Retry-After: the client backs off exponentially with jitter, and
  `max_concurrency` / `requests_per_second` bound what is in flight;
* `value` is an integer in minor units, stored as returned.
"""

import functools
import logging
from typing import Any, Dict, List, Optional

import dlt

from .._common import ApiError, ConfigError, RunControl
from .._common.config.shared import SharedValues, metricsync_source
from .._common.config.spec import choices_of
from .._common.load.resource import WindowedTable
from .._common.source.windowed import WindowedSetup
from . import helpers, settings

logger = logging.getLogger("metricsync.stripe_analytics")

# `dimension_name` ("" when ungrouped) is declared not null, or Postgres' CSV load turns "" into NULL
RESULTS = WindowedTable(
    "stripe_analytics",
    helpers.RESULTS_TABLE,
    ("query_name", "period", "metric", "dimension_value"),
    types=helpers.TYPES,
    not_null=("dimension_name",),
)


@metricsync_source(
    "stripe_analytics",
    base_url=settings.BASE_URL,
    windows_per_load=settings.WINDOWS_PER_LOAD,
    **settings.SHARED_DEFAULTS,  # type: ignore[arg-type]  # each default has its setting's type
)
def stripe_analytics_source(
    queries: Optional[List[Dict[str, Any]]] = None,
    stripe_version: Optional[str] = settings.STRIPE_VERSION,
    body_encoding: str = "json",
    default_timezone: str = settings.DEFAULT_TIMEZONE,
    max_periods: Optional[Dict[str, int]] = None,
    stripe_account: Optional[str] = None,
    control: Optional[RunControl] = None,
    *,
    shared: SharedValues,
) -> Any:
    """`stripe_account` (a connected account `acct_...`, one account of many: docs/scaling-out.md)
    is sent as the `Stripe-Account` header."""
    setup = WindowedSetup("stripe_analytics", shared, control)
    auth = {
        "Authorization": f"Bearer {setup.key}",
        **({"Stripe-Account": str(stripe_account)} if stripe_account else {}),
    }
    checked = helpers.check_queries(queries, helpers.check_timezone(default_timezone, "default_timezone"))
    first_day = setup.first_day(loads=bool(checked))
    periods = helpers.max_periods(max_periods)
    backfill = setup.control.backfill
    helpers.check_first_day(checked, backfill[0] if backfill else first_day, "--from" if backfill else "start_date")
    if body_encoding not in choices_of("stripe_analytics", "body_encoding"):  # as strict checking (spec.CHOICES)
        raise ConfigError(f"stripe_analytics: body_encoding {body_encoding!r} - use json or form")
    version = str(stripe_version or "").strip()
    if not checked:  # an API key but nothing to load: say so, as Whop does, and load nothing
        logger.warning(
            "stripe_analytics: no queries are set, so nothing is loaded - set "
            "SOURCES__STRIPE_ANALYTICS__QUERIES to a list like "
            '[{"name": "mrr", "metrics": [{"id": "metric_..."}], "interval": "day"}]'
        )
        return []
    client = setup.client(
        shared.base_url,
        auth,
        headers={"Stripe-Version": version} if version else {},
        permission_hint=settings.PERMISSION,
        key_hint=settings.KEY_HINT,
    )
    fetch_window = functools.partial(
        helpers.fetch_window, client, helpers.MetricQueryPaginator(), setup.control, body_encoding
    )

    def fetch(unit: tuple) -> Any:
        query, window = unit
        try:
            return helpers.fetch_split(window, query, functools.partial(fetch_window, query))
        except ApiError as exc:
            raise helpers.query_error(query, exc) from None

    @dlt.resource(**RESULTS.hints())
    def metric_results() -> Any:
        yield from setup.rows(RESULTS, checked, setup.planner(lambda q: q["interval"], periods), fetch)

    return metric_results
