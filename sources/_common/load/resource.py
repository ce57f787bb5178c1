"""The loop every windowed resource runs: plan this load's windows per query from dlt state,
fetch them concurrently within the provider's limit, yield Arrow pages, then commit progress.

A fetched window's answer replaces the window: every stored row of the same query whose period
lies in the window is deleted and the window's rows are inserted, in one dlt merge
(`delete-insert` on the merge key (query, period)). So a row the provider revised away
disappears, and rows can never collide across runs, whatever keys the API returns. Periods of the
window that hold no row are reached with *tombstone* rows: one per day of the window, flagged in
the `_tombstone` column (dlt's `hard_delete`), which delete and are never inserted; the column
stays NULL in the warehouse.
"""

import functools
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Optional

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration
from metricsync.sources._common.errors import ApiError, BadAnswer
from metricsync.sources._common.load.arrow import BadValue, Converter, TypeDrift, concat, expand
from metricsync.sources._common.load.batch import Batch
from metricsync.sources._common.load.periods import WeekStartLearned
from metricsync.sources._common.load.prefetch import Prefetcher, unit_key
from metricsync.sources._common.load.progress import Chunk, QueryProgress, RunControl
from metricsync.sources._common.load.spool import Spool
from metricsync.sources._common.load.windows import Window, days

logger = logging.getLogger("metricsync.windows")

PlanFn = Callable[[dict, QueryProgress], list]
FetchFn = Callable[[tuple], list]


@configspec
class NoSettings(BaseConfiguration):
    """The settings of a resource function that takes no arguments (a source's resources: the
    source resolves the settings). Given to `dlt.resource` as its `spec`, dlt does not build a spec
    class from the function's signature each time the source is called (~1 ms a resource, paid
    per account by accounts loaded together)."""


TOMBSTONE = "_tombstone"
TOMBSTONE_KEY = "~window~"  # the other key columns of a tombstone row: never a real dimension value


@dataclass(frozen=True)
class WindowedTable:
    """A table whose rows are replaced window by window.

    `key` identifies a row (every dimension the API returns, so distinct rows never collide);
    `period` is the column holding the row's period start (a date) and `query` the column naming
    its query (None for a table with one implicit query)."""

    provider: str
    name: str
    key: tuple
    period: str = "period"
    query: Optional[str] = "query_name"
    types: Mapping[str, pa.DataType] = field(default_factory=dict)
    not_null: tuple = ()

    @property
    def merge_key(self) -> tuple:
        return tuple(c for c in (self.query, self.period) if c)

    def hints(self) -> dict:
        """`dlt.resource` arguments: delete-insert on the merge key, tombstones as hard deletes (the
        resource function takes no arguments: `NoSettings`)."""
        return {
            "name": self.name,
            "spec": NoSettings,
            "write_disposition": {"disposition": "merge", "strategy": "delete-insert"},
            "primary_key": self.key,
            "merge_key": self.merge_key,
            "columns": {TOMBSTONE: {"data_type": "bool", "hard_delete": True, "nullable": True}},
        }

    def tombstones(self, query_name: str, window: Window) -> list[dict]:
        """One row per day of `window` that deletes the stored rows of that day and query."""
        filler = {c: TOMBSTONE_KEY for c in (*self.key, *self.not_null) if c not in self.merge_key}
        query = {self.query: query_name} if self.query else {}
        return [{**filler, **query, self.period: day, TOMBSTONE: True} for day in days(window.start, window.last_day)]

    def check_unique(self, rows: list[dict], query_name: str) -> None:
        """Fail loudly when the API returned two rows for one key: loading either would be a guess."""
        counts = Counter(tuple(row.get(c) for c in self.key) for row in rows)
        clashes = [k for k, n in counts.items() if n > 1]
        if clashes:
            shown = dict(zip(self.key, clashes[0]))
            raise ApiError(
                self.provider,
                f"query {query_name!r}",
                None,
                f"the API returned {counts[clashes[0]]} rows for the same key {shown} "
                f"({len(clashes)} such key(s) in one window)",
                hint="the response has a dimension metricsync does not key on; report it with this line",
            )

    def check_unique_table(self, rows: pa.Table, query_name: str) -> None:
        """`check_unique` for rows already in Arrow (the key columns are named as dlt names them):
        the keys sorted, then each compared with the next (a hash group-by of a 150k-row window
        takes ~90 MB for a moment; this, ~15 MB)."""
        if rows.num_rows < 2:  # an empty answer has no columns; one row cannot clash
            return
        keys = expand(rows.select(list(self.key))).combine_chunks()
        ordered = keys.take(pc.sort_indices(keys, sort_keys=[(name, "ascending") for name in self.key]))
        same = None
        for name in self.key:
            column = ordered.column(name)
            later, earlier = column.slice(1), column.slice(0, len(column) - 1)
            equal = pc.or_(
                pc.fill_null(pc.equal(later, earlier), False), pc.and_(pc.is_null(later), pc.is_null(earlier))
            )
            same = equal if same is None else pc.and_(same, equal)
        if pc.any(same).as_py():
            self.check_unique(keys.to_pylist(), query_name)  # a clash: name it


