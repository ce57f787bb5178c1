"""Windows' Arrow tables gathered into fewer, larger items for dlt.

dlt does a fixed amount of work per item it extracts (hint validation, an Arrow schema merge), so
one small table per window costs more than the window's rows. `Batch` holds the tables of the
windows taken so far and hands them over as one table once it holds `max_rows` rows, or, while
the next window is still being fetched, once it has been held `max_seconds` (so dlt works while
the API answers). What a load writes is unchanged: the same rows and tombstones, only in fewer
items.

>>> import pyarrow as pa
>>> batch = Batch(max_rows=3, max_seconds=60, clock=lambda: 0.0)
>>> batch.add(pa.table({"a": [1, 2]})); batch.due(next_ready=True)
False
>>> batch.add(pa.table({"a": [3]})); [t.num_rows for t in batch.flush()]
[3]
"""

import time
from typing import Callable, Optional

import pyarrow as pa

BATCH_ROWS = 50_000  # rows per item handed to dlt at most (before the window that crosses it)
BATCH_SECONDS = 0.5  # held at most this long while the next window is still on its way


class Batch:
    """The tables taken and not yet handed to dlt, with their row count and age."""

    def __init__(
        self,
        max_rows: Optional[int] = None,
        max_seconds: float = BATCH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock, self.max_seconds = clock, max_seconds
        self.max_rows = BATCH_ROWS if max_rows is None else max_rows  # read when made (a test lowers it)
        self.tables: list[pa.Table] = []
        self.rows = 0
        self.began = 0.0

    def add(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        if not self.tables:
            self.began = self.clock()
        self.tables.append(table)
        self.rows += table.num_rows

    def full(self) -> bool:
        return self.rows >= self.max_rows

    def due(self, next_ready: bool) -> bool:
        """Hand over now: the batch is full, or the next window is not fetched yet and the batch
        has waited long enough."""
        if not self.tables:
            return False
        if self.full():
            return True
        return not next_ready and self.clock() - self.began >= self.max_seconds

    def flush(self) -> list[pa.Table]:
        """The held tables as one (columns missing from a table are null there), or as they were
        when their column types differ (dlt then reconciles them as it always has)."""
        tables, self.tables, self.rows = self.tables, [], 0
        if len(tables) < 2:
            return tables
        try:
            return [pa.concat_tables(tables, promote_options="default")]
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return tables
