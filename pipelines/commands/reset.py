"""`reset`: forget what was loaded for some queries or resources, so that the next run reloads
them from `start_date` (a re-sync of a table, as in Fivetran); `--drop-rows` also deletes their
rows. Done with dlt's own `pipeline_drop` (state and tables change in one dlt load), on the state
restored from the destination, under the pipeline's locks and the dataset's write turn (`pipelines/locks/`).

    $ metricsync reset whop --queries daily_all --drop-rows --yes
    whop: reset wallet_time_series/daily_all (state forgotten, rows deleted) - the next run reloads it from start_date

With `sources.<provider>.accounts`, each account (or those named by `--accounts`) is reset on its
own: its pipeline's state, and with `--drop-rows` only its rows (`account = <name>`) in the
tables all accounts share.
"""

import argparse
import sys
from typing import Any, Optional

import dlt
from dlt.common.pipeline import get_dlt_pipelines_dir
from dlt.pipeline.helpers import pipeline_drop
from metricsync.accounts import ACCOUNT_COLUMN, configured_accounts, select_accounts
from metricsync.catalog import WINDOWED, suggest
from metricsync.commands._options import add_command, providers_to_run, selection_options
from metricsync.operations import tell
from metricsync.providers import PROVIDERS
from metricsync.runner import describe_failure, lock_wait_seconds
from metricsync.sources._common.errors import ConfigError
from metricsync.warehouse.destinations import dataset_name, make_destination, pipeline_name


def _stored_queries(state: dict, provider: str) -> dict[str, list[str]]:
    resources = state.get("sources", {}).get(provider, {}).get("resources", {})
    return {r: sorted((resources.get(r) or {}).get("queries") or {}) for r in WINDOWED[provider]}


def plan_reset(provider: str, state: dict, tables: set, resources: Optional[list], queries: Optional[list]) -> tuple:
    """(resources to reset whole, [(resource, query)] to reset), checked against what is stored."""
    stored = _stored_queries(state, provider)
    known = sorted(set(WINDOWED[provider]) | tables)
    for name in resources or ():
        if name not in known:
            raise ConfigError(f"{provider}: no resource {name!r}{suggest(name, known)}")
    if not queries:
        return list(resources or [r for r in known if stored.get(r) or r in tables]), []
    scope = resources or list(stored)
    pairs = [(r, q) for r in scope for q in stored.get(r, ()) if q in queries]
    names = sorted({q for r in scope for q in stored.get(r, ())})
    for name in queries:
        if name not in names:
            hint = suggest(name, names) if names else " - nothing is loaded for any query"
            raise ConfigError(f"{provider}: no loaded query {name!r}{hint}")
    return [], pairs


def _confirm(text: str, assume_yes: bool) -> bool:
    if assume_yes or not sys.stdin.isatty():
        return True
    return input(f"{text}? [y/N] ").strip().lower() in ("y", "yes")


def reset_command(provider: str, args: argparse.Namespace) -> int:
    """Reset the provider, or with `sources.<provider>.accounts` each selected account (`--accounts`,
    default all): that account's own state, and with --drop-rows only its rows."""

    try:
        accounts = select_accounts(provider, configured_accounts(provider), getattr(args, "accounts", None))
    except Exception as exc:  # noqa: BLE001 - one line, as in `run`
        return _told(provider, None, *describe_failure(provider, exc, args.destination))
    codes = [_reset_one(provider, args, None, legacy=True)] if accounts and _whole_drop(args) else []
    codes += [_reset_one(provider, args, account.name) for account in accounts] or [_reset_one(provider, args, None)]
    return max(codes)


def _whole_drop(args: argparse.Namespace) -> bool:
    """`reset <provider> --drop-rows`: everything of the provider (no resource or query named)."""
    return bool(args.drop_rows and not args.resources and not args.queries)


def _reset_one(provider: str, args: argparse.Namespace, account: Optional[str], legacy: bool = False) -> int:
    """Reset one pipeline: the provider's, or one account's; `legacy`: with accounts configured, the
    provider's pipeline from before them, whose tables (without an `account` column) are dropped,
    if it loaded anything (`refuse_tables_without_account` advises this), quietly otherwise."""
    from metricsync.locks import Owner, dataset_turn, pipeline_lock, warehouse_lock  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt and dbt load when the command runs
    from metricsync.runner import describe_failure  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt and dbt load when the command runs

    label = (
        f"{provider} (account {account})"
        if account
        else (f"{provider} (loaded without accounts)" if legacy else provider)
    )
    pipelines_dir = args.pipelines_dir or get_dlt_pipelines_dir()
    try:
        dataset = dataset_name(provider)
        destination = make_destination(args.destination, dataset)
        name = pipeline_name(provider, destination.destination_name, account)  # the runner's pipeline, same lock
        wait, owner = lock_wait_seconds(provider), Owner()
        with pipeline_lock(name, pipelines_dir, provider, wait, owner):
            pipeline = dlt.pipeline(
                pipeline_name=name, destination=destination, dataset_name=dataset, pipelines_dir=pipelines_dir
            )
            # no run of this pipeline meanwhile, and no other writer of the dataset while it is changed
            with warehouse_lock(pipeline, provider, wait, owner), dataset_turn(pipeline, provider, wait, owner):
                pipeline.sync_destination()
                if not pipeline.default_schema_name:
                    if not legacy:
                        return _told(
                            provider, account, 0, f"{label}: nothing loaded in {args.destination} - nothing to reset"
                        )
                    return 0
                tables = {t for t in pipeline.default_schema.data_table_names()}
                whole, pairs = plan_reset(provider, pipeline.state, tables, args.resources, args.queries)
                what = ", ".join(whole + [f"{r}/{q}" for r, q in pairs])
                action = "state forgotten, rows deleted" if args.drop_rows else "state forgotten, rows kept"
                if not what:
                    return _told(provider, account, 0, f"{label}: nothing loaded - nothing to reset")
                if not _confirm(f"reset {label}: {what} ({action})", args.yes):
                    return _told(provider, account, 2, f"{label}: reset cancelled")
                views = _apply(pipeline, whole, pairs, tables, args.drop_rows, account)
    except Exception as exc:  # noqa: BLE001 - one line, as in `run`
        return _told(provider, account, *describe_failure(provider, exc, args.destination))
    then = "the next run loads each account from start_date" if legacy else "the next run reloads from start_date"
    rebuilt = (
        (
            f"; views built on them were dropped ({', '.join(views)}): run `metricsync transform --destination "
            f"{args.destination}` after that run"
        )
        if views
        else ""
    )
    return _told(provider, account, 0, f"{label}: reset {what} ({action}) - {then}{rebuilt}")