def windowed_rows(
    table: WindowedTable,
    queries: list[dict],
    plan: PlanFn,
    fetch: FetchFn,
    control: RunControl,
    max_workers: int,
) -> Iterator[Optional[pa.Table]]:
    """One load of a windowed resource: plan its windows, take them, commit their progress.

    `plan(query, progress)` picks a query's windows for this load (via `progress.next_windows`);
    `fetch((query, window))` returns that window's rows (a list of dicts, or Arrow pages built
    with `control.converters[table.name]` in a `Spool`). Each window becomes one Arrow table, its
    rows plus its tombstones, handed to dlt in plan order in items of about `BATCH_ROWS` rows
    (batch.py); the load ends early when its chunk is late or full (progress.py). State is written
    only for the windows this load yielded, at its end, so a failure never advances it past data
    that did not land; the next load's windows are then fetched (prefetch.py) while dlt loads."""
    load = plan_load(table, queries, plan, fetch, control, max_workers)
    if control.start_together:
        yield None  # dlt goes on to the next resource (it skips None), whose fetches then start too
    yield from load.take()
    load.commit()


def plan_load(
    table: WindowedTable, queries: list[dict], plan: PlanFn, fetch: FetchFn, control: RunControl, max_workers: int
) -> "TableLoad":
    """This load's windows per query, from dlt state, and their fetches started ahead."""
    suffix = control.state_suffix
    state = dlt.current.resource_state(table.name + suffix) if suffix else dlt.current.resource_state()
    progresses = [QueryProgress(state, table.name, query["name"], control) for query in queries]
    units = [(query, window) for query, progress in zip(queries, progresses) for window in plan(query, progress)]
    control.converters[table.name] = converter(table)
    control.tally.table_rows.setdefault(table.name, 0)
    prefetcher = control.prefetcher(table.name, lambda unit: window_table(table, unit, fetch, control), max_workers)
    prefetcher.expect(units)
    return TableLoad(table, control, queries, progresses, units, prefetcher)


def converter(table: WindowedTable) -> Converter:
    """Rows to Arrow in the fetching thread (a window held ahead is one table, not a dict per row),
    with this load's view of the destination's column types; columns named as dlt names them."""
    schema = dlt.current.source_schema()
    columns = schema.tables.get(table.name, {}).get("columns", {})
    return Converter(
        {**table.types, TOMBSTONE: pa.bool_()},
        (*table.key, *table.not_null),
        {name: column.get("data_type") for name, column in columns.items()},
        functools.lru_cache(maxsize=None)(schema.naming.normalize_identifier),
        compact=True,
        period=table.period,
    )


