"""`check`: prove a provider's configuration, key and destination without loading anything.

Per provider: the source is built with the same checks as `run` (every setting, every query),
then at most two cheap authenticated requests go out through the source's own client, and the
destination is connected to without creating a dataset. One line each, e.g.

    whop: ok - key accepted, 3 wallet + 2 metric queries, destination duckdb:/data/metricsync.duckdb

With `sources.<provider>.accounts`, each account is checked with its own key and scope:

    whop (account north): ok - key accepted, 3 wallet + 2 metric queries, destination duckdb:...

`check all` then names the dbt project `transform` and `query` run from here (this project's own
copy, `./transform`, else the one packaged with metricsync) and where dbt writes:

    transform: ok - dbt project transform (this project's own copy), artifacts in transform/target
"""

import logging
import sys
from typing import Any, Optional

from metricsync.accounts import Account, configured_accounts, refuse_tables_without_account
from metricsync.catalog import setting_values
from metricsync.commands._options import PROVIDER_HELP, add_command, providers_to_run
from metricsync.exits import exit_code
from metricsync.providers import provider_module, source_factory
from metricsync.runner import describe_failure, schema_contract
from metricsync.sources._common.config.strict import check_settings
from metricsync.sources._common.errors import ConfigError
from metricsync.sources._common.http.client import latest_client
from metricsync.sources._common.load.progress import RunControl
from metricsync.warehouse.reads import Warehouse

logger = logging.getLogger("metricsync.check")


def destination_summary(destination: str, provider: str) -> str:
    """Connect to the destination without creating anything; `<type>:<where>` and whether the
    provider's dataset exists yet."""

    with Warehouse(destination, provider) as warehouse:
        exists = warehouse.has_dataset()
        where, dataset = warehouse.label, warehouse.dataset
        if exists and configured_accounts(provider):
            refuse_tables_without_account(provider, dataset, warehouse.query, destination)  # type: ignore[arg-type]  # the dataset exists here
    return f"destination {where} (dataset {dataset}{'' if exists else ' not created yet'})"


def check_provider(provider: str, destination: str, account: Optional[Account] = None) -> tuple[int, str]:
    """One line for the provider, or for one of its accounts (that account's key, id and scope)."""

    params = account.params if account else {}
    label = f"{provider} (account {account.name})" if account else provider
    try:
        check_settings(provider, source_factory(provider))
        schema_contract(provider)
        source = source_factory(provider)(control=RunControl(), **params)  # every check `run` makes; no request yet
        summary = provider_module(provider, "helpers").probe(
            latest_client(provider), {**setting_values(provider), **params}
        )
        del source
        where = destination_summary(destination, provider)
    except Exception as exc:  # one line per provider, as in `run`
        logger.debug("%s: check failed", label, exc_info=True)
        code, line = describe_failure(provider, exc, destination)
        return code, label + line[len(provider) :] if line.startswith(f"{provider}:") else line
    return 0, f"{label}: ok - key accepted, {summary}, {where}"


def dbt_project_line() -> tuple[int, str]:
    """Which dbt project `transform` and `query` run from here, and where dbt writes."""
    from metricsync.dbt.project import dbt_project  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt and dbt load when the command runs

    project = dbt_project()
    if not (project.path / "dbt_project.yml").is_file():
        return 2, f"transform: no dbt project in {project.path} - reinstall metricsync"
    return 0, f"transform: ok - {project.describe()}"


def check_command(providers: list[str], destination: str, dbt: bool = False) -> int:
    """Each provider, or each of its configured accounts (`sources.<provider>.accounts`); with
    `dbt` (`check all`), then the dbt project."""
    from metricsync.runner import describe_failure  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt and dbt load when the command runs

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
    if dbt:
        code, line = dbt_project_line()
        print(line, file=sys.stdout if code == 0 else sys.stderr, flush=True)
        codes.append(code)
    return exit_code(codes)


def register(commands) -> None:
    check = add_command(
        commands,
        "check",
        "metricsync check all",
        "metricsync check whop --destination postgres",
    )
    check.add_argument(
        "providers", nargs="*", default=["all"], metavar="provider", help=PROVIDER_HELP + " (default all)"
    )


def main(args: Any) -> int:
    return check_command(providers_to_run(args.providers), args.destination, dbt="all" in args.providers)
