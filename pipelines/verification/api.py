"""The API's answer for chosen windows, exactly as a load would write it.

The provider's own dlt source is built and its windowed resources are iterated without a
pipeline: the same planner, client (rate control, concurrency, retries), pages, row shaping,
Arrow conversion and keys as a load, but nothing is extracted or loaded, and the resource state
the iteration sees is an empty one that is dropped afterwards, so no state moves either.

    plans = Planner("whop", None, ["wallet_time_series"], None).plan({("wallet_time_series", "daily_all"): first})
    for resource, query, window, rows in answers("whop", None, {("wallet_time_series", "daily_all"): windows}):
        ...
"""

import copy
import datetime as dt
import itertools
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Optional

from dlt.common.configuration.container import Container
from dlt.common.pipeline import StateInjectableContext
from metricsync.accounts import Account
from metricsync.providers import source_factory
from metricsync.sources._common.load.progress import RunControl
from metricsync.sources._common.load.resource import TOMBSTONE
from metricsync.sources._common.load.windows import Window, utc_today

ALL_AT_ONCE = 10**9  # windows per load: one pass over every chosen window


@dataclass(frozen=True)
class TableKeys:
    """A windowed table's keys, as its resource declares them to dlt."""

    key: tuple  # primary key: identifies a row
    period: str  # the date column of the merge key
    query: Optional[str]  # the query column of the merge key (None: one implicit query)


@contextmanager
def _throwaway_state(stored: Optional[dict]) -> Iterator[None]:
    """A copy of the stored pipeline state for the iteration (what it learnt, e.g. a query's week
    start, without its backfills' progress), whatever pipeline this process ran last (dlt would
    otherwise start from the active pipeline's state); written to, then dropped."""
    state = copy.deepcopy(stored or {})
    for resource in state.get("sources", {}).values():
        for entry in resource.get("resources", {}).values():
            for query in (entry.get("queries") or {}).values():
                query.pop("backfills", None)
    with Container().injectable_context(StateInjectableContext(state=state)):
        yield


def _source(provider: str, account: Optional[Account], control: RunControl) -> Any:
    return source_factory(provider)(control=control, **(account.params if account else {}))


def table_keys(resource: Any) -> TableKeys:
    columns = resource.compute_table_schema().get("columns", {})
    key = tuple(name for name, c in columns.items() if c.get("primary_key"))
    # a windowed table's merge key is (query, period), or (period,) with one implicit query
    *query, period = [name for name, c in columns.items() if c.get("merge_key")]
    return TableKeys(key, period, query[0] if query else None)


class Planner:
    """The provider's source built for planning: its windowed tables' keys, and the windows a
    backfill from a given day to today would load, per query (no request is made)."""

    def __init__(
        self,
        provider: str,
        account: Optional[Account],
        resources: list[str],
        queries: Optional[set],
        state: Optional[dict] = None,
    ):
        today = utc_today()
        self.state = state
        self.control = RunControl(backfill=(today, today), queries=queries, plan_only={})
        source = _source(provider, account, self.control)
        # a windowed resource with no query configured is not in the source
        self.source = source.with_resources(*[r for r in resources if r in source.resources])
        self.keys = {name: table_keys(resource) for name, resource in self.source.selected_resources.items()}

    def plan(self, firsts: dict) -> dict:
        """(resource, query) -> windows in order, for a backfill of each query from its first
        day in `firsts` ((resource, query) -> date) to today."""
        groups: dict = {}
        for (resource, query), first in firsts.items():
            groups.setdefault((resource, first), set()).add(query)
        try:
            for (resource, first), queries in sorted(groups.items()):
                self.control.backfill, self.control.queries = (first, self.control.today), queries
                with _throwaway_state(self.state):
                    tables = iter(self.source.resources[resource])
                for _ in tables:
                    pass
        finally:
            self.control.close()
        assert self.control.plan_only is not None  # set in __init__
        return self.control.plan_only


def answers(provider: str, account: Optional[Account], windows: dict, state: Optional[dict] = None) -> Iterator[tuple]:
    """`(resource, query, window, rows)` for every window of `windows` ((resource, query) ->
    windows), fetched concurrently within the provider's limits, in as many passes as a load
    would take (rows bound per load, a week start learnt); rows as dicts, columns named as in
    the warehouse, without tombstones. Adjacent windows may come back as one."""
    first = min(window.start for chosen in windows.values() for window in chosen)
    # as a backfill of those windows (start_date is not needed); the plans are given, whole
    control = RunControl(
        backfill=(first, utc_today()), queries={query for _resource, query in windows}, windows_per_load=ALL_AT_ONCE
    )
    control.plans = {key: list(chosen) for key, chosen in windows.items()}
    resources = sorted({resource for resource, _query in windows})
    try:
        while resources:
            source = _source(provider, account, control).with_resources(*resources)
            control.checkpoint_seconds = float("inf")  # no time limit: the row bound still makes passes
            for name, resource in source.selected_resources.items():
                keys = table_keys(resource)
                with _throwaway_state(state):  # dlt takes the state when the iteration opens
                    tables = iter(resource)
                # a window's rows may span items (a large one is sliced): split the whole stream
                rows = itertools.chain.from_iterable(table.to_pylist() for table in tables)
                for query, window, window_rows in _segments(rows, keys, name):
                    yield name, query, window, window_rows
            resources, control.pending = sorted(control.pending), set()
    finally:
        control.close()


def _segments(rows: Iterable[dict], keys: TableKeys, resource: str) -> Iterator[tuple]:
    """Split the rows a resource yielded (windows in turn, each as its rows then its tombstones,
    one per day, batched and sliced into items at will) into `(query, window, rows)`: a window ends where a row follows its tombstones or
    the next tombstone is not its next day."""
    data: list = []
    marks: list = []
    for row in rows:
        if row.get(TOMBSTONE):
            if marks and (
                _query(marks[-1], keys, resource) != _query(row, keys, resource)
                or row[keys.period] != marks[-1][keys.period] + dt.timedelta(days=1)
            ):
                yield _segment(data, marks, keys, resource)
                data, marks = [], []
            marks.append(row)
            continue
        if marks:
            yield _segment(data, marks, keys, resource)
            data, marks = [], []
        data.append(row)
    if marks:
        yield _segment(data, marks, keys, resource)


def _query(row: dict, keys: TableKeys, resource: str) -> str:
    return row[keys.query] if keys.query else resource


def _segment(data: list, marks: list, keys: TableKeys, resource: str) -> tuple:
    window = Window(marks[0][keys.period], marks[-1][keys.period] + dt.timedelta(days=1))
    return _query(marks[0], keys, resource), window, data
