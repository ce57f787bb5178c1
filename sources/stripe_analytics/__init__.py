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

from .._common import ApiError, ConfigError, QueryProgress, RunControl, build_client
from .._common.config.shared import SharedValues, metricsync_source
from .._common.config.spec import choices_of
from .._common.config.values import require_key
from .._common.config.values import start_date as check_start_date
from .._common.load.prefetch import note as note_fetched
from .._common.load.resource import WindowedTable, windowed_rows
from .._common.load.spool import Spool
from .._common.load.windows import utc_now
from . import helpers, settings

logger = logging.getLogger("metricsync.stripe_analytics")

# `dimension_name` ("" when ungrouped) is declared not null, or Postgres' CSV load turns "" into NULL
RESULTS = WindowedTable(
    "stripe_analytics",
    "metric_results",
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
    control: Any = None,
    *,
    shared: SharedValues,
) -> Any:
    """`stripe_account` (a connected account `acct_...`, one account of many: docs/scaling-out.md)
    is sent as the `Stripe-Account` header."""
    control = control or RunControl()
    key = require_key("stripe_analytics", shared.api_key)
    auth = {"Authorization": f"Bearer {key}", **({"Stripe-Account": str(stripe_account)} if stripe_account else {})}
    default_tz = helpers.check_timezone(default_timezone, "default_timezone")
    checked = helpers.check_queries(queries, default_tz)
    first_day = check_start_date(
        "stripe_analytics", shared.start_date, control.today, required=control.backfill is None and bool(checked)
    )
    periods = helpers.max_periods(max_periods)
    helpers.check_first_day(
        checked, control.backfill[0] if control.backfill else first_day, "--from" if control.backfill else "start_date"
    )
    if body_encoding not in choices_of("stripe_analytics", "body_encoding"):  # as strict checking (spec.CHOICES)
        raise ConfigError(f"stripe_analytics: body_encoding {body_encoding!r} - use json or form")
    version = str(stripe_version or "").strip()
    lookback, per_load, workers = shared.lookback_days, shared.windows_per_load, shared.max_concurrency
    control.checkpoint_seconds = shared.checkpoint_seconds
    if not checked:  # an API key but nothing to load: say so, as Whop does, and load nothing
        logger.warning(
            "stripe_analytics: no queries are set, so nothing is loaded - set "
            "SOURCES__STRIPE_ANALYTICS__QUERIES to a list like "
            '[{"name": "mrr", "metrics": [{"id": "metric_..."}], "interval": "day"}]'
        )
        return []
    client = build_client(
        "stripe_analytics",
        shared.base_url,
        auth,
        secret=key,
        headers={"Stripe-Version": version} if version else {},
        permission_hint=settings.PERMISSION,
        key_hint=settings.KEY_HINT,
        **shared.client,
    )
    paginator = helpers.MetricQueryPaginator()

    def plan(query: dict, progress: QueryProgress) -> list:
        interval = query["interval"]
        return progress.next_windows(first_day, lookback, interval, periods[interval], per_load)  # type: ignore[arg-type]  # first_day is set when a query is planned

    def fetch_window(query: dict, window: Any) -> Spool:
        spool = Spool()  # the pages wait on disk for the load (a long window is ~150 pages)
        request = helpers.metric_request(query, window, utc_now(), body_encoding)
        if request is None:
            return spool
        to_arrow = control.converters["metric_results"]  # page by page: a long window is never a dict per row
        paged = False
        for body in client.pages(
            request, paginator, endpoint=settings.ENDPOINT_NAME, check=helpers.is_metric_query_body
        ):
            following = paginator.next_request(request, body)
            helpers.check_complete(body, following, paged=paged)
            page = to_arrow.columns(helpers.result_columns(query, body, window))
            note_fetched(page.nbytes)  # counted against the bytes held ahead, in memory or spooled
            spool.add(page)
            paged = True
        return spool

    def fetch(unit: tuple) -> Any:
        query, window = unit
        try:
            return helpers.fetch_split(window, query, functools.partial(fetch_window, query))
        except ApiError as exc:
            raise helpers.query_error(query, exc) from None

    @dlt.resource(**RESULTS.hints())
    def metric_results() -> Any:
        yield from windowed_rows(RESULTS, checked, plan, fetch, control, workers)

    return metric_results