class TableLoad:
    """The windows one load of a resource takes, in plan order, and what it took of each query."""

    def __init__(
        self,
        table: WindowedTable,
        control: RunControl,
        queries: list[dict],
        progresses: list[QueryProgress],
        units: list[tuple],
        prefetcher: Prefetcher,
    ) -> None:
        self.table, self.control, self.queries, self.units = table, control, queries, units
        self.progresses, self.prefetcher = progresses, prefetcher
        self.by_name = {progress.query_name: progress for progress in progresses}
        self.taken = dict.fromkeys(self.by_name, 0)
        self.relearnt: set[str] = set()
        self.chunk = Chunk(control, control.checkpoint_seconds, table.name)
        self.batch = Batch()

    def take(self) -> Iterator[pa.Table]:
        """Each window's table as its fetch ends, gathered into batches, until the chunk ends."""
        for index, unit in enumerate(self.units):
            if unit[0]["name"] in self.relearnt:
                continue
            fetched = self.prefetcher.take(unit)
            if isinstance(fetched, WeekStartLearned):
                self.relearn(unit, fetched.week_start)
                continue
            yield from self.hand_over(unit, fetched)
            following = self.units[index + 1] if index + 1 < len(self.units) else None
            next_ready = following is not None and self.prefetcher.ready(following)
            # the next window's size, when it is fetched already (else the chunk assumes the largest yet)
            next_rows = (
                self.control.window_rows.get((self.table.name, unit_key(following)))
                if following and next_ready
                else None
            )
            expired = self.chunk.full(next_rows) or self.chunk.late(rest=len(self.units) - index - 1)
            if expired or self.batch.due(next_ready):
                yield from self.batch.flush()
            if expired:
                break
        yield from self.batch.flush()

    def hand_over(self, unit: tuple, fetched: Any) -> Iterator[pa.Table]:
        """A window held ahead compact (arrow.py), handed to dlt as plain columns a batch at a
        time, so a large window is never plain all at once."""
        name = unit[0]["name"]
        if isinstance(fetched, SpooledWindow):
            fetched = fetched.read()
        self.by_name[name].answered(unit[1], self.control.answered.pop((self.table.name, unit_key(unit))))
        for start in range(0, fetched.num_rows, self.batch.max_rows):
            self.batch.add(expand(fetched.slice(start, self.batch.max_rows)))
            if self.batch.full():
                yield from self.batch.flush()
        self.chunk.took(fetched.num_rows)
        self.taken[name] += 1

    def relearn(self, unit: tuple, week_start: str) -> None:
        """The query's answer labels weeks from another day: its windows are cut again, next load."""
        name = unit[0]["name"]
        logger.info(
            "%s: query %r: the API labels weeks from %s; windows are cut on that day from now on",
            self.table.provider,
            name,
            week_start.capitalize(),
        )
        self.by_name[name].learn_week_start(week_start, unit[1], self.taken[name])
        self.relearnt.add(name)

    def commit(self) -> None:
        """The windows not taken go back to the plan, the next load's are fetched ahead, and the
        progress of those taken is written to the resource state (it lands with this load)."""
        for progress in self.progresses:
            if progress.query_name not in self.relearnt:
                progress.keep(self.taken[progress.query_name])
        self.prefetcher.expect(
            [
                (query, window)
                for query, progress in zip(self.queries, self.progresses)
                for window in progress.upcoming()
            ]
        )
        for progress in self.progresses:
            progress.commit()


def window_table(table: WindowedTable, unit: tuple, fetch: FetchFn, control: RunControl) -> Any:
    """One window fetched, as the table its load yields: the rows, checked for clashing keys, and
    the window's tombstones; tallied for progress (the rows, not the tombstones). Or the
    `WeekStartLearned` its answer revealed (returned: the other windows still fetch)."""
    query, window = unit
    try:
        result = _window_table(table, query, window, fetch(unit), control)
    except WeekStartLearned as learned:
        return learned
    except TypeDrift as exc:  # a column changed type upstream: loading it either way would be a guess
        period = "" if exc.period is None else f" period {exc.period}"
        raise ApiError(
            table.provider,
            f"query {query['name']!r}{period}",
            200,
            f"table {table.name}: {exc}",
            hint="the API changed the column's type; report it with this line",
        ) from None
    except BadValue as exc:  # a value its column cannot hold exactly: nothing of the window loads
        raise BadAnswer(
            table.provider, f"query {query['name']!r}", exc.period, exc.column, exc.value, exc.problem
        ) from None
    control.window_rows[(table.name, unit_key(unit))] = result.num_rows
    return result


@dataclass(frozen=True)
class SpooledWindow:
    """A window whose rows wait on disk (`Spool`) until its load takes it, with its tombstones."""

    table: WindowedTable
    query_name: str
    rows: Spool
    tombstones: pa.Table

    @property
    def num_rows(self) -> int:
        return self.rows.num_rows + self.tombstones.num_rows

    @property
    def nbytes(self) -> int:
        return self.rows.nbytes

    def read(self) -> pa.Table:
        """The window's table: its rows read back, checked for clashing keys, and its tombstones."""
        rows = self.rows.read()
        self.table.check_unique_table(rows, self.query_name)
        return concat([rows, self.tombstones])


def _window_table(table: WindowedTable, query: dict, window: Window, fetched: Any, control: RunControl) -> Any:
    convert = control.converters[table.name]
    if isinstance(fetched, Spool):
        rows, result = (
            fetched.num_rows,
            SpooledWindow(table, query["name"], fetched, convert(table.tombstones(query["name"], window))),
        )
    else:
        table.check_unique(fetched, query["name"])
        rows, result = len(fetched), convert(fetched + table.tombstones(query["name"], window))
    control.tally.fetched(rows, table.name)
    control.answered[(table.name, unit_key((query, window)))] = rows
    return result
