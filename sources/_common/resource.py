"""The loop every windowed resource runs: plan this load's windows per query from dlt state,
fetch them concurrently within the provider's limit, yield Arrow pages, then commit progress."""

import functools
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

import dlt
import pyarrow as pa

from .arrow import to_arrow
from .concurrency import run_concurrently
from .progress import QueryProgress, RunControl
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
    `fetch((query, window))` returns that window's rows; `key` is the table's merge key. State is only written once every window
    of the load has been fetched, so a failure never advances it past data that did not land.
    Columns are named as dlt names them, and keep the type they have in the destination."""
    state = dlt.current.resource_state()
    fetch = control.tally.counting(fetch)  # windows and rows fetched, for progress
    schema = dlt.current.source_schema()
    existing = {name: column.get("data_type") for name, column in
                schema.tables.get(resource, {}).get("columns", {}).items()}
    normalize = functools.lru_cache(maxsize=None)(schema.naming.normalize_identifier)
    progresses, units = [], []
    for query in queries:
        progress = QueryProgress(state, resource, query["name"], control)
        progresses.append(progress)
        units.extend((query, window) for window in plan(query, progress))
    for _unit, rows in run_concurrently(fetch, units, max_workers):
        if rows:
            yield to_arrow(rows, types, key, existing, normalize)
    for progress in progresses:
        progress.commit()


def in_window(day: Any, window: Window) -> bool:
    return window.start <= day < window.end
