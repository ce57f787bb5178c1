"""`check`: prove a provider's configuration, key and destination without loading anything.

Per provider: the source is built with the same checks as `run` (every setting, every query),
then at most two cheap authenticated requests go out through the source's own client, and the
destination is connected to without creating a dataset. One line each, e.g.

    whop: ok - key accepted, 3 wallet + 2 metric queries, destination duckdb:/data/metricsync.duckdb

With `sources.<provider>.accounts`, each account is checked with its own key and scope:

    whop (account north): ok - key accepted, 3 wallet + 2 metric queries, destination duckdb:...
"""

import datetime as dt
import logging
import sys
from typing import Any, Callable, Optional

from pipelines.accounts import Account, configured_accounts
from pipelines.catalog import setting_values
from pipelines.commands._options import PROVIDER_HELP, add_command, providers_to_run
from pipelines.exits import exit_code
from pipelines.providers import source_factory
from sources._common.errors import ApiError, ConfigError
from sources._common.http.client import Request, latest_client
from sources._common.load.progress import RunControl
from sources._common.load.windows import Window, next_period, period_start

logger = logging.getLogger("metricsync.check")


def _today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()  # windows are planned in UTC


def _yesterday(granularity: str = "day") -> Window:
    """The period (of `granularity`) holding yesterday: one bucket, already under way."""
    start = period_start(_today() - dt.timedelta(days=1), granularity)
    return Window(start, next_period(start, granularity))


def _whop(client: Any, values: dict) -> str:
    """One wallet time series request for yesterday (the first wallet query's filters, if any),
    and, when metric queries are configured, the first page of the first one for yesterday."""
    from sources.whop import helpers

    wallet, metrics = helpers.wallet_queries(values["wallet_queries"]), helpers.metric_queries(values["metric_queries"])
    account_id, company_id = values.get("account_id"), values.get("company_id")  # one account's (accounts)
    metrics = helpers.for_account(metrics, "company_id", company_id or (account_id if account_id != "global" else None))
    query = {**(wallet[0] if wallet else {"name": "check"}), "group_by": "day"}
    query = helpers.for_account([query], "account_id", account_id or company_id)[0]
    request = helpers.wallet_request(query, _yesterday(), _today(), values["array_params"])
    client.request(request, endpoint="GET /stats/time_series", check=helpers.is_wallet_body, decimal=True)
    if metrics:
        request = helpers.metric_request(metrics[0], _yesterday(), dt.datetime.now(dt.timezone.utc),
                                         values["array_params"])
        if request is not None:
            client.request(request, endpoint="GET /stats/metric", check=helpers.is_metric_body, decimal=True)
    return f"{len(wallet)} wallet + {len(metrics)} metric queries"


def _stripe(client: Any, values: dict) -> str:
    """A metric query of the first query over its latest whole period (one bucket)."""
    from sources.stripe_analytics import helpers

    queries = helpers.check_queries(values["queries"], helpers.check_timezone(values["default_timezone"], "default_timezone"))
    query = queries[0]
    request = helpers.metric_request(query, _yesterday(query["interval"]), dt.datetime.now(dt.timezone.utc),
                                     values["body_encoding"])
    if request is not None:  # None only when the period has not started in the query's time zone
        client.request(request, endpoint="POST /v2/data/analytics/metric_query", check=helpers.is_metric_query_body)
    return f"{len(queries)} queries"


