"""The loop every windowed resource runs: plan this load's windows per query from dlt state,
fetch them concurrently within the provider's limit (ahead of time, see prefetch.py), yield Arrow
pages until the chunk is complete or its time is up, then commit progress."""

import functools
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

import dlt
import pyarrow as pa

from .arrow import to_arrow
from .progress import Chunk, QueryProgress, RunControl
from .windows import Window

PlanFn = Callable[[dict, QueryProgress], list]
FetchFn = Callable[[tuple], list]


def windowed_rows(
    resource: str,
    queries: list[dict],
    plan: PlanFn,
    fetch: FetchFn,
    control: RunControl,
    max_workers: int,
    types: Optional[Mapping[str, pa.DataType]] = None,
    key: Sequence[str] = (),
) -> Iterator[pa.Table]:
    """`plan(query, progress)` picks a query's windows for this load (via `progress.next_windows`);
    `fetch((query, window))` returns that window's rows; `key` is the table's merge key. Windows
    are yielded in plan order; once `control.checkpoint_seconds` have passed the load stops after the
    window at hand and the rest go back to the plan. State is only written for the windows this
    load yielded, at its end, so a failure never advances it past data that did not land; the
    next load's windows are then fetched while dlt loads this one.
    Columns are named as dlt names them, and keep the type they have in the destination."""
    state = dlt.current.resource_state()
    schema = dlt.current.source_schema()
    existing = {name: column.get("data_type") for name, column in
                schema.tables.get(resource, {}).get("columns", {}).items()}
    normalize = functools.lru_cache(maxsize=None)(schema.naming.normalize_identifier)
    progresses, units = [], []
    for query in queries:
        progress = QueryProgress(state, resource, query["name"], control)
        progresses.append(progress)
        units.extend((query, window) for window in plan(query, progress))
    chunk = Chunk(control, control.checkpoint_seconds)
    # rows become Arrow in the fetching thread (a window held ahead is one table, not a dict per
    # row), with this load's view of the destination's column types
    control.converters[resource] = functools.partial(to_arrow, types=types, required=key, existing=existing,
                                                     normalize=normalize)
    prefetcher = control.prefetcher(resource, lambda unit: as_table(fetch(unit), control.converters[resource]),
                                    max_workers)
    prefetcher.expect(units)
    taken = dict.fromkeys((p.query_name for p in progresses), 0)
    for unit in units:
        table = prefetcher.take(unit)
        if table.num_rows:
            yield table
        taken[unit[0]["name"]] += 1
        if chunk.expired():
            break
    for progress in progresses:
        progress.keep(taken[progress.query_name])
    prefetcher.expect([(query, window) for query, progress in zip(queries, progresses)
                       for window in progress.upcoming()])
    for progress in progresses:
        progress.commit()


def as_table(rows: Any, to_arrow: Callable[[list], pa.Table]) -> pa.Table:
    """A fetch's result as one table: its rows converted, or the table it built page by page."""
    return rows if isinstance(rows, pa.Table) else to_arrow(rows)


def concat_tables(tables: list) -> pa.Table:
    """Pages converted one by one (`control.converters[resource]`), as one table; pages with no
    rows have no columns and are left out."""
    tables = [t for t in tables if t.num_rows]
    return pa.concat_tables(tables, promote_options="permissive") if tables else pa.table({})


def in_window(day: Any, window: Window) -> bool:
    return window.start <= day < window.end
