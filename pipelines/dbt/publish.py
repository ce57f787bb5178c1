"""Write-audit-publish of the dbt marts: `transform` builds and tests every model with the marts
in an audit schema (`metrics__audit`), and only when every node passed copies the audited mart
tables over the published ones (`metrics`) in one transaction. A failed build publishes nothing:
the previous mart stays whole and queryable, and the failed build stays in the audit schema for
inspection.

    published = publish(client, "metrics__audit", "metrics")  # ["dim_metric_definitions", ...]
"""

import logging
from typing import Any

logger = logging.getLogger("metricsync.transform")

AUDIT_SUFFIX = "__audit"


def audit_schema(published: str) -> str:
    """Where the marts are built and tested before publishing: `metrics` -> `metrics__audit`."""
    return published + AUDIT_SUFFIX


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def publish(client: Any, audit: str, published: str) -> list[str]:
    """Replace the tables of `published` by those of `audit` (dlt sql client `client`), all in one
    transaction: readers see the old mart or the new one, never a mix; a column not null in the
    audited table (a contract's constraint) is not null in the copy. Returns the tables."""
    rows = (
        client.execute_sql(
            "select table_name from information_schema.tables "
            f"where table_schema = '{audit}' and table_type = 'BASE TABLE'"
        )
        or []
    )
    tables = sorted(row[0] for row in rows)
    required = (
        client.execute_sql(  # the contract's not null columns, declared again on the copy
            "select table_name, column_name from information_schema.columns "
            f"where table_schema = '{audit}' and is_nullable = 'NO'"
        )
        or []
    )
    with client.begin_transaction():
        client.execute_sql(f"create schema if not exists {_quoted(published)}")
        for table in tables:
            target, source = f"{_quoted(published)}.{_quoted(table)}", f"{_quoted(audit)}.{_quoted(table)}"
            client.execute_sql(f"drop table if exists {target}")
            client.execute_sql(f"create table {target} as select * from {source}")
            for column in sorted(c for t, c in required if t == table):
                client.execute_sql(f"alter table {target} alter column {_quoted(column)} set not null")
    logger.info("transform: published %s from %s to %s", ", ".join(tables), audit, published)
    return tables
