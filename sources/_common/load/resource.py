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
from metricsync.sources._common.errors import ApiError, BadAnswer
from metricsync.sources._common.load.arrow import BadValue, Converter, TypeDrift, concat, expand
from metricsync.sources._common.load.batch import Batch
from metricsync.sources._common.load.prefetch import unit_key
from metricsync.sources._common.load.progress import Chunk, QueryProgress, RunControl
from metricsync.sources._common.load.spool import Spool
from metricsync.sources._common.load.windows import Window, days, period_start

logger = logging.getLogger("metricsync.windows")

PlanFn = Callable[[dict, QueryProgress], list]
FetchFn = Callable[[tuple], list]

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
        """`dlt.resource` arguments: delete-insert on the merge key, tombstones as hard deletes."""
        return {
            "name": self.name,
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


class WeekStartLearned(Exception):
    """A window's answer labels weeks from another day than the windows were cut on: the answer
    is not loaded, and the query's windows are cut on `week_start` from then on."""

    def __init__(self, week_start: str) -> None:
        super().__init__(week_start)
        self.week_start = week_start


WEEK_STARTS = {0: "monday", 6: "sunday"}


class PeriodCheck:
    """Sorts one window's rows by the period the API labelled them with.

    A row outside the window is dropped (it belongs to another request's answer); a row whose
    label is not the start of a period of the requested granularity (e.g. weeks labelled from
    Sunday) is kept under the API's own label, never moved onto an aligned period it would
    overwrite. Both are counted; rows outside the window (a provider's inclusive `to`, learned
    once) are logged once per query and process at INFO, misaligned ones per window as a warning."""

    told: set = set()  # (provider, query) whose rows outside the window were logged

    @classmethod
    def forget(cls, provider: str) -> None:
        """A new run of `provider` logs what it learns again (the runner calls it)."""
        cls.told = {told for told in cls.told if told[0] != provider}

    def __init__(self, provider: str, query_name: str, window: Window, granularity: str):
        self.provider, self.query_name, self.window, self.granularity = provider, query_name, window, granularity
        self.outside = self.misaligned = 0
        self.verdicts: dict = {}

    def keep(self, day: Any) -> bool:
        verdict = self.verdicts.get(day)
        if verdict is None:  # each day is judged once per window (a page repeats it on every row)
            verdict = self.verdicts[day] = self.judge(day)
        if verdict == "outside":
            self.outside += 1
            return False
        if verdict == "misaligned":
            self.misaligned += 1
        return True

    def judge(self, day: Any) -> str:
        """ "outside" the window, "misaligned" or "kept"."""
        if not in_window(day, self.window):
            return "outside"
        if self.granularity in ("week", "weekly"):
            self.check_week(day)
            return "kept"
        return "kept" if period_start(day, self.granularity) == day else "misaligned"

    def check_week(self, day: Any) -> None:
        """Weeks as the API labels them: from Monday or from Sunday (windows are cut on the day
        learned, `WeekStartLearned` when it differs); any other label fails the query."""
        reading = WEEK_STARTS.get(day.weekday())
        if reading is None:
            raise ApiError(
                self.provider,
                f"query {self.query_name!r}",
                200,
                f"a week is labelled {day} (a {day:%A}), neither a Monday nor a Sunday",
                hint="report it with this line",
            )
        if reading != WEEK_STARTS[self.window.start.weekday()]:
            raise WeekStartLearned(reading)

    def log(self) -> None:
        if self.outside and (self.provider, self.query_name) not in PeriodCheck.told:
            PeriodCheck.told.add((self.provider, self.query_name))
            logger.info(
                "%s: query %r: dropped %d row(s) dated outside the requested window %s (logged once)",
                self.provider,
                self.query_name,
                self.outside,
                self.window,
            )
        if self.misaligned:
            logger.warning(
                "%s: query %r: %d row(s) in window %s are dated off the %s boundary; kept under the API's own date",
                self.provider,
                self.query_name,
                self.misaligned,
                self.window,
                self.granularity,
            )


def windowed_rows(
    table: WindowedTable,
    queries: list[dict],
    plan: PlanFn,
    fetch: FetchFn,
    control: RunControl,
    max_workers: int,
) -> Iterator[pa.Table]:
    """`plan(query, progress)` picks a query's windows for this load (via `progress.next_windows`);
    `fetch((query, window))` returns that window's rows (a list of dicts, or Arrow pages built
    with `control.converters[table.name]` in a `Spool`, read back when the load takes the window).
    Each window becomes one Arrow table, its rows plus its tombstones, held compact (text repeated
    down a page stored once, arrow.py) until the load takes it, in plan order; those tables reach
    dlt as plain columns in items of about `BATCH_ROWS` rows, small windows gathered, large ones
    sliced (see batch.py); once `control.checkpoint_seconds` have passed (or
    another window would take the load past `control.load_rows` rows) the load stops after the
    window at hand and the rest go back to the plan. State is only written for the windows this
    load yielded, at its end, so a failure never advances it past data that did not land; the next load's windows are then
    fetched (see prefetch.py) while dlt loads this one. Columns are named as dlt names them, and
    keep the type they have in the destination."""
    state = dlt.current.resource_state()
    schema = dlt.current.source_schema()
    existing = {
        name: column.get("data_type") for name, column in schema.tables.get(table.name, {}).get("columns", {}).items()
    }
    normalize = functools.lru_cache(maxsize=None)(schema.naming.normalize_identifier)
    progresses: list[QueryProgress] = []
    units: list = []
    for query in queries:
        progress = QueryProgress(state, table.name, query["name"], control)
        progresses.append(progress)
        units.extend((query, window) for window in plan(query, progress))
    chunk = Chunk(control, control.checkpoint_seconds, table.name)
    # rows become Arrow in the fetching thread (a window held ahead is one table, not a dict per
    # row), with this load's view of the destination's column types
    control.converters[table.name] = Converter(
        {**table.types, TOMBSTONE: pa.bool_()},
        (*table.key, *table.not_null),
        existing,
        normalize,
        compact=True,
        period=table.period,
    )
    control.tally.table_rows.setdefault(table.name, 0)
    prefetcher = control.prefetcher(table.name, lambda unit: window_table(table, unit, fetch, control), max_workers)
    prefetcher.expect(units)
    taken = dict.fromkeys((p.query_name for p in progresses), 0)
    by_name = {p.query_name: p for p in progresses}
    batch = Batch()
    relearnt: set = set()
    for index, unit in enumerate(units):
        name = unit[0]["name"]
        if name in relearnt:
            continue
        fetched = prefetcher.take(unit)
        if isinstance(fetched, WeekStartLearned):
            logger.info(
                "%s: query %r: the API labels weeks from %s; windows are cut on that day from now on",
                table.provider,
                name,
                fetched.week_start.capitalize(),
            )
            by_name[name].learn_week_start(fetched.week_start, unit[1], taken[name])
            relearnt.add(name)
            continue
        if isinstance(fetched, SpooledWindow):
            fetched = fetched.read()
        by_name[name].answered(unit[1], control.answered.pop((table.name, unit_key(unit))))
        # held ahead compact (arrow.py); handed to dlt as plain columns a batch at a time, so a large
        # window is never plain all at once
        for start in range(0, fetched.num_rows, batch.max_rows):
            batch.add(expand(fetched.slice(start, batch.max_rows)))
            if batch.full():
                yield from batch.flush()
        chunk.took(fetched.num_rows)
        taken[name] += 1
        next_ready = index + 1 < len(units) and prefetcher.ready(units[index + 1])
        # the next window's size, when it is fetched already (else the chunk assumes the largest yet)
        next_rows = control.window_rows.get((table.name, unit_key(units[index + 1]))) if next_ready else None
        expired = chunk.full(next_rows) or chunk.late(rest=len(units) - index - 1)
        if expired or batch.due(next_ready):
            yield from batch.flush()
        if expired:
            break
    yield from batch.flush()
    for progress in progresses:
        if progress.query_name not in relearnt:
            progress.keep(taken[progress.query_name])
    prefetcher.expect(
        [(query, window) for query, progress in zip(queries, progresses) for window in progress.upcoming()]
    )
    for progress in progresses:
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


def in_window(day: Any, window: Window) -> bool:
    return window.start <= day < window.end