def _posthog(client: Any, values: dict) -> str:
    """The group types of the first project (one page: scope group:read), then one metric of its
    first group type (scope usage_metric:read)."""
    from sources.posthog import helpers, settings

    projects = helpers.project_ids(values["project_id"])
    path = settings.GROUP_TYPES_PATH.format(project_id=projects[0])
    try:
        body = client.request(Request("GET", path), endpoint=f"GET {path}", check=helpers.is_group_types_body)
    except ApiError as exc:
        if exc.status == 404:
            raise ConfigError(f"posthog: project {projects[0]} not found (404) - check {settings.PROJECT_SETTING}") from None
        raise
    group_types = helpers.group_type_rows(projects[0], body)
    if group_types:
        path = settings.METRICS_PATH.format(project_id=projects[0], group_type_index=group_types[0]["group_type_index"])
        client.request(Request("GET", path, params={"limit": 1}), endpoint=f"GET {path}", check=helpers.is_metrics_body)
    return f"{len(projects)} project(s)"


def _statsig(client: Any, values: dict) -> str:
    """The metrics list, one item."""
    from sources.statsig import helpers, settings

    request = Request("GET", settings.METRICS_ENDPOINT, params={"page": 1, "limit": 1})
    client.request(request, endpoint="GET /metrics/list", check=helpers.is_list_body)
    return f"metric values from {values['start_date'] or 'start_date (not set: --from needed)'}"


PROBES: dict[str, Callable[[Any, dict], str]] = {
    "whop": _whop, "stripe_analytics": _stripe, "posthog": _posthog, "statsig": _statsig,
}


def destination_summary(destination: str, provider: str) -> str:
    """Connect to the destination without creating anything; `<type>:<where>` and whether the
    provider's dataset exists yet."""
    from pipelines.warehouse.reads import Warehouse

    from pipelines.accounts import configured_accounts, refuse_tables_without_account

    with Warehouse(destination, provider) as warehouse:
        exists = warehouse.has_dataset()
        where, dataset = warehouse.where, warehouse.dataset
        if exists and configured_accounts(provider):
            refuse_tables_without_account(provider, dataset, warehouse.query)
    return f"destination {destination}:{where} (dataset {dataset}{'' if exists else ' not created yet'})"


def check_provider(provider: str, destination: str, account: Optional[Account] = None) -> tuple[int, str]:
    """One line for the provider, or for one of its accounts (that account's key, id and scope)."""
    from pipelines.runner import describe_failure, schema_contract
    from sources._common.config.strict import check_settings

    params = account.params if account else {}
    label = f"{provider} (account {account.name})" if account else provider
    try:
        check_settings(provider, source_factory(provider))
        schema_contract(provider)
        source = source_factory(provider)(control=RunControl(), **params)  # every check `run` makes; no request yet
        summary = PROBES[provider](latest_client(provider), {**setting_values(provider), **params})
        del source
        where = destination_summary(destination, provider)
    except Exception as exc:  # one line per provider, as in `run`
        logger.debug("%s: check failed", label, exc_info=True)
        code, line = describe_failure(provider, exc, destination)
        return code, label + line[len(provider):] if line.startswith(f"{provider}:") else line
    return 0, f"{label}: ok - key accepted, {summary}, {where}"


def check_command(providers: list[str], destination: str) -> int:
    """Each provider, or each of its configured accounts (`sources.<provider>.accounts`)."""
    from pipelines.runner import describe_failure

    codes = []
    for provider in providers:
        try:
            accounts: list = configured_accounts(provider) or [None]
        except ConfigError as exc:
            accounts, (code, line) = [], describe_failure(provider, exc, destination)
            print(line, file=sys.stderr, flush=True)
            codes.append(code)
        for account in accounts:
            code, line = check_provider(provider, destination, account)
            print(line, file=sys.stdout if code == 0 else sys.stderr, flush=True)
            codes.append(code)
    return exit_code(codes)

def register(commands) -> None:
    check = add_command(commands, "check", "validate config, prove each API key with at most two cheap requests, "
                        "connect to the destination; loads nothing",
                        "metricsync check all", "metricsync check whop --destination postgres")
    check.add_argument("providers", nargs="*", default=["all"], metavar="provider",
                       help=PROVIDER_HELP + " (default all)")


def main(args: Any) -> int:
    return check_command(providers_to_run(args.providers), args.destination)
