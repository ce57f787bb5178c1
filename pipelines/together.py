"""A group's accounts as one dlt resource per table (batched.py). dlt does a fixed amount of work
per resource (a pipe, its steps) and per item it extracts (for an Arrow item a table schema
computed and merged), so fifty accounts' resources of a table, each yielding its own small tables,
cost more than their rows. Here each table's resource drives every account's generator in turn:
their fetches are all started first (the windowed ones plan and start fetching, then yield None,
`RunControl.start_together`), then each account's items are given its `account` column and handed
to dlt gathered into large items (`Batch`: Arrow tables as one, rows as one list).

Each account keeps its own `RunControl` (its plan, its tally), its own resource state (kept under
`<resource>__<account>` through `RunControl.state_suffix`, the key batched.py reads and writes as
that account's own pipeline's) and its own failure: an exception its generator raises carries the
account's name (`blamed`), so the group names that account and loads the others again.
"""

from typing import Any, Iterator, Optional

import dlt
import pyarrow as pa
from metricsync.sources._common.load.batch import Batch

from .accounts import with_account

BLAME = "metricsync_account"  # the attribute an account's exception carries its name in
KEYS = ("primary_key", "merge_key")
_END = object()


def blamed(exc: BaseException) -> Optional[str]:
    """The account whose generator raised `exc` (None: not an account's)."""
    return getattr(exc, BLAME, None)


def table_resource(template: Any, parts: list[tuple[str, Any]]) -> Any:
    """One resource for a table, with the hints of `template` (an account's resource of it, scoped
    to accounts and to the destination, batched.py) and the items of every `(account, resource)`
    in `parts`, in their order."""
    table = template.compute_table_schema()
    columns = table.get("columns", {})
    hints = {kind: [name for name, column in columns.items() if column.get(kind)] for kind in KEYS}
    return dlt.resource(
        _items(parts),
        name=template.name,
        table_name=template.table_name,
        write_disposition=template.write_disposition,
        columns=columns,
        file_format=table.get("file_format"),
        **{kind: names for kind, names in hints.items() if names},
    )


def _items(parts: list[tuple[str, Any]]) -> Iterator[Any]:
    """Every account's generator started (its first item held), then each drained in turn."""
    started = []
    for account, resource in parts:
        generator = _call(account, resource)
        started.append((account, generator, _next(account, generator)))
    yield None  # dlt goes on to the next resource (it skips None), whose requests then start too
    gathered = _Gathered()
    for account, generator, item in started:
        while item is not _END:
            yield from gathered.add(account, item)
            item = _next(account, generator)
    yield from gathered.rest()


class _Gathered:
    """The accounts' items held until they make a large one: Arrow tables (`Batch`), row lists, and
    dlt's marker of an empty snapshot (handed over only when no account had a row)."""

    def __init__(self) -> None:
        self.batch = Batch()
        self.rows: list[dict] = []
        self.marker: Any = None
        self.handed = False

    def add(self, account: str, item: Any) -> Iterator[Any]:
        if isinstance(item, pa.RecordBatch):
            item = pa.Table.from_batches([item])
        if isinstance(item, pa.Table):
            self.batch.add(with_account(account, item))
            if self.batch.full():
                yield from self._hand(self.batch.flush())
        elif isinstance(item, list):
            self.rows += [with_account(account, row) for row in item]
            if len(self.rows) >= self.batch.max_rows:
                yield from self._hand([self.rows])
                self.rows = []
        elif item is not None:
            self.marker = item

    def rest(self) -> Iterator[Any]:
        yield from self._hand(self.batch.flush())
        yield from self._hand([self.rows] if self.rows else [])
        if not self.handed and self.marker is not None:
            yield self.marker

    def _hand(self, items: list) -> Iterator[Any]:
        for item in items:
            self.handed = True
            yield item


def _call(account: str, resource: Any) -> Any:
    """The account's resource's data: its function called as dlt would (a resource of a source
    takes no arguments), or the iterator it holds."""
    data = resource._pipe.gen  # dlt's pipe holds the resource's function until it is extracted
    try:
        return data() if callable(data) else iter(data)
    except Exception as exc:
        _blame(exc, account)
        raise


def _next(account: str, generator: Any) -> Any:
    try:
        return next(generator, _END)
    except Exception as exc:
        _blame(exc, account)
        raise


def _blame(exc: Exception, account: str) -> None:
    try:
        setattr(exc, BLAME, account)
    except AttributeError:  # an exception that takes no attributes: the group's failure, loaded one by one
        pass
