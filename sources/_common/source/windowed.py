"""The setup every windowed source shares: its `RunControl`, its API key, its first day, its
client and its windowed resources' loop, from the shared settings (`shared`).

    setup = WindowedSetup("statsig", shared, control)        # the key checked, the checkpoint set
    first_day = setup.first_day(loads=True)                  # start_date, required for a nightly run
    client = setup.client(base_url, {"STATSIG-API-KEY": setup.key}, permission_hint=...)
    plan = setup.planner(lambda query: "day", {"day": 1})
    yield from setup.rows(VALUES, queries, plan, fetch)      # in the dlt resource
"""

import datetime as dt
from typing import Any, Callable, Iterator, Mapping, Optional

import pyarrow as pa
from metricsync.sources._common.config.shared import SharedValues
from metricsync.sources._common.config.values import require_key, start_date
from metricsync.sources._common.http.client import ApiClient, build_client
from metricsync.sources._common.load.progress import QueryProgress, RunControl
from metricsync.sources._common.load.resource import FetchFn, PlanFn, WindowedTable, windowed_rows
from metricsync.sources._common.load.windows import Window


class WindowedSetup:
    """One windowed source's shared setup: the run's control (a fresh one for a source called
    alone), its API key (required), and the checkpoint its loads keep."""

    def __init__(self, provider: str, shared: SharedValues, control: Optional[RunControl]) -> None:
        self.provider, self.shared = provider, shared
        self.control = control or RunControl()
        self.key = require_key(provider, shared.api_key)
        self.control.checkpoint_seconds = shared.checkpoint_seconds
        self.start: Optional[dt.date] = None

    def first_day(self, loads: bool) -> Optional[dt.date]:
        """`start_date`, checked; required when a nightly run has queries to `load` (a backfill
        names its own days)."""
        self.start = start_date(
            self.provider, self.shared.start_date, self.control.today, required=loads and not self.control.backfill
        )
        return self.start

    def client(self, base_url: str, auth: Mapping[str, str], **options: Any) -> ApiClient:
        """The provider's client, the key as the secret to redact; `options` as `build_client`'s."""
        if self.control.stats is not None:
            options["stats"] = self.control.stats
        return build_client(self.provider, base_url, auth, secret=self.key, **options, **self.shared.client)

    def planner(self, granularity_of: Callable[[dict], str], max_periods: Mapping[str, int]) -> PlanFn:
        """A query's windows for this load: from the first day, the lookback and the windows per
        load of the shared settings, at the query's granularity (`granularity_of(query)`), each
        window at most `max_periods[granularity]` periods long."""

        def plan(query: dict, progress: QueryProgress) -> list[Window]:
            granularity = granularity_of(query)
            return progress.next_windows(
                self.start,  # type: ignore[arg-type]  # set whenever a query is planned (None: nothing to plan)
                self.shared.lookback_days,
                granularity,
                max_periods[granularity],
                self.shared.windows_per_load,
            )

        return plan

    def rows(
        self, table: WindowedTable, queries: list[dict], plan: PlanFn, fetch: FetchFn
    ) -> Iterator[Optional[pa.Table]]:
        """`windowed_rows` for one resource, fetching up to `max_concurrency` windows at once."""
        return windowed_rows(table, queries, plan, fetch, self.control, self.shared.max_concurrency)
