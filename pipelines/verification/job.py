"""One `verify` of one provider's pipeline (one account's, with accounts): plan the windows,
compare the API's answer with the stored rows, and with `--repair` reload the drifted windows
through the runner (same lock, delete-insert and state rules as `run`), then check them again.

    job = Verification("whop", "duckdb", None, Selection(), Scope(sample=20, seed=1))
    job.prepare()          # windows to fetch (no request yet)
    job.check()            # list of QueryDrift; job.clean
    job.repair()           # reload + re-check; job.clean again
"""

import datetime as dt
import logging
from typing import Any, Optional

from pipelines.accounts import Account
from pipelines.catalog import WINDOWED, Selection
from pipelines.verification import api
from pipelines.verification.choose import Scope, cap, choose
from pipelines.verification.compare import QueryDrift
from pipelines.verification.stored import StoredRows, record
from sources._common.http.client import request_stats

logger = logging.getLogger("metricsync.verify")


class Verification:
    def __init__(self, provider: str, destination: str, account: Optional[Account], selection: Selection,
                 scope: Scope, pipelines_dir: Optional[str] = None) -> None:
        self.provider, self.destination, self.account = provider, destination, account
        self.selection, self.scope, self.pipelines_dir = selection, scope, pipelines_dir
        self.windows: dict = {}  # (resource, query) -> windows to check
        self.keys: dict = {}  # resource -> api.TableKeys
        self.spans: dict = {}  # (resource, query) -> (first, last) stored period
        self.state: Optional[dict] = None  # the stored pipeline state (what loads learnt)
        self.candidates = 0  # windows chosen before --max-requests
        self.drifts: list[QueryDrift] = []
        self.found: list[QueryDrift] = []  # what the first check found (kept through a repair)
        self.requests = 0
        self.repair_loads = 0

    @property
    def label(self) -> str:
        return f"{self.provider} (account {self.account.name})" if self.account else self.provider

    @property
    def account_name(self) -> Optional[str]:
        return self.account.name if self.account else None

    @property
    def planned(self) -> int:
        return sum(len(w) for w in self.windows.values())

    @property
    def clean(self) -> bool:
        return all(d.clean for d in self.drifts)

    def _warehouse(self) -> Any:
        from pipelines.warehouse.reads import Warehouse

        return Warehouse(self.destination, self.provider)

    def prepare(self) -> int:
        """Pick the windows to check (no API request); returns how many."""
        resources = [r for r in (self.selection.resources or WINDOWED[self.provider]) if r in WINDOWED[self.provider]]
        if not resources:
            return 0
        with self._warehouse() as warehouse:
            self.state = warehouse.state() if warehouse.has_dataset() else None
        planner = api.Planner(self.provider, self.account, resources, self.selection.queries, self.state)
        self.keys = planner.keys
        with self._warehouse() as warehouse:
            stored = StoredRows(warehouse, self.account_name)
            spans = {(r, q): span for r in self.keys for q, span in stored.spans(r, self.keys[r]).items()}
        selected = self.selection.queries
        spans = {key: span for key, span in spans.items() if selected is None or key[1] in selected}
        # each query planned from its own first stored period, as its loads were
        firsts = {key: max(first, self.scope.date_from or first) for key, (first, _last) in spans.items()}
        plans = planner.plan(firsts)
        self.spans = spans
        picked = choose(plans, spans, self.scope, f"{self.provider}|{self.account_name}")
        self.candidates = sum(len(w) for w in picked.values())
        self.windows = cap(picked, self.scope.max_requests)
        logger.info("%s: %d windows of %d queries to verify", self.label, self.planned, len(self.windows))
        return self.planned

    def check(self, windows: Optional[dict] = None, repaired: bool = False) -> list[QueryDrift]:
        """Fetch `windows` (default: the prepared ones) and compare them with the stored rows;
        the result is recorded for `status`."""
        windows = self.windows if windows is None else windows
        drifts = {key: QueryDrift(self.provider, self.account_name, *key) for key in windows}
        stats = request_stats(self.provider)
        stats.reset()
        with self._warehouse() as warehouse:
            stored = StoredRows(warehouse, self.account_name)
            answers = api.answers(self.provider, self.account, windows, self.state) if windows else ()
            for resource, query, window, rows in answers:
                keys = self.keys[resource]  # compared window by window, as the answers come
                drifts[(resource, query)].add_window(window, rows, stored.rows(resource, keys, query, window),
                                                     keys.key, keys.period, self.spans[(resource, query)][1])
            self.requests += stats.requests
            for key, drift in drifts.items():
                drift.windows = list(windows[key])  # as planned (adjacent ones may have come back as one)
            self.drifts = sorted(drifts.values(), key=lambda d: (d.resource, d.query))
            if not repaired:
                self.found = self.drifts
            record(warehouse, self.drifts, repaired=repaired, when=_now())
        return self.drifts

    def repair(self) -> list:
        """Reload every drifted window through the runner, as backfills of the drifted queries
        (adjacent windows joined; queries drifted over the same days share one backfill), then
        check those windows again. Returns the runner's results; stops at the first failed load."""
        from pipelines.runner import run_provider

        drifted = {(d.resource, d.query): sorted(d.drifted_windows) for d in self.drifts if not d.clean}
        by_range: dict = {}
        for (resource, query), windows in drifted.items():
            for days in _ranges(windows):
                by_range.setdefault(days, set()).add((resource, query))
        results = []
        for days, pairs in sorted(by_range.items()):
            resources = sorted({resource for resource, _query in pairs})
            queries = {query for resource, query in pairs if self.keys[resource].query} or None
            result = run_provider(self.provider, self.destination, days, self.pipelines_dir,
                                  selection=Selection(resources, queries), account=self.account)
            results.append(result)
            self.repair_loads += result.loads
            if not result.ok:
                return results
        self.check(drifted, repaired=True)
        return results


def _ranges(windows: list) -> list[tuple[dt.date, dt.date]]:
    """Adjacent windows joined: [(first day, last day), ...]."""
    ranges: list = []
    for window in windows:
        if ranges and ranges[-1][1] + dt.timedelta(days=1) == window.start:
            ranges[-1] = (ranges[-1][0], window.last_day)
        else:
            ranges.append((window.start, window.last_day))
    return ranges


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
