"""How every source loads definitions (metric catalogs, schemas): complete snapshots merged with
dlt's scd2 strategy, so the current row has `_dlt_valid_to IS NULL`, a changed definition keeps its
old version, and one deleted upstream is closed.

They load as INSERTs, not the runner's Postgres CSV: COPY reads an empty string in a nullable
column as NULL, and definitions hold empty strings (`"description": ""`) that must stay. The
tables are small.
"""

from typing import Any, Iterable, Iterator, Mapping, Optional

import dlt
from metricsync.sources._common.load.answers import definition_rows

SCD2 = {"disposition": "merge", "strategy": "scd2"}
DEFINITION_FORMAT = "insert_values"


def snapshot(batches: Iterable[list], provider: str, table: str, types: Optional[Mapping] = None) -> Iterator[Any]:
    """Yield every batch of rows, each checked (`answers.definition_rows`: a value that cannot load
    exactly, or as its declared `types`, fails the run before anything of it loads); an empty snapshot still reaches the
    destination (an empty table job), so that the merge closes every current row."""
    empty = True
    for rows in batches:
        if definition_rows(rows, provider, table, types):
            empty = False
            yield rows
    if empty:
        yield dlt.mark.materialize_table_schema()
