"""Many accounts of one provider: `sources.<provider>.accounts`, a list of objects such as

    [{"name": "north", "account_id": "biz_north"},
     {"name": "south", "account_id": "biz_south", "api_key": "..."}]

Each account keeps the state of its own dlt pipeline (`<provider>__<account>__<destination>`), so
accounts backfill, resume and fail independently (Whop's and Stripe's load in groups, batched.py); all load into the provider's one dataset,
their rows carrying an `account` column that leads every key. Without `accounts` a provider runs
as one pipeline with today's tables (no `account` column).
"""

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import dlt
import pyarrow as pa
from metricsync.providers import provider_facts
from metricsync.sources._common.errors import ConfigError

# the source arguments an account may set, besides `api_key` (default: the provider's key)
ACCOUNT_PARAMS = provider_facts("ACCOUNT_PARAMS")
ACCOUNT_COLUMN = "account"
NAME = re.compile(r"^[a-z0-9][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class Account:
    name: str
    params: dict = field(default_factory=dict)  # keyword arguments for the provider's source


def _parse(provider: str, value: Any) -> list:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ConfigError(
                f"{provider}: accounts is not valid JSON - set SOURCES__{provider.upper()}__ACCOUNTS "
                'to a list like [{"name": "north", ...}]'
            ) from None
    if not isinstance(value, (list, tuple)) or not all(isinstance(a, dict) for a in value):
        raise ConfigError(f"{provider}: accounts must be a list of objects, each with a name")
    return list(value)


def configured_accounts(provider: str) -> list[Account]:
    """The accounts listed in `sources.<provider>.accounts` (empty when not set), checked."""
    value = dlt.config.get(f"sources.{provider}.accounts")
    if value in (None, "", []):
        return []
    allowed = {"name", "api_key", *ACCOUNT_PARAMS[provider]}
    accounts: list[Account] = []
    for entry in _parse(provider, value):
        name = str(entry.get("name") or "")
        if not NAME.match(name):
            raise ConfigError(
                f"{provider}: account name {name!r} - use lowercase letters, digits and _ "
                "(it is part of the pipeline name)"
            )
        if any(a.name == name for a in accounts):
            raise ConfigError(f"{provider}: two accounts are named {name!r} - names must be unique")
        unknown = sorted(set(entry) - allowed)
        if unknown:
            raise ConfigError(f"{provider}: account {name!r} has unknown keys {unknown} - allowed: {sorted(allowed)}")
        accounts.append(Account(name, {k: v for k, v in entry.items() if k != "name" and v not in (None, "")}))
    return accounts


def select_accounts(provider: str, accounts: list[Account], names: Optional[Sequence[str]]) -> list[Account]:
    """The accounts named on the command line (`--accounts a b`), all when none are named."""
    if not names:
        return accounts
    if not accounts:
        raise ConfigError(
            f"{provider}: --accounts given but no accounts are configured - "
            f"set sources.{provider}.accounts (see docs/scaling-out.md)"
        )
    known = {a.name: a for a in accounts}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"{provider}: no account named {unknown[0]!r} - configured: {', '.join(known)}")
    return [known[n] for n in dict.fromkeys(names)]


def with_account(account: str, item: Any) -> Any:
    """Add the constant `account` column to an Arrow table/batch or a row dict."""
    if isinstance(item, (pa.Table, pa.RecordBatch)):
        if ACCOUNT_COLUMN in item.schema.names:
            return item
        # not null, as the key column dlt declares it (a nullable one makes dlt warn on every page)
        return item.append_column(
            pa.field(ACCOUNT_COLUMN, pa.string(), nullable=False), pa.array([account] * item.num_rows, pa.string())
        )
    if isinstance(item, dict):
        item.setdefault(ACCOUNT_COLUMN, account)
    return item


def _keys(columns: dict, prop: str) -> list[str]:
    return [name for name, column in columns.items() if column.get(prop)]


def scope_to_account(source: Any, account: str) -> Any:
    """Every row of `source` gets `account`, which leads every primary and merge key. scd2 tables
    get `account` as merge key (dlt's incremental scd2): an account's snapshot only retires that
    account's rows, never another's."""
    for resource in source.selected_resources.values():
        resource.add_map(functools.partial(with_account, account))
        schema = resource.compute_table_schema()
        columns = schema.get("columns", {})
        disposition = resource.write_disposition
        scd2 = isinstance(disposition, dict) and disposition.get("strategy") == "scd2"
        primary, merge = _keys(columns, "primary_key"), _keys(columns, "merge_key")
        hints: dict = {}
        if primary:
            hints["primary_key"] = [ACCOUNT_COLUMN, *primary]
        if merge or scd2:
            hints["merge_key"] = [ACCOUNT_COLUMN, *merge]
        if hints:
            resource.apply_hints(**hints)
    return source


def tables_without_account(dataset: str, query: Any) -> list[str]:
    """The data tables of `dataset` without an `account` column (loaded before accounts were
    configured). `query(sql, *args)` runs SQL on the destination."""
    rows = query("select table_name, column_name from information_schema.columns where table_schema = %s", dataset)
    columns: dict[str, set] = {}
    for table, column in rows:
        columns.setdefault(str(table), set()).add(str(column).lower())
    return sorted(
        t for t, names in columns.items() if not t.startswith(("_dlt", "_metricsync")) and ACCOUNT_COLUMN not in names
    )


def refuse_tables_without_account(provider: str, dataset: str, query: Any, destination: str) -> None:
    """Accounts added to a provider whose dataset was loaded without them: its tables have no
    `account` column, which every key of an account's rows leads with. Refused (exit 2) before
    anything is loaded, naming both ways out (the `reset` drops those tables)."""
    without = tables_without_account(dataset, query)
    if without:
        raise ConfigError(
            f"{provider}: accounts are configured but dataset {dataset} was loaded without them "
            f"(table {without[0]} has no {ACCOUNT_COLUMN} column) - set sources.{provider}.dataset_name "
            f"to a new dataset, or run `metricsync reset {provider} --drop-rows --destination "
            f"{destination}` first"
        )