def _told(provider: str, account: Optional[str], code: int, line: str) -> int:
    """Print the reset's line (stderr when it failed) and note it for the history; its exit code."""

    print(line, file=sys.stderr if code else sys.stdout)
    tell("reset", provider, account, code, line)
    return code


def _apply(pipeline: Any, whole: list, pairs: list, tables: set, drop_rows: bool, account: Optional[str]) -> list:
    """Forget the state of `whole` resources and of the (resource, query) `pairs`; with `drop_rows`
    the whole resources' tables are dropped (an account's rows deleted: it shares them) and the
    pairs' rows deleted. Returns the views dropped with the tables."""

    views: list = []
    if whole:
        drop = pipeline_drop(pipeline, resources=whole, state_only=bool(account) or not drop_rows)
        views = drop_dependent_views(pipeline, drop.info["tables"]) if drop.drop_tables else []
        drop()
    if pairs:
        paths = [f"resources.{r}.queries.{q}" for r, q in pairs]
        pipeline_drop(pipeline, state_paths=paths, state_only=True)()
    if drop_rows:
        _delete_rows(pipeline, pairs + ([(r, None) for r in whole] if account else []), tables, account)
    return views


def drop_dependent_views(pipeline: Any, tables: list) -> list[str]:
    """Postgres refuses to drop a table a view is built on (dbt's marts): those views go first, with
    the views built on them; the names of the first are returned. DuckDB, MySQL/MariaDB and most
    warehouses drop a table under a view, which `transform` then rebuilds."""
    if pipeline.destination.destination_type.rsplit(".", 1)[-1] not in ("postgres", "redshift") or not tables:
        return []
    with pipeline.sql_client() as client:
        marks = ", ".join(["%s"] * len(tables))
        rows = (
            client.execute_sql(
                "select distinct view_schema, view_name from information_schema.view_table_usage "
                f"where table_schema = %s and table_name in ({marks}) order by 1, 2",
                client.dataset_name,
                *tables,
            )
            or []
        )
        for schema, view in rows:
            client.execute_sql(
                f"drop view if exists {client.escape_column_name(schema)}.{client.escape_column_name(view)} cascade"
            )
    return [f"{schema}.{view}" for schema, view in rows]


def _delete_rows(pipeline: object, pairs: list, tables: set, account: Optional[str]) -> None:
    """Rows of the reset (resource, query) pairs (query None: the whole resource): by `query_name`
    (the whole table when it has no such column), and only `account`'s rows when given."""

    with pipeline.sql_client() as client:  # type: ignore[attr-defined]
        for resource, query in pairs:
            if resource not in tables:
                continue
            columns = pipeline.default_schema.get_table_columns(resource)  # type: ignore[attr-defined]
            conditions, values = [], []
            if query is not None and "query_name" in columns:
                conditions.append("query_name = %s")
                values.append(query)
            if account is not None:
                conditions.append(f"{ACCOUNT_COLUMN} = %s")
                values.append(account)
            where = (" where " + " and ".join(conditions)) if conditions else ""
            client.execute_sql(f"delete from {client.make_qualified_table_name(resource)}{where}", *values)


def register(commands) -> None:
    reset = add_command(
        commands,
        "reset",
        "metricsync reset whop --queries daily_all --yes",
        "metricsync reset statsig --resources metric_values --drop-rows",
        "metricsync reset whop --accounts north --drop-rows --yes",
    )
    reset.add_argument("provider", metavar="provider", help=", ".join(PROVIDERS))
    selection_options(reset)
    reset.add_argument(
        "--accounts",
        nargs="+",
        metavar="NAME",
        help="only these of sources.<provider>.accounts (their state and, with --drop-rows, their rows)",
    )
    reset.add_argument("--drop-rows", action="store_true", help="also delete the rows of those resources/queries")
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def main(args: argparse.Namespace) -> int:
    return reset_command(providers_to_run([args.provider])[0], args)
