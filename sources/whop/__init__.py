"""Whop source: wallet time series, stats metric results and the wallet schema.

Assumptions where the docs are silent (each configurable):
* the metric endpoint's cursor goes back as `cursor` (`cursor_param`);
* list parameters are sent as `name[]=a&name[]=b` as in the wallet docs (`array_params`:
  `brackets` or `repeat`); metric `filters` as `filters[key]=value`;
* the wallet `to` date is inclusive; rows outside the requested window are dropped either way;
* metric data rows are arrays matching `columns` or objects; the time column is found by name
  (`period`, `date`, `timestamp`, ...) or set per query with `time_column`;
* every text column of a metric answer besides the time column tells rows apart (a per-currency
  column nobody asked for included), so all of them make up `breakdown_key`;
* metric `from`/`to` are UTC date-times, `to` clamped to now, never before `from`.
A fetched window replaces the stored rows of its periods (see `_common/load/resource.py`).
"""

import functools
import logging
from typing import Any, Dict, List, Optional

import dlt

from .._common import BodyCursorPaginator, QueryProgress, RunControl, build_client
from .._common.config.shared import SharedValues, metricsync_source
from .._common.config.values import require_key
from .._common.config.values import start_date as check_start_date
from .._common.load.definitions import DEFINITION_FORMAT, SCD2, snapshot
from .._common.load.resource import WindowedTable, windowed_rows
from .._common.load.windows import utc_now
from . import helpers, settings

logger = logging.getLogger("metricsync.whop")

WALLET = WindowedTable("whop", "wallet_time_series", ("query_name", "period", "currency"), types=helpers.WALLET_TYPES)
METRICS = WindowedTable("whop", "metric_results", ("query_name", "period", "breakdown_key"), types=helpers.METRIC_TYPES)


@metricsync_source("whop", base_url=settings.BASE_URL, windows_per_load=settings.WINDOWS_PER_LOAD)
def whop_source(
    wallet_queries: Optional[List[Dict[str, Any]]] = None,
    metric_queries: Optional[List[Dict[str, Any]]] = None,
    cursor_param: str = settings.CURSOR_PARAM,
    array_params: str = "brackets",
    account_id: Optional[str] = None,
    company_id: Optional[str] = None,
    control: Any = None,
    *,
    shared: SharedValues,
) -> Any:
    """`account_id` / `company_id` (one account of many, see docs/scaling-out.md) scope every
    wallet / metric query that does not set its own; both are the sub-account's `biz_` id, so
    one given alone scopes both kinds (except `account_id = global`, which is wallet-only)."""
    control = control or RunControl()
    key = require_key("whop", shared.api_key)
    wallet = helpers.for_account(helpers.wallet_queries(wallet_queries), "account_id", account_id or company_id)
    company = company_id or (account_id if account_id != "global" else None)
    metrics = helpers.for_account(helpers.metric_queries(metric_queries), "company_id", company)
    first_day = check_start_date(
        "whop", shared.start_date, control.today, required=control.backfill is None and bool(wallet or metrics)
    )
    if not wallet and not metrics:
        logger.warning(
            "whop: no wallet_queries or metric_queries are set, so only definitions (the wallet schema) "
            "are loaded - set SOURCES__WHOP__WALLET_QUERIES or SOURCES__WHOP__METRIC_QUERIES"
        )
    lookback, per_load, workers = shared.lookback_days, shared.windows_per_load, shared.max_concurrency
    control.checkpoint_seconds = shared.checkpoint_seconds
    client = build_client(
        "whop",
        shared.base_url,
        {"Authorization": f"Bearer {key}"},
        secret=key,
        permission_hint=settings.PERMISSION,
        **shared.client,
    )
    paginator = BodyCursorPaginator(param=cursor_param)

    def planner(granularity_of):
        def plan(query: dict, progress: QueryProgress) -> list:
            g = granularity_of(query)
            return progress.next_windows(first_day, lookback, g, settings.MAX_PERIODS[g], per_load)  # type: ignore[arg-type]  # first_day is set when a query is planned

        return plan

    def fetch_wallet(unit: tuple) -> list:
        query, window = unit
        request = helpers.wallet_request(query, window, control.today, array_params)
        body = client.request(request, endpoint="GET /stats/time_series", check=helpers.is_wallet_body, decimal=True)
        return helpers.wallet_rows(query, body, window)

    def fetch_metric(unit: tuple) -> list:
        query, window = unit
        request = helpers.metric_request(query, window, utc_now(), array_params)
        if request is None:
            return []
        records: list = []
        for body in client.pages(
            request, paginator, endpoint="GET /stats/metric", check=helpers.is_metric_body, decimal=True
        ):
            records.extend(helpers.metric_records(body, f"query {query['name']!r}"))
        return helpers.metric_rows(query, records, window)

    @dlt.resource(**WALLET.hints())
    def wallet_time_series() -> Any:
        yield from windowed_rows(WALLET, wallet, planner(lambda q: q["group_by"]), fetch_wallet, control, workers)

    @dlt.resource(**METRICS.hints())
    def metric_results() -> Any:
        granularity = planner(lambda q: settings.METRIC_GRANULARITIES[q["granularity"]])
        yield from windowed_rows(METRICS, metrics, granularity, fetch_metric, control, workers)

    @functools.lru_cache(maxsize=1)
    def wallet_schema() -> Any:
        request = helpers.Request("GET", settings.SCHEMA_ENDPOINT, params={"resource_type": "wallet"})
        return client.request(request, endpoint="GET /stats/schema", check=lambda b: isinstance(b, dict), auth=False)

    def definitions(table: str, section: str) -> Any:
        @dlt.resource(name=table, write_disposition=SCD2, file_format=DEFINITION_FORMAT)
        def schema_section() -> Any:
            yield from snapshot([helpers.schema_rows(wallet_schema(), section)], "whop", table)

        return schema_section

    # the windowed resources first: dlt takes from its resources in turn, so their paced fetches are
    # under way (on the prefetch threads) while the schema is asked for, in the same schedule
    resources = [wallet_time_series] if wallet else []
    if metrics:
        resources.append(metric_results)
    return resources + [definitions(t, s) for t, s in settings.SCHEMA_SECTIONS.items()]
