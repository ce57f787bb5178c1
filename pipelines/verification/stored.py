"""The warehouse side of `verify`: which periods hold each query's stored rows, the stored rows of a
window, and the record of each verification (`_metricsync_verifications`, read by `status`).

The record table is the only thing `verify` writes without `--repair`: one row per verified
query, in the provider's dataset, outside dlt (no load, no state, no schema change).
"""

import datetime as dt
from typing import Any, Optional

from metricsync.sources._common.load.windows import Window
from metricsync.verification.api import TableKeys

RECORD_TABLE = "_metricsync_verifications"
RECORD_COLUMNS = (
    "verified_at",
    "account",
    "resource",
    "query_name",
    "windows",
    "rows_compared",
    "drifted_periods",
    "clean",
    "repaired",
)


class StoredRows:
    """One provider's (and account's) stored rows, read through `reads.Warehouse`."""

    def __init__(self, warehouse: Any, account: Optional[str]) -> None:
        self.warehouse, self.account = warehouse, account
        self._columns: dict = {}

    def _where(self, keys: TableKeys, query: Optional[str]) -> tuple[str, list]:
        clauses, args = [], []
        if self.account:
            clauses.append(f"{self.warehouse.quote('account')} = %s")
            args.append(self.account)
        if keys.query and query is not None:
            clauses.append(f"{self.warehouse.quote(keys.query)} = %s")
            args.append(query)
        return " and ".join(clauses), args

    def periods(self, resource: str, keys: TableKeys) -> dict:
        """query -> the periods holding stored rows (the resource's name for a table of one query)."""
        if resource not in self.warehouse.tables():
            return {}
        where, args = self._where(keys, None)
        period, query = self.warehouse.quote(keys.period), keys.query and self.warehouse.quote(keys.query)
        rows = self.warehouse.query(
            f"select distinct {query + ', ' if query else ''}{period} from "
            f"{self.warehouse.table(resource)}{' where ' + where if where else ''}",
            *args,
        )
        found: dict = {}
        for row in rows if keys.query else [(resource, *row) for row in rows]:
            found.setdefault(row[0], set()).add(_day(row[1]))
        return found

    def rows(self, resource: str, keys: TableKeys, query: str, window: Window) -> list[dict]:
        """Every stored row of `query` whose period lies in `window`."""
        if resource not in self._columns:
            self._columns[resource] = self.warehouse.columns(resource)
        columns = self._columns[resource]
        if not columns:
            return []
        where, args = self._where(keys, query)
        period = self.warehouse.quote(keys.period)
        sql = (
            f"select {', '.join(map(self.warehouse.quote, columns))} from {self.warehouse.table(resource)} where "
            f"{where + ' and ' if where else ''}{period} >= %s and {period} < %s"
        )
        return [dict(zip(columns, row)) for row in self.warehouse.query(sql, *args, window.start, window.end)]


def record(warehouse: Any, drifts: list, repaired: bool, when: dt.datetime) -> None:
    """One row per verified query in `_metricsync_verifications`."""
    table = warehouse.table(RECORD_TABLE)
    warehouse.query(
        f"create table if not exists {table} (verified_at timestamp, account varchar(64), "
        "resource varchar(128), query_name varchar(256), windows bigint, rows_compared bigint, "
        "drifted_periods bigint, clean boolean, repaired boolean)"
    )
    stamp = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    for drift in drifts:
        warehouse.query(
            f"insert into {table} ({', '.join(RECORD_COLUMNS)}) values ({', '.join(['%s'] * len(RECORD_COLUMNS))})",
            stamp,
            drift.account,
            drift.resource,
            drift.query,
            len(drift.windows),
            drift.rows_compared,
            drift.drifted,
            drift.clean,
            repaired,
        )


def last_verifications(warehouse: Any) -> dict:
    """(account, resource, query) -> the newest record, as a dict (empty before any verify)."""
    if RECORD_TABLE not in warehouse.tables():
        return {}
    rows = warehouse.query(
        f"select {', '.join(RECORD_COLUMNS)} from {warehouse.table(RECORD_TABLE)} order by verified_at"
    )
    found = {}
    for row in rows:
        entry = dict(zip(RECORD_COLUMNS, row))
        found[(entry["account"], entry["resource"], entry["query_name"])] = entry
    return found


def _day(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value
