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

from .._common import ApiClient, BodyCursorPaginator, RunControl
from .._common.config.shared import SharedValues, metricsync_source
from .._common.load.definitions import DEFINITION_FORMAT, SCD2, snapshot
from .._common.load.resource import NoSettings, WindowedTable
from .._common.source.windowed import WindowedSetup
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
    control: Optional[RunControl] = None,
    *,
    shared: SharedValues,
) -> Any:
    """`account_id` / `company_id` (one account of many, see docs/scaling-out.md) scope every
    wallet / metric query that does not set its own; both are the sub-account's `biz_` id, so
    one given alone scopes both kinds (except `account_id = global`, which is wallet-only)."""
    setup = WindowedSetup("whop", shared, control)
    wallet = helpers.for_account(helpers.wallet_queries(wallet_queries), "account_id", account_id or company_id)
    company = company_id or (account_id if account_id != "global" else None)
    metrics = helpers.for_account(helpers.metric_queries(metric_queries), "company_id", company)
    setup.first_day(loads=bool(wallet or metrics))
    if not wallet and not metrics:
        logger.warning(
            "whop: no wallet_queries or metric_queries are set, so only definitions (the wallet schema) "
            "are loaded - set SOURCES__WHOP__WALLET_QUERIES or SOURCES__WHOP__METRIC_QUERIES"
        )
    client = setup.client(
        shared.base_url, {"Authorization": f"Bearer {setup.key}"}, permission_hint=settings.PERMISSION
    )
    paginator = BodyCursorPaginator(param=cursor_param)
    today = setup.control.today

    @dlt.resource(**WALLET.hints())
    def wallet_time_series() -> Any:
        plan = setup.planner(lambda q: q["group_by"], settings.MAX_PERIODS)
        fetch = functools.partial(helpers.fetch_wallet, client, today, array_params)
        yield from setup.rows(WALLET, wallet, plan, fetch)

    @dlt.resource(**METRICS.hints())
    def metric_results() -> Any:
        plan = setup.planner(lambda q: settings.METRIC_GRANULARITIES[q["granularity"]], settings.MAX_PERIODS)
        fetch = functools.partial(helpers.fetch_metric, client, paginator, array_params)
        yield from setup.rows(METRICS, metrics, plan, fetch)

    # the windowed resources first: dlt takes from its resources in turn, so their paced fetches are
    # under way (on the prefetch threads) while the schema is asked for, in the same schedule
    windowed = [resource for resource, queries in ((wallet_time_series, wallet), (metric_results, metrics)) if queries]
    return windowed + schema_resources(client, setup.control.shared, shared.base_url)


def schema_resources(client: ApiClient, answers: dict, base_url: str) -> list:
    """One definitions table (scd2 snapshots) per section of the wallet schema, asked for once (the
    same for every account: sent without a key; `answers` is shared by accounts loaded together)."""

    def wallet_schema() -> Any:
        key = ("whop wallet schema", base_url)
        if key not in answers:
            request = helpers.Request("GET", settings.SCHEMA_ENDPOINT, params={"resource_type": "wallet"})
            answers[key] = client.request(
                request, endpoint="GET /stats/schema", check=lambda b: isinstance(b, dict), auth=False
            )
        return answers[key]

    def definitions(table: str, section: str) -> Any:
        @dlt.resource(name=table, write_disposition=SCD2, file_format=DEFINITION_FORMAT, spec=NoSettings)
        def schema_section() -> Any:
            yield from snapshot([helpers.schema_rows(wallet_schema(), section)], "whop", table)

        return schema_section

    return [definitions(table, section) for table, section in settings.SCHEMA_SECTIONS.items()]
