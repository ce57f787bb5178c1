"""How a window's stored rows are replaced: dlt's `delete-insert` merge, deleting by the merge key.

A windowed table has a primary key (every dimension) and a merge key (query and period, led by
`account` for an account's rows), and a window replaces every stored row of its periods. dlt
deletes the rows that match the primary key OR the merge key of a loaded row, a join no database
can hash: DuckDB compared every stored row of a period with every loaded row of it (55,200 rows
of 600 countries ran out of its 200 MB cap). The primary key adds nothing there (it contains the
merge key), so the delete is given as dlt's `destination_scope` instead: the rows whose merge key
is among the loaded ones, a plain semi-join on a few distinct keys, e.g. for Whop's metrics

    ("query_name", "period") IN (SELECT "query_name", "period" FROM "whop_staging"."metric_results")

dlt then ignores the merge key (it says so at every load: `pipelines/logs.py` shows that
warning at debug level). Only on the warehouses tested with it (`SCOPED`); others (BigQuery and
SQL Server have no `(a, b) IN (SELECT ...)`) keep dlt's own delete.
"""

from typing import Any

DELETE_INSERT = "delete-insert"
SCOPED = ("duckdb", "motherduck", "postgres", "sqlalchemy")  # MariaDB through sqlalchemy: tests/commands/test_destinations.py


def delete_scope(merge_key: list, escape: Any) -> str:
    """The rows of the table whose `merge_key` values are among the loaded rows' (`escape` quotes
    an identifier for the destination).

    >>> delete_scope(["query_name", "period"], lambda name: f'"{name}"')
    '("query_name", "period") IN (SELECT "query_name", "period" FROM {staging_table})'
    """
    columns = ", ".join(escape(name) for name in merge_key)
    left = f"({columns})" if len(merge_key) > 1 else columns
    return f"{left} IN (SELECT {columns} FROM {{staging_table}})"


def scope_merge_deletes(source: Any, factory: Any) -> Any:
    """Every `delete-insert` resource of `source` with a merge key deletes by it alone (call it
    after the keys are final, e.g. after `accounts.scope_to_account`)."""
    if factory.destination_type.rsplit(".", 1)[-1] not in SCOPED:
        return source
    escape = factory.capabilities().escape_identifier
    for resource in source.selected_resources.values():
        disposition = resource.write_disposition
        if not isinstance(disposition, dict) or disposition.get("strategy") != DELETE_INSERT:
            continue
        columns = resource.compute_table_schema().get("columns", {})
        merge_key = [name for name, column in columns.items() if column.get("merge_key")]
        if merge_key:
            resource.apply_hints(
                write_disposition={**disposition, "destination_scope": delete_scope(merge_key, escape)}
            )
    return source
