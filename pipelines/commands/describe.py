"""`describe`: what each provider would load, without a request: its resources and tables (write
disposition, keys, columns - from the schema stored in the destination when there is one, else
from the resource hints), every setting with its default and environment variable, and the
configured queries.

    whop
      resources:
        wallet_time_series: merge, key query_name, period, currency; queries daily_all, weekly_usd
          columns: query_name text, period date, currency text, amount decimal, ...
      settings (sources.whop.<key> / env):
        api_key  (set)  SOURCES__WHOP__API_KEY
        base_url = 'https://api.whop.com/api/v1'  SOURCES__WHOP__BASE_URL
      accounts (sources.whop.accounts; rows carry `account`):
        north: account_id='biz_north'
"""

import sys
from typing import Any, Optional

from metricsync.accounts import configured_accounts
from metricsync.catalog import DEFINITIONS, WINDOWED, configured_queries, settings
from metricsync.commands._options import add_command, providers_to_run
from metricsync.output import document
from metricsync.providers import PROVIDERS, source_factory
from metricsync.settings_schema import json_schema
from metricsync.sources._common.load.progress import RunControl
from metricsync.warehouse.reads import Warehouse


def _stored_tables(provider: str, destination: str) -> dict:
    try:
        with Warehouse(destination, provider) as warehouse:
            return (warehouse.schema() or {}).get("tables", {})
    except Exception:  # noqa: BLE001 - no destination configured yet: describe from the hints only
        return {}


def _hinted_tables(provider: str) -> dict:
    """Table schemas from the source's own hints (needs its configuration to build)."""

    try:
        source = source_factory(provider)(control=RunControl())
    except Exception:  # noqa: BLE001 - unconfigured: resource names only
        return {}
    return {name: resource.compute_table_schema() for name, resource in source.resources.items()}


def _disposition(table: dict) -> str:
    disposition = table.get("write_disposition", "append")
    if disposition == "merge" and table.get("x-merge-strategy"):
        return f"merge ({table['x-merge-strategy']})"
    return disposition


def _table_lines(name: str, table: Optional[dict], stored: bool, queries: Optional[list]) -> list[str]:
    table = table or {}
    columns = table.get("columns", {})
    key = [c for c, spec in columns.items() if spec.get("primary_key")]
    merge_key = [c for c, spec in columns.items() if spec.get("merge_key")]
    head = f"    {name}: {_disposition(table) if table else '?'}"
    if key:
        head += f", key {', '.join(key)}"
    if merge_key:
        head += f", merge key {', '.join(merge_key)}"
    if not stored:
        head += ", not in the destination yet"
    if queries is not None:
        head += f"; queries: {', '.join(queries) if queries else 'none configured'}"
    lines = [head]
    shown = [
        f"{c} {spec['data_type']}" if spec.get("data_type") else c
        for c, spec in columns.items()
        if not c.startswith("_dlt")
    ]
    if shown:
        lines.append(f"      columns: {', '.join(shown)}")
    return lines


def _shown(value: Any, secret: bool) -> str:
    if secret:
        return "(set)" if value else "(not set)"
    if value is None:
        return "-"
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return f"{len(value)} entries"
    return repr(value)


def describe_provider(provider: str, destination: str) -> list[str]:
    stored = _stored_tables(provider, destination)
    tables = {**_hinted_tables(provider), **stored}
    queries = configured_queries(provider)
    lines = [provider, "  resources (tables):"]
    for name in [*DEFINITIONS[provider], *WINDOWED[provider]]:
        lines.extend(_table_lines(name, tables.get(name), name in stored, queries.get(name)))
    lines.append(f"  settings (sources.{provider}.<key> in .dlt/config.toml, or the environment variable):")
    lines.append(f"    {'key':<20} {'configured':<32} {'default':<30} environment variable")
    for setting in settings(provider):
        # accounts may hold their own keys: listed below, keys shown as set
        shown = (
            ("(listed below)" if setting.value else "-")
            if setting.name == "accounts"
            else (_shown(setting.value, setting.secret))
        )
        lines.append(
            f"    {setting.name:<20} {shown:<32} "
            f"{'-' if setting.secret else _shown(setting.default, False):<30} {setting.env}"
        )
    lines.extend(_account_lines(provider))
    return lines


def _account_lines(provider: str) -> list[str]:
    """Each configured account: its name, pipeline and what it sets (its own key shown as set)."""

    try:
        accounts = configured_accounts(provider)
    except Exception as exc:  # noqa: BLE001 - describe shows the problem, `run` refuses it
        return [f"  accounts: invalid - {exc}"]
    if not accounts:
        return [f"  accounts: none (one pipeline; sources.{provider}.accounts for many)"]
    lines = [f"  accounts (sources.{provider}.accounts; rows carry `account`):"]
    for account in accounts:
        shown = [f"{k}={'(set)' if k == 'api_key' else repr(v)}" for k, v in account.params.items()]
        lines.append(f"    {account.name}: {', '.join(shown) or 'the provider settings'}")
    return lines


def describe_command(providers: list[str], destination: str) -> int:
    out: list[Any] = []
    for provider in providers:
        out.extend(describe_provider(provider, destination))
        out.append("")
    sys.stdout.write("\n".join(out))
    return 0


def register(commands) -> None:
    describe = add_command(
        commands,
        "describe",
        "metricsync describe stripe_analytics",
        "metricsync describe --json-schema",
    )
    describe.add_argument(
        "providers",
        nargs="*",
        default=list(PROVIDERS),
        metavar="provider",
        help=f"{', '.join(PROVIDERS)} (default: every provider)",
    )
    describe.add_argument(
        "--json-schema", action="store_true", help="print a JSON Schema (draft 2020-12) of every setting instead"
    )


def main(args: Any) -> int:
    if args.json_schema:
        document(json_schema())
        return 0
    return describe_command(providers_to_run(args.providers), args.destination)
