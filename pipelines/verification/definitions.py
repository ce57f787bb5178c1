"""`verify` of definition tables (scd2 snapshots: Whop's wallet schema, Statsig's metrics,
PostHog's group types): the current rows (`_dlt_valid_to IS NULL`) must be exactly the API's list.

A row is compared by the hash dlt itself stores for an scd2 row in `_dlt_id` (its whole content,
nested lists included, `dlt.common.normalizers.json.helpers.get_row_hash`), counted with its
multiplicity: a row the API lists that is not current in the warehouse is missing, a current row
the API no longer lists is extra (a changed definition is one of each), a current row twice is
duplicated, and a current row whose values are not what its hash says (edited in place) is
changed. The API's list is fetched as a load would (the provider's source, its client, the
account's column), without loading.

    drift = DefinitionDrift("posthog", None, "group_types")
    drift.compare([shaped(schema, "group_types", row) for row in api_rows], stored_rows(warehouse, "group_types", None))
"""

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Optional

from dlt.common.data_types import coerce_value, py_type_to_sc_type
from dlt.common.normalizers.json.helpers import get_row_hash
from dlt.common.schema import Schema
from metricsync.accounts import ACCOUNT_COLUMN, Account, scope_to_account
from metricsync.providers import source_factory
from metricsync.sources._common.load.progress import RunControl
from metricsync.sources._common.load.windows import utc_today
from metricsync.verification.compare import plural, same

DLT_ID = "_dlt_id"


@dataclass
class DefinitionDrift:
    """What one verify found for one definition table of one (provider, account)."""

    provider: str
    account: Optional[str]
    resource: str
    rows_compared: int = 0
    missing: int = 0
    extra: int = 0
    duplicated: int = 0
    changed: int = 0  # rows whose stored values differ from what their row hash says (edited in place)
    windows: list = field(default_factory=list)  # none: a definition table has no windows
    retire: set = field(default_factory=set)  # `_dlt_id`s whose current rows a repair closes first

    @property
    def query(self) -> None:
        return None

    @property
    def clean(self) -> bool:
        return not self.drifted

    @property
    def drifted(self) -> int:
        """Rows that differ."""
        return self.missing + self.extra + self.duplicated + self.changed

    def compare(self, api: list[tuple], stored: list[dict]) -> None:
        """`api` as (row hash, root row as stored) pairs (`shaped`), `stored` the current rows."""
        wanted, held = Counter(h for h, _row in api), Counter(row[DLT_ID] for row in stored)
        self.missing = sum((wanted - held).values())
        self.extra = sum(n for row, n in held.items() if row not in wanted)
        self.duplicated = sum(n - wanted[row] for row, n in held.items() if row in wanted and n > wanted[row])
        by_id = {row[DLT_ID]: row for row in stored}
        edited = {h for h, row in api if h in by_id and not _same_row(row, by_id[h])}
        self.changed = len(edited)
        self.retire = edited | {row for row, n in held.items() if row in wanted and n > wanted[row]}
        self.rows_compared = sum((wanted | held).values())

    def line(self) -> str:
        """`posthog group_types: definitions differ from the API's list: 1 row missing, 1 row extra`"""
        who = f"{self.provider} (account {self.account})" if self.account else self.provider
        counts = [
            f"{plural(n, 'row')} {what}"
            for n, what in (
                (self.missing, "missing"),
                (self.extra, "extra"),
                (self.duplicated, "duplicated"),
                (self.changed, "changed"),
            )
            if n
        ]
        return f"{who} {self.resource}: definitions differ from the API's list: " + ", ".join(counts)

    def as_json(self) -> dict:
        return {
            "provider": self.provider,
            "account": self.account,
            "resource": self.resource,
            "query": None,
            "kind": "definitions",
            "windows": 0,
            "rows_compared": self.rows_compared,
            "clean": self.clean,
            "drifted_periods": [],
            "missing": self.missing,
            "extra": self.extra,
            "changed": self.changed,
            "duplicated": self.duplicated,
            "dimension_set_changes": 0,
            "max_abs_delta": None,
            "delta_unit": None,
        }


def api_rows(provider: str, account: Optional[Account], tables: list[str]) -> dict:
    """table -> the rows the provider's source yields for it now (the account's column added)."""
    today = utc_today()  # as a backfill (no start_date needed); a windowed resource would only plan
    control = RunControl(backfill=(today, today), plan_only={})
    try:
        source = source_factory(provider)(control=control, **(account.params if account else {}))
        source = source.with_resources(*tables)
        if account:
            scope_to_account(source, account.name)
        return {table: [row for row in source.resources[table] if isinstance(row, dict)] for table in tables}
    finally:
        control.close()


def shaped(schema: Optional[Schema], table: str, row: dict) -> tuple:
    """(the row hash dlt stores in `_dlt_id`, the root row as dlt writes it: names normalized,
    objects flattened, values coerced to the stored column types; nested lists left out)."""
    row_hash = get_row_hash(row)
    if schema is None:
        return row_hash, {}
    (_path, root), *_nested = schema.normalize_data_item(dict(row), "0", table)
    columns = schema.tables.get(table, {}).get("columns", {})
    return row_hash, {
        name: _coerced(columns.get(name, {}).get("data_type"), value)
        for name, value in root.items()
        if not name.startswith("_dlt")
    }


def _coerced(data_type: Optional[str], value: Any) -> Any:
    if data_type is None or value is None:
        return value
    try:
        return coerce_value(data_type, py_type_to_sc_type(type(value)), value)
    except (ValueError, TypeError):
        return value


def _same_row(api: dict, stored: dict) -> bool:
    names = {*api, *(name for name in stored if not name.startswith("_dlt"))}
    return all(same(api.get(name), stored.get(name)) for name in names)


def stored_rows(warehouse: Any, table: str, account: Optional[str]) -> list[dict]:
    """Every current row of `table` (the account's), none when it does not exist."""
    columns = warehouse.columns(table)
    if not columns:
        return []
    where, args = "", []
    if account:
        where, args = f" and {warehouse.quote(ACCOUNT_COLUMN)} = %s", [account]
    rows = warehouse.query(
        f"select {', '.join(map(warehouse.quote, columns))} from {warehouse.table(table)} "
        f"where {warehouse.quote('_dlt_valid_to')} is null{where}",
        *args,
    )
    return [dict(zip(columns, row)) for row in rows]


def retire(warehouse: Any, table: str, account: Optional[str], ids: set, when: dt.datetime) -> None:
    """Close the current rows with these `_dlt_id`s (edited in place or duplicated), as scd2
    closes a retired version: the repair's load then inserts the API's row as the current one."""
    where, args = "", []
    if account:
        where, args = f" and {warehouse.quote(ACCOUNT_COLUMN)} = %s", [account]
    for row_id in sorted(ids):
        warehouse.query(
            f"update {warehouse.table(table)} set {warehouse.quote('_dlt_valid_to')} = %s where "
            f"{warehouse.quote('_dlt_valid_to')} is null and {warehouse.quote(DLT_ID)} = %s{where}",
            when,
            row_id,
            *args,
        )
