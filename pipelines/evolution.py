"""Schema changes told, not silent: the tables and columns a run added to a provider's stored
schema under schema evolution (`schema_contract = "evolve"`), each logged once as a WARNING,
named in the closing line, recorded in the run history and alerted:

    2026-12-07 02:00:09 WARNING metricsync.runner: statsig: new column metrics.experimental_score (double) - ...
"""

import logging
from typing import Any, Optional

logger = logging.getLogger("metricsync.runner")


def stored_columns(pipeline: Any) -> Optional[dict]:
    """{table: {column: type}} of the data tables in the pipeline's schema; None before its first load."""
    if not pipeline.default_schema_name:
        return None
    tables = pipeline.default_schema.tables
    return {
        name: {
            column: spec.get("data_type") for column, spec in table.get("columns", {}).items() if spec.get("data_type")
        }
        for name, table in tables.items()
        if not name.startswith("_dlt")
    }


def changes(before: Optional[dict], after: Optional[dict]) -> list[dict]:
    """New tables (`column` None) and new columns of tables that existed, since `before` (none on a
    first load, where every table is new)."""
    if not before or after is None:
        return []
    found = []
    for table, columns in sorted(after.items()):
        if table not in before:
            if columns:
                found.append({"table": table, "column": None, "type": None})
            continue
        found.extend(
            {"table": table, "column": column, "type": kind}
            for column, kind in sorted(columns.items())
            if column not in before[table]
        )
    return found


def describe(change: dict) -> str:
    if change["column"] is None:
        return f"new table {change['table']}"
    return f"new column {change['table']}.{change['column']} ({change['type']})"


def tell(provider: str, known: list[dict], found: list[dict]) -> list[dict]:
    """Log each change of `found` not in `known` once; the changes so far."""
    for change in found:
        if change not in known:
            logger.warning(
                '%s: %s - the schema evolved (sources.%s.schema_contract = "freeze" refuses such changes)',
                provider,
                describe(change),
                provider,
            )
    return found
