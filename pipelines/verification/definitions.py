"""`verify` of definition tables (scd2 snapshots: Whop's wallet schema, Statsig's metrics,
PostHog's group types): the current rows (`_dlt_valid_to IS NULL`) must be exactly the API's list.

A row is compared by the hash dlt itself stores for an scd2 row in `_dlt_id` (its whole content,
nested lists included, `dlt.common.normalizers.json.helpers.get_row_hash`), counted with its
multiplicity: a row the API lists that is not current in the warehouse is missing, a current row
the API no longer lists is extra (a changed definition is one of each), a current row twice is
duplicated. The API's list is fetched as a load would (the provider's source, its client, the
account's column), without loading.

    drift = DefinitionDrift("posthog", None, "group_types")
    drift.compare(api_rows, stored_ids)
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Optional

from dlt.common.normalizers.json.helpers import get_row_hash

from pipelines.accounts import ACCOUNT_COLUMN, Account, scope_to_account
from pipelines.providers import source_factory
from pipelines.verification.compare import plural
from sources._common.load.progress import RunControl
from sources._common.load.windows import utc_today


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
    windows: list = field(default_factory=list)  # none: a definition table has no windows

    @property
    def query(self) -> None:
        return None

    @property
    def clean(self) -> bool:
        return not self.drifted

    @property
    def drifted(self) -> int:
        """Rows that differ."""
        return self.missing + self.extra + self.duplicated

    def compare(self, api: list[dict], stored: list[str]) -> None:
        """`api` rows as the source yields them, `stored` the `_dlt_id` of each current row."""
        wanted, held = Counter(get_row_hash(row) for row in api), Counter(stored)
        self.missing = sum((wanted - held).values())
        self.extra = sum(n for row, n in held.items() if row not in wanted)
        self.duplicated = sum(n - wanted[row] for row, n in held.items() if row in wanted and n > wanted[row])
        self.rows_compared = sum((wanted | held).values())

    def line(self) -> str:
        """`posthog group_types: definitions differ from the API's list: 1 row missing, 1 row extra`"""
        who = f"{self.provider} (account {self.account})" if self.account else self.provider
        counts = [f"{plural(n, 'row')} {what}" for n, what in ((self.missing, "missing"), (self.extra, "extra"),
                                                               (self.duplicated, "duplicated")) if n]
        return f"{who} {self.resource}: definitions differ from the API's list: " + ", ".join(counts)

    def as_json(self) -> dict:
        return {"provider": self.provider, "account": self.account, "resource": self.resource, "query": None,
                "kind": "definitions", "windows": 0, "rows_compared": self.rows_compared, "clean": self.clean,
                "drifted_periods": [], "missing": self.missing, "extra": self.extra, "changed": 0,
                "duplicated": self.duplicated, "dimension_set_changes": 0, "max_abs_delta": None,
                "delta_unit": None}


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


def stored_ids(warehouse: Any, table: str, account: Optional[str]) -> list[str]:
    """The `_dlt_id` of every current row of `table` (the account's), none when it does not exist."""
    if table not in warehouse.tables():
        return []
    where, args = "", []
    if account:
        where, args = f" and {warehouse.quote(ACCOUNT_COLUMN)} = %s", [account]
    rows = warehouse.query(f"select {warehouse.quote('_dlt_id')} from {warehouse.table(table)} "
                           f"where {warehouse.quote('_dlt_valid_to')} is null{where}", *args)
    return [row[0] for row in rows]
